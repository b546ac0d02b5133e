"""manage.py build_tfidf."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from recommendations.models import ModelVersion

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("build_tfidf", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_builds_activates_and_prints_stats(catalog):
    out, err = run()
    version = ModelVersion.objects.get()
    assert version.is_active and version.triggered_by == "command:build_tfidf"
    assert f"Model version {version.pk} ready and active" in out
    assert "movies         12" in out
    assert f"vocabulary     {version.vocabulary_size}" in out
    assert "min_df used    2" in out
    assert "Fitting TF-IDF" in err  # the progress bar


def test_no_activate_and_vectorizer_options(catalog):
    run()
    out, _ = run(
        "--no-activate",
        "--max-features",
        "20",
        "--min-df",
        "1",
        "--max-df",
        "0.9",
        "--ngram-max",
        "1",
        "--no-stop-words",
    )
    newest = ModelVersion.objects.latest()
    assert not newest.is_active and "ready." in out
    assert newest.vocabulary_size == 20
    assert newest.params == {
        "max_features": 20,
        "stop_words": None,
        "ngram_range": [1, 1],
        "min_df": 1,
        "max_df": 0.9,
        "norm": "l2",
        "min_vocabulary": 10,
    }


def test_small_catalog_reports_the_fallback(db):
    from recommendations.tests.catalog import make_movie

    make_movie("space", 1)
    make_movie("crime", 1)
    out, _ = run()
    assert "min_df used    1 (fell back from 2" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--max-df", "1.5"], "max_df"),
        (["--min-df", "0"], "min_df"),
        (["--ngram-max", "0"], "ngram_range"),
        (["--max-features", "-3"], "max_features"),
    ],
)
def test_bad_parameters_are_command_errors_and_change_nothing(catalog, args, message):
    with pytest.raises(CommandError, match=f"Bad vectorizer parameters: .*{message}"):
        run(*args)
    assert not ModelVersion.objects.exists()


def test_empty_catalog_is_a_command_error(db):
    with pytest.raises(CommandError, match="catalog is empty"):
        run()
    assert not ModelVersion.objects.active().exists()


def test_already_running_is_a_command_error(catalog):
    ModelVersion.objects.create(triggered_by="other", status="building")
    with pytest.raises(CommandError, match="already running"):
        run()


def test_prune_option(catalog, settings):
    settings.RECS_KEEP_VERSIONS = 0
    run()
    out, _ = run("--prune")
    assert "Pruned 1 old version(s)." in out
    assert ModelVersion.objects.count() == 1


def test_non_zero_exit_on_failure(db, tmp_path):
    """Through the real CLI: a failing build exits with a non-zero status."""
    import os
    import subprocess
    import sys

    from django.conf import settings as dj

    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}"}
    env["MODEL_DIR"] = str(tmp_path / "models")
    manage = str(dj.BASE_DIR / "manage.py")
    subprocess.run([sys.executable, manage, "migrate", "-v0"], env=env, check=True)
    proc = subprocess.run(
        [sys.executable, manage, "build_tfidf"], env=env, capture_output=True, text=True
    )
    assert proc.returncode != 0
    assert "catalog is empty" in proc.stderr


def test_tfidf_versions_lists_activates_and_prunes(catalog):
    from recommendations import services

    v1 = services.build_model(triggered_by="test")
    v2 = services.build_model(triggered_by="test")
    out = StringIO()
    call_command("tfidf_versions", "--activate", str(v1.pk), stdout=out)
    assert f"Version {v1.pk} is now active." in out.getvalue()
    assert f"* {v1.pk:>5}  ready" in out.getvalue()
    v1.refresh_from_db()
    assert v1.is_active
    with pytest.raises(CommandError, match="no model version 999"):
        call_command("tfidf_versions", "--activate", "999", stdout=StringIO())
    failed = ModelVersion.objects.create(triggered_by="x", status="failed")
    with pytest.raises(CommandError, match="only ready"):
        call_command("tfidf_versions", "--activate", str(failed.pk), stdout=StringIO())
    out = StringIO()
    call_command("tfidf_versions", "--prune", "0", stdout=out)
    assert "Pruned 2 version(s)." in out.getvalue()
    assert list(ModelVersion.objects.values_list("pk", flat=True)) == [v1.pk]
    assert not v2.artifact_dir.exists()


@pytest.mark.django_db
def test_build_tfidf_quiet_builds_without_a_progress_bar():
    """-v 0 disables the bar; the progress callback must not depend on it."""
    from tests.factories import MovieFactory

    for _ in range(5):
        MovieFactory()
    err = StringIO()
    call_command("build_tfidf", verbosity=0, stdout=StringIO(), stderr=err)
    assert ModelVersion.objects.get().is_active
    assert "Reading the catalog" not in err.getvalue()
