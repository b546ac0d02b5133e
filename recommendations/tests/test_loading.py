"""loading: validating a version's files, and the per-process cache of the served version."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from conftest import wait_for_line
from recommendations import artifacts, builds, loading, pipeline
from recommendations.artifacts import ArtifactError
from recommendations.models import ModelVersion

pytestmark = pytest.mark.django_db


def build(**kwargs) -> ModelVersion:
    return builds.build_model(triggered_by="test", **kwargs)


def _writable(path):
    os.chmod(path.parent, 0o755)
    os.chmod(path, 0o644)


def _corrupt_truncate(path):
    _writable(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _corrupt_flip(path):
    _writable(path)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # same size, different content: only the checksum notices
    path.write_bytes(bytes(data))


def _corrupt_unlink(path):
    _writable(path)
    path.unlink()


def _replace_array(version: ModelVersion, name: str, array: np.ndarray) -> None:
    """Damage that happened before checksumming: the checksum matches the bad array, so only
    the structural checks can refuse it."""
    path = version.artifact_dir / f"{name}.npy"
    _writable(path)
    with open(path, "wb") as fh:
        np.save(fh, array, allow_pickle=False)
    version.checksums[path.name] = artifacts.sha256_file(path)
    ModelVersion.objects.filter(pk=version.pk).update(checksums=version.checksums)


def test_new_active_version_is_picked_up_without_restart(catalog, space_fan):
    v1 = build()
    assert pipeline.recommend_for_user(user=space_fan).model_version == v1.pk
    v2 = build()
    assert pipeline.recommend_for_user(user=space_fan).model_version == v2.pk
    v1.activate()  # rollback is picked up too
    assert pipeline.recommend_for_user(user=space_fan).model_version == v1.pk


def test_version_check_is_cheap_within_the_ttl(
    catalog, space_fan, settings, django_assert_num_queries
):
    build()
    settings.RECS_VERSION_CHECK_SECONDS = 300
    loading.reset_cache()
    assert loading.get_active_model() is not None
    with django_assert_num_queries(0):
        for _ in range(5):
            assert loading.get_active_model() is not None


def test_model_arrays_are_memory_mapped(catalog):
    build()
    model = loading.get_active_model()
    assert isinstance(model.arrays["data"], np.memmap)
    assert isinstance(model.arrays["indices"], np.memmap)
    # The matrix is built around the mapped pages, not a private copy.
    assert np.shares_memory(model.matrix.data, model.arrays["data"])
    assert np.shares_memory(model.matrix_t.indices, model.arrays["t_indices"])


@pytest.mark.parametrize("corrupt", [_corrupt_truncate, _corrupt_flip, _corrupt_unlink])
def test_corrupt_artifacts_keep_the_previous_model_serving(catalog, space_fan, caplog, corrupt):
    v1 = build()
    assert pipeline.recommend_for_user(user=space_fan).model_version == v1.pk
    v2 = build()
    corrupt(v2.artifact_dir / "data.npy")
    with caplog.at_level(logging.ERROR, logger="recommendations.loading"):
        result = pipeline.recommend_for_user(user=space_fan)
    assert result.strategy.name == "hybrid" and result.model_version == v1.pk
    assert f"Cannot load model version {v2.pk}" in caplog.text
    assert f"serving version {v1.pk}" in caplog.text


@pytest.mark.parametrize("corrupt", [_corrupt_truncate, _corrupt_flip, _corrupt_unlink])
def test_after_a_restart_the_newest_loadable_version_is_served(catalog, space_fan, caplog, corrupt):
    """Issue #9 defect 5: after a restart (nothing loaded yet) workers answered 503. Now a
    fresh process serves the newest ready version that loads."""
    v1 = build()
    v2 = build(activate=False)
    v3 = build()
    corrupt(v3.artifact_dir / "indices.npy")
    loading.reset_cache()  # a restarted worker
    with caplog.at_level(logging.ERROR, logger="recommendations.loading"):
        model = loading.get_active_model()
        result = pipeline.recommend_for_user(user=space_fan)
    assert model is not None and model.version_id == v2.pk  # newest, not merely the previous
    assert result.strategy.name == "hybrid" and result.model_version == v2.pk
    assert f"Cannot load model version {v3.pk}" in caplog.text
    assert v1.pk != v2.pk


def test_the_failure_is_recorded_on_the_version_and_cleared_when_it_loads(catalog, space_fan):
    v1 = build()
    v2 = build()
    path = v2.artifact_dir / "indptr.npy"
    good = path.read_bytes()
    _corrupt_flip(path)
    assert pipeline.recommend_for_user(user=space_fan).model_version == v1.pk
    v2.refresh_from_db()
    assert "fails its checksum" in v2.load_error and v2.load_error_at is not None
    assert f"serving version {v1.pk}" in v2.load_error
    path.write_bytes(good)  # repaired
    loading.reset_cache()
    assert pipeline.recommend_for_user(user=space_fan).model_version == v2.pk
    v2.refresh_from_db()
    assert v2.load_error == "" and v2.load_error_at is None


@pytest.mark.parametrize(
    "name, bad",
    [
        ("indices", lambda a: np.full_like(a, 10**6)),
        ("t_indices", lambda a: a - 10**6),
        ("indptr", lambda a: a[::-1].copy()),
        ("cf_indices", lambda a: np.full_like(a, 10**6)),
        ("movie_ids", lambda a: a[:-1].copy()),
        ("row_norms", lambda a: a.astype(np.int64)),
        ("prior", lambda a: a[:3].copy()),
        ("content_nbr_idx", lambda a: np.full_like(a, 10**6)),
        ("content_nbr_sim", lambda a: a[:3].copy()),
    ],
)
def test_bad_structure_with_a_matching_checksum_keeps_the_previous_version(
    catalog, space_fan, caplog, name, bad, co_raters
):
    v1 = build()
    v2 = build()
    current = np.load(v2.artifact_dir / f"{name}.npy")
    _replace_array(v2, name, bad(current))
    with caplog.at_level(logging.ERROR, logger="recommendations.loading"):
        result = pipeline.recommend_for_user(user=space_fan)
    assert result.model_version == v1.pk and result.strategy.name == "hybrid"
    assert f"Cannot load model version {v2.pk}" in caplog.text
    v2.refresh_from_db()
    with pytest.raises(ArtifactError, match="invalid|inconsistent"):
        loading.load_version(v2)


def test_corrupt_artifacts_without_a_previous_model_fall_back(catalog, space_fan, caplog):
    v1 = build()
    _corrupt_flip(v1.artifact_dir / "indices.npy")
    with caplog.at_level(logging.ERROR, logger="recommendations.loading"):
        result = pipeline.recommend_for_user(user=space_fan)
    assert result.strategy.name == "popularity_fallback" and result.items
    assert "fails its checksum" in caplog.text
    v1.refresh_from_db()
    assert "popularity fallback" in v1.load_error


def test_nothing_is_served_when_nothing_is_active(catalog):
    v1 = build()
    assert loading.get_active_model().version_id == v1.pk
    ModelVersion.objects.update(is_active=False)
    assert loading.get_active_model() is None


_LOAD_IN_A_PROCESS = textwrap.dedent(
    """
    import json, sys
    import django
    django.setup()
    import numpy as np
    from recommendations import hybrid
    from recommendations.artifacts import ArtifactError
    from recommendations.loading import load_version
    from recommendations.models import ModelVersion

    version = ModelVersion(pk=int(sys.argv[1]), checksums=json.loads(sys.argv[2]))
    try:
        model = load_version(version)
    except ArtifactError as exc:
        print("refused:", exc)
        sys.exit(0)
    # What serving does with a loaded model: both cosine paths and the collaborative part.
    rows = np.arange(min(3, model.n_rows))
    recs = hybrid.recommend(
        model.hybrid,
        tfidf_matrix=model.matrix,
        history_rows=rows,
        history_scores=np.full(len(rows), 5.0),
        n=5,
        tfidf_row_norms=model.row_norms,
        tfidf_matrix_t=model.matrix_t,
        neighbours=model.neighbours,
    )
    print("served", len(recs))
    """
)


def _load_in_a_process(version: ModelVersion, settings) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "netflixrecs.settings_test",
        "MODEL_DIR": str(settings.MODEL_DIR),
        "RECS_STAGE_DIR": str(settings.RECS_STAGE_DIR),
    }
    return subprocess.run(
        [sys.executable, "-c", _LOAD_IN_A_PROCESS, str(version.pk), json.dumps(version.checksums)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=str(settings.BASE_DIR),
    )


@pytest.mark.parametrize("damage", ["t_indices", "cf_indices", "truncate", "flip", None])
def test_a_worker_process_loading_a_damaged_version_exits_normally(
    co_raters, space_fan, settings, damage
):
    """No SIGSEGV, no SIGBUS: a real process loads the damaged version and is refused with an
    ArtifactError (exit 0). ``None``: the intact version is served, so the test can fail."""
    version = build()
    assert version.has_collab
    if damage in ("t_indices", "cf_indices"):
        current = np.load(version.artifact_dir / f"{damage}.npy")
        _replace_array(version, damage, current + 2**28)
    elif damage == "truncate":
        _corrupt_truncate(version.artifact_dir / "t_data.npy")
    elif damage == "flip":
        _corrupt_flip(version.artifact_dir / "cf_indices.npy")
    proc = _load_in_a_process(version, settings)
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr[-2000:])
    expected = "served" if damage is None else "refused:"
    assert proc.stdout.startswith(expected), proc.stdout + proc.stderr[-2000:]


@pytest.fixture
def co_raters(catalog):
    """Members who co-rate, so builds have a collaborative part to damage."""
    from recommendations.tests.catalog import rate
    from tests.factories import UserFactory

    for i in range(4):
        member = UserFactory(username=f"member{i}")
        rate(member, [catalog["space"][0], catalog["crime"][3]], "5.0")
    return catalog


@pytest.mark.django_db(transaction=True)
def test_threads_that_ask_during_the_first_load_wait_for_the_model(catalog, monkeypatch, settings):
    """Threaded servers (runserver) answered "no model" while another thread was loading."""
    import threading

    settings.RECS_VERSION_CHECK_SECONDS = 60  # the production-like cache, not the test's 0

    version = build()
    loading.reset_cache()
    loading_started, release = threading.Event(), threading.Event()
    real_load = loading.load_version

    def slow_load(v):
        loading_started.set()
        release.wait(5)
        return real_load(v)

    monkeypatch.setattr(loading, "load_version", slow_load)
    results = {}

    def ask(name):
        results[name] = loading.get_active_model()

    first = threading.Thread(target=ask, args=("first",))
    first.start()
    assert loading_started.wait(5)
    second = threading.Thread(target=ask, args=("second",))
    second.start()
    second.join(0.3)  # still waiting on the loader, not answering "nothing"
    assert "second" not in results
    release.set()
    first.join(5)
    second.join(5)
    assert results["first"].version_id == version.pk
    assert results["second"] is not None and results["second"].version_id == version.pk


_SERVE_THEN_READ_AGAIN = textwrap.dedent(
    """
    import json, sys
    import django
    django.setup()
    import numpy as np
    from recommendations import hybrid
    from recommendations.loading import load_version
    from recommendations.models import ModelVersion

    def serve(model):
        rows = np.arange(min(3, model.n_rows))
        recs = hybrid.recommend(
            model.hybrid,
            tfidf_matrix=model.matrix,
            history_rows=rows,
            history_scores=np.full(len(rows), 5.0),
            n=5,
            tfidf_row_norms=model.row_norms,
            tfidf_matrix_t=model.matrix_t,
            neighbours=model.neighbours,
        )
        # Touch every page of every array, as a long-running worker eventually does.
        total = sum(float(np.asarray(a, dtype=np.float64).sum()) for a in model.arrays.values()
                    if a.dtype.kind in "iuf")
        return [r.row for r in recs], total

    version = ModelVersion(pk=int(sys.argv[1]), checksums=json.loads(sys.argv[2]))
    model = load_version(version)
    before = serve(model)
    print("loaded", flush=True)
    sys.stdin.readline()  # the test damages MODEL_DIR in place meanwhile
    after = serve(model)
    print("same" if after == before else f"changed {before} {after}", flush=True)
    """
)


@pytest.mark.parametrize("damage", ["flip-everything", "truncate-everything"])
def test_files_damaged_in_place_under_a_serving_process_cannot_reach_it(catalog, settings, damage):
    """Issue #9 defect 5: a mapped file changed in place crashed every worker (flipped bytes:
    SIGSEGV, truncation: SIGBUS). Processes map a staged private copy, so damage to MODEL_DIR
    after loading changes nothing they serve, and they keep running."""
    version = build()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "netflixrecs.settings_test",
        "MODEL_DIR": str(settings.MODEL_DIR),
        "RECS_STAGE_DIR": str(settings.RECS_STAGE_DIR),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _SERVE_THEN_READ_AGAIN,
            str(version.pk),
            json.dumps(version.checksums),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=str(settings.BASE_DIR),
        env=env,
    )
    try:
        wait_for_line(proc, "loaded", timeout=120)
        for path in sorted(version.artifact_dir.glob("*.npy")):
            _writable(path)
            data = bytearray(path.read_bytes())
            with open(path, "r+b") as f:  # in place: same inode, as a disk fault or rsync would
                if damage == "flip-everything":
                    f.write(bytes(b ^ 0xFF for b in data))
                else:
                    f.truncate(64)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, f"exit {proc.returncode}: {err[-2000:]}"
    assert out.strip() == "same", out


def test_a_damaged_staged_copy_is_staged_again_from_the_source(catalog, settings):
    version = build()
    loading.reset_cache()
    model = loading.load_version(version)
    staged = Path(model.arrays["data"].filename).parent
    assert staged.parent == Path(settings.RECS_STAGE_DIR)
    assert staged != version.artifact_dir
    del model
    _corrupt_flip(staged / "data.npy")
    again = loading.load_version(version)  # refused copy dropped, a good one made
    assert Path(again.arrays["data"].filename).parent.name == staged.name
    assert artifacts.sha256_file(staged / "data.npy") == version.checksums["data.npy"]


def test_staging_off_maps_the_published_directory(catalog, settings):
    settings.RECS_STAGE_DIR = ""
    version = build()
    model = loading.load_version(version)
    assert Path(model.arrays["data"].filename).parent == version.artifact_dir


def test_a_build_stores_each_movies_content_neighbours_and_serving_reads_them(catalog, settings):
    settings.RECS_CONTENT_NEIGHBOURS = 4
    version = build()
    model = loading.load_version(version)
    idx, sim = model.arrays["content_nbr_idx"], model.arrays["content_nbr_sim"]
    assert idx.shape == (model.n_rows, 4) and sim.shape == idx.shape
    # The stored line is the scan's top 4 (the catalog's rows are its own neighbours' truth).
    from recommendations import tfidf

    row = model.row_for(catalog["space"][0].pk)
    scores = tfidf.cosine_scores(model.matrix, model.matrix[row], model.row_norms)
    scores[row] = -1
    assert set(idx[row][idx[row] >= 0]) <= set(np.flatnonzero(scores >= np.sort(scores)[-4]))
    np.testing.assert_allclose(sim[row][0], scores.max(), rtol=1e-4)


def test_content_neighbours_can_be_switched_off(catalog, settings):
    settings.RECS_CONTENT_NEIGHBOURS = 0
    model = loading.load_version(build())
    assert "content_nbr_idx" not in model.arrays
