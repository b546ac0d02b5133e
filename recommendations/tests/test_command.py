"""manage.py build_tfidf and manage.py tfidf_versions."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

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
    ModelVersion.objects.create(triggered_by="other", status="running", heartbeat_at=timezone.now())
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
    from recommendations import builds

    v1 = builds.build_model(triggered_by="test")
    v2 = builds.build_model(triggered_by="test")
    out = StringIO()
    call_command("tfidf_versions", "--activate", str(v1.pk), stdout=out)
    assert f"Version {v1.pk} is now active." in out.getvalue()
    assert f"* {v1.pk:>5}  succeeded" in out.getvalue()
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


def test_tfidf_versions_marks_a_stuck_build_failed(catalog):
    stuck = ModelVersion.objects.create(
        triggered_by="killed", status="running", heartbeat_at=timezone.now()
    )
    with pytest.raises(CommandError, match="already running"):
        run()
    out = StringIO()
    call_command("tfidf_versions", "--mark-failed", str(stuck.pk), stdout=out)
    assert f"Version {stuck.pk} marked failed." in out.getvalue()
    stuck.refresh_from_db()
    assert stuck.status == "failed" and "tfidf_versions" in stuck.error
    with pytest.raises(CommandError, match="not queued or running"):
        call_command("tfidf_versions", "--mark-failed", str(stuck.pk), stdout=StringIO())
    with pytest.raises(CommandError, match="no model version 999"):
        call_command("tfidf_versions", "--mark-failed", "999", stdout=StringIO())
    run()  # the next build starts
    assert ModelVersion.objects.active().exists()


def test_help_documents_the_stuck_build_option(capsys):
    with pytest.raises(SystemExit):
        call_command("tfidf_versions", "--help")
    text = capsys.readouterr().out
    assert "--mark-failed ID" in text and "Mark selected stuck jobs as failed" in text


# --- prune with MODEL_DIR as the settings module makes it (issue #9 defect 6) ---------------


def _plant_tmp_dirs(base, settings_module_time_limit):
    import os
    import time

    from recommendations.artifacts import TMP_PREFIX

    old, fresh = base / f"{TMP_PREFIX}41-killed", base / f"{TMP_PREFIX}42-writing"
    for path in (old, fresh):
        path.mkdir(parents=True)
        (path / "data.npy").write_bytes(b"half")
    long_ago = time.time() - settings_module_time_limit - 60
    os.utime(old, (long_ago, long_ago))
    return old, fresh


def test_prune_commands_with_the_model_dir_the_settings_module_produces(
    catalog, settings, tmp_path, monkeypatch
):
    """prune_versions always crashed because settings.MODEL_DIR was an environ.Path. Here
    MODEL_DIR is the value netflixrecs/settings.py itself computes from the MODEL_DIR
    environment variable (not a Path the test made), so a type change there fails this test."""
    import runpy

    from netflixrecs import settings as settings_module

    monkeypatch.setenv("MODEL_DIR", str(tmp_path / "from-env"))
    produced = runpy.run_path(settings_module.__file__)["MODEL_DIR"]
    settings.MODEL_DIR = produced
    assert str(produced) == str(tmp_path / "from-env")
    settings.RECS_KEEP_VERSIONS = 0
    run()
    old, fresh = _plant_tmp_dirs(produced, settings.RECS_BUILD_TIME_LIMIT)
    out, _ = run("--prune")
    assert "Pruned 1 old version(s)." in out
    assert not old.exists() and fresh.exists()
    old, _ = _plant_tmp_dirs(tmp_path / "again", settings.RECS_BUILD_TIME_LIMIT)
    monkeypatch.setenv("MODEL_DIR", str(tmp_path / "again"))
    settings.MODEL_DIR = runpy.run_path(settings_module.__file__)["MODEL_DIR"]
    out = StringIO()
    call_command("tfidf_versions", "--prune", "0", stdout=out)
    assert "Pruned 0 version(s)." in out.getvalue() and not old.exists()


_PRUNE_IN_A_PROCESS = """
import os, sys, time
import django
django.setup()
from django.conf import settings
from django.core.management import call_command
from recommendations.artifacts import TMP_PREFIX
from tests.factories import MovieFactory

call_command("migrate", verbosity=0)
for _ in range(6):
    MovieFactory()
call_command("build_tfidf", verbosity=0)
base = settings.MODEL_DIR
old = base / f"{TMP_PREFIX}41-killed"
old.mkdir()
long_ago = time.time() - settings.RECS_BUILD_TIME_LIMIT - 60
os.utime(old, (long_ago, long_ago))
call_command("build_tfidf", "--prune", verbosity=0)
print("after build_tfidf --prune:", old.exists(), type(base).__name__)
old.mkdir()
os.utime(old, (long_ago, long_ago))
call_command("tfidf_versions", "--prune", "0")
print("after tfidf_versions --prune:", old.exists())
"""


def test_prune_commands_in_a_process_configured_by_the_environment(db, tmp_path):
    """End to end: a separate process whose MODEL_DIR comes only from the environment."""
    import os
    import subprocess
    import sys

    from django.conf import settings as dj

    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'prune.sqlite3'}",
        "MODEL_DIR": str(tmp_path / "models-from-env"),
        "DJANGO_SETTINGS_MODULE": "netflixrecs.settings_test",
        "RECS_KEEP_VERSIONS": "0",
    }
    env.pop("REDIS_URL", None)
    proc = subprocess.run(
        [sys.executable, "-c", _PRUNE_IN_A_PROCESS],
        env=env,
        cwd=str(dj.BASE_DIR),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "after build_tfidf --prune: False PosixPath" in proc.stdout
    assert "after tfidf_versions --prune: False" in proc.stdout
    assert "Pruned 1 old version(s)." in proc.stdout and "Pruned 0 version(s)." in proc.stdout
    left = sorted(p.name for p in (tmp_path / "models-from-env").iterdir())
    assert len(left) == 1 and left[0].isdigit()  # the active version only, no .tmp-
