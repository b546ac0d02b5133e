"""recommendations.build_stages: prepare, the neighbour blocks and finish, in process and as
tasks (eager); failures, a missing block, second deliveries, single-flight."""

from __future__ import annotations

import time

import numpy as np
import pytest
from django.utils import timezone

from recommendations import artifacts, build_stages, builds, neighbours, tasks, tfidf
from recommendations.building import default_hybrid_params, default_params
from recommendations.errors import BuildAlreadyRunning, BuildError
from recommendations.models import ModelVersion
from recommendations.tests.factories import ModelVersionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_blocks(settings):
    """Blocks of 5 rows: the 12-movie catalog is 3 blocks (5, 5, 2)."""
    settings.RECS_NEIGHBOUR_BLOCK_ROWS = 5
    return settings


def _nbrs(version: ModelVersion) -> tuple[np.ndarray, np.ndarray]:
    arrays = artifacts.load_arrays(version.artifact_dir, version.checksums, mmap=False)
    return arrays["content_nbr_idx"], arrays["content_nbr_sim"]


def _prepared() -> tuple[ModelVersion, list[tuple[int, int]]]:
    """A claimed version with prepare done, as the planner task leaves it."""
    version = builds.request_rebuild(triggered_by="test")
    assert version.claim()
    blocks = build_stages.prepare(
        version=version,
        params=default_params(),
        hybrid_params=default_hybrid_params(),
        activate=True,
    )
    return version, blocks


def test_in_process_blocks_give_the_single_pass_neighbours(catalog, small_blocks):
    version = builds.build_model(triggered_by="test")
    assert (version.blocks_total, version.blocks_done) == (3, 3)
    idx, sim = _nbrs(version)
    arrays = artifacts.load_arrays(version.artifact_dir, version.checksums, mmap=False)
    expected = neighbours.content_neighbours(
        tfidf.matrix_from_arrays(arrays), small_blocks.RECS_CONTENT_NEIGHBOURS
    )
    assert idx.dtype == expected["content_nbr_idx"].dtype == np.int32
    assert sim.dtype == expected["content_nbr_sim"].dtype == np.float32
    np.testing.assert_array_equal(idx, expected["content_nbr_idx"])
    np.testing.assert_array_equal(sim, expected["content_nbr_sim"])
    assert idx.shape == (12, 11) and (idx[:, -1] >= -1).all()
    # The staging went with the build.
    assert [p.name for p in version.artifact_dir.parent.iterdir()] == [str(version.pk)]


def test_over_its_work_budget_the_staged_build_is_capped_and_symmetrised(catalog, small_blocks):
    # A budget below any catalog's exact work: the blocks run the capped kernel and finish
    # symmetrises; the version must hold exactly what the in-order capped run gives.
    small_blocks.RECS_NEIGHBOUR_WORK_BUDGET = 100
    version = builds.build_model(triggered_by="test")
    idx, sim = _nbrs(version)
    arrays = artifacts.load_arrays(version.artifact_dir, version.checksums, mmap=False)
    matrix = tfidf.matrix_from_arrays(arrays)
    assert neighbours.posting_cap(matrix, 100) is not None
    k = small_blocks.RECS_CONTENT_NEIGHBOURS
    capped = neighbours.content_neighbours(matrix, k, work_budget=100)
    np.testing.assert_array_equal(idx, capped["content_nbr_idx"])
    np.testing.assert_array_equal(sim, capped["content_nbr_sim"])
    one_side = neighbours.content_neighbours(matrix, k, work_budget=100, reverse=False)
    assert not np.array_equal(idx, one_side["content_nbr_idx"])  # finish added the reverse


def test_block_size_does_not_change_the_version(catalog, settings):
    settings.RECS_NEIGHBOUR_BLOCK_ROWS = 2048
    one = builds.build_model(triggered_by="test")
    settings.RECS_NEIGHBOUR_BLOCK_ROWS = 1
    many = builds.build_model(triggered_by="test")
    assert (one.blocks_total, many.blocks_total) == (1, 12)
    assert one.checksums == many.checksums  # byte-identical artifacts


def test_progress_names_the_blocks(catalog, small_blocks):
    seen, rows = [], []

    def progress(done, total, message):
        seen.append((done, total, message))
        if message.startswith("Content"):  # what the admin's live panel reads
            rows.append(ModelVersion.objects.values_list("progress_message", flat=True).get())

    builds.build_model(triggered_by="test", progress=progress)
    blocks = [s for s in seen if s[2].startswith("Content neighbours")]
    # Staging (arrays and cosine operands written) is a step of its own, right before them.
    assert seen[seen.index(blocks[0]) - 1] == (1, 3, "Staging the build")
    assert blocks == [
        (0, 3, "Content neighbours: block 0 of 3"),
        (1, 3, "Content neighbours: block 1 of 3"),
        (2, 3, "Content neighbours: block 2 of 3"),
        (3, 3, "Content neighbours: block 3 of 3"),
    ]
    assert seen[-2][2] == "Writing artifacts" and seen[-1][2] == "Done"
    assert rows == [m for _, _, m in blocks]


def test_a_failing_block_fails_the_build_and_keeps_the_previous_version(
    catalog, small_blocks, monkeypatch
):
    good = builds.build_model(triggered_by="test")
    real = neighbours.block_neighbours

    def fail_second(m, mt, start, stop, k, **kw):
        if start == 5:
            raise MemoryError("block too big")
        return real(m, mt, start, stop, k, **kw)

    monkeypatch.setattr(neighbours, "block_neighbours", fail_second)
    with pytest.raises(MemoryError):
        builds.build_model(triggered_by="test")
    failed = ModelVersion.objects.exclude(pk=good.pk).get()
    assert failed.status == "failed" and not failed.is_active
    assert "block 5:10" in failed.error and "block too big" in failed.error
    good.refresh_from_db()
    assert good.is_active
    # No artifact, staging or temporary directory of the failed build.
    assert [p.name for p in good.artifact_dir.parent.iterdir()] == [str(good.pk)]


def test_a_failing_block_task_fails_the_build(catalog, small_blocks, monkeypatch):
    """As a task (the chord's finish then never runs): the block itself fails the row."""
    version, blocks = _prepared()
    monkeypatch.setattr(
        neighbours, "block_neighbours", lambda *a, **kw: (_ for _ in ()).throw(ValueError("bad"))
    )
    with pytest.raises(ValueError):
        tasks.build_neighbour_block.delay(version.pk, *blocks[1]).get()
    version.refresh_from_db()
    assert version.status == "failed" and "block 5:10" in version.error
    assert not artifacts.staging_dir(version.artifact_dir).exists()
    # The other blocks, still queued, return quietly.
    assert tasks.build_neighbour_block.delay(version.pk, *blocks[2]).get()["stored"] is False


def test_finish_with_a_missing_block_fails(catalog, small_blocks):
    good = builds.build_model(triggered_by="test")
    version, blocks = _prepared()
    for start, stop in blocks[:2]:
        assert build_stages.run_block(version_id=version.pk, start=start, stop=stop)
    with pytest.raises(BuildError, match="block 10:12 is missing"):
        build_stages.finish(version_id=version.pk)
    version.refresh_from_db()
    assert version.status == "failed" and not version.artifact_dir.exists()
    assert not artifacts.staging_dir(version.artifact_dir).exists()
    good.refresh_from_db()
    assert good.is_active


def test_finish_refuses_fewer_recorded_blocks_than_planned(catalog, small_blocks):
    version, blocks = _prepared()
    for start, stop in blocks:
        build_stages.run_block(version_id=version.pk, start=start, stop=stop)
    ModelVersion.objects.filter(pk=version.pk).update(blocks_done=1)
    with pytest.raises(BuildError, match="only 1 of 3 blocks"):
        build_stages.finish(version_id=version.pk)
    version.refresh_from_db()
    assert version.status == "failed"


def test_second_deliveries_of_a_block_and_of_finish_are_harmless(
    catalog, small_blocks, monkeypatch
):
    version, blocks = _prepared()
    calls = []
    real = neighbours.block_neighbours
    monkeypatch.setattr(
        neighbours, "block_neighbours", lambda *a, **kw: calls.append(a[2]) or real(*a, **kw)
    )
    for start, stop in blocks + blocks[:1]:  # the first block delivered twice
        assert tasks.build_neighbour_block.delay(version.pk, start, stop).get()["stored"]
    assert calls == [0, 5, 10]  # not computed again
    version.refresh_from_db()
    assert version.blocks_done == 3  # not counted twice
    first = tasks.finish_model_build.delay(version.pk).get()
    assert first["status"] == "succeeded" and first["active"] is True
    checksums = ModelVersion.objects.get(pk=version.pk).checksums
    again = tasks.finish_model_build.delay(version.pk).get()
    assert again["status"] == "succeeded"
    # ...and a late block changes nothing either.
    assert tasks.build_neighbour_block.delay(version.pk, *blocks[0]).get()["stored"] is False
    version.refresh_from_db()
    assert version.checksums == checksums and version.is_active
    assert [p.name for p in version.artifact_dir.parent.iterdir()] == [str(version.pk)]


def test_stages_of_a_version_that_is_gone_or_stopped_return_quietly(catalog, small_blocks):
    assert build_stages.run_block(version_id=987654, start=0, stop=5) is False
    assert build_stages.finish(version_id=987654) is None
    version, blocks = _prepared()
    assert version.mark_failed("stopped by hand")
    assert build_stages.run_block(version_id=version.pk, start=0, stop=5) is False
    assert build_stages.finish(version_id=version.pk).status == "failed"
    assert not artifacts.staging_dir(version.artifact_dir).exists()


def test_single_flight_holds_across_the_stages(catalog, small_blocks):
    version, _blocks = _prepared()
    with pytest.raises(BuildAlreadyRunning):
        builds.build_model(triggered_by="test")
    assert builds.request_rebuild(triggered_by="test") is None
    assert ModelVersion.objects.in_progress().get() == version


def test_prune_keeps_the_staging_of_a_build_in_progress(catalog, small_blocks, settings):
    version, _blocks = _prepared()
    stage = artifacts.staging_dir(version.artifact_dir)
    settings.RECS_BUILD_TIME_LIMIT = -10  # everything counts as old
    ModelVersion.objects.prune()
    assert stage.is_dir()
    ModelVersionFactory(status="failed", finished_at=timezone.now())
    version.mark_failed("stopped")
    ModelVersion.objects.prune()
    assert not stage.exists()


def test_the_block_and_finish_tasks_are_reliable():
    for task in (tasks.build_neighbour_block, tasks.finish_model_build):
        assert task.soft_time_limit < task.time_limit
        assert task.acks_late is True and task.reject_on_worker_lost is True


# --- the fan-out on real workers (second CI pass: PostgreSQL + Redis) ------------------------


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_two_real_workers_build_the_blocks_of_one_version(celery_workers, catalog, settings):
    """12 movies in blocks of 3 rows: 4 block tasks shared by two worker processes, then the
    finish; the version is the one the in-process build makes."""
    settings.RECS_NEIGHBOUR_BLOCK_ROWS = 3
    reference = builds.build_model(triggered_by="test", activate=False)
    procs, logs, _ = celery_workers(
        count=2, name="recs-blocks", extra_env={"RECS_NEIGHBOUR_BLOCK_ROWS": "3"}
    )
    version = tasks.queue_rebuild(triggered_by="test:fan-out")
    assert version is not None
    assert tasks.queue_rebuild(triggered_by="again") is None  # single-flight
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        version.refresh_from_db()
        if version.status in ("succeeded", "failed"):
            break
        time.sleep(0.3)
    logs_text = "\n".join(p.read_text() for p in logs)
    assert version.status == "succeeded", (version.error, logs_text)
    assert version.is_active and version.progress_message == "Done"
    assert (version.blocks_total, version.blocks_done) == (4, 4)
    assert logs_text.count("build_neighbour_block") >= 4 and "finish_model_build" in logs_text
    idx, sim = _nbrs(version)
    ref_idx, ref_sim = _nbrs(reference)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(sim, ref_sim)
    assert sorted(p.name for p in version.artifact_dir.parent.iterdir()) == sorted(
        [str(reference.pk), str(version.pk)]
    )


@pytest.mark.parametrize("value", ["0", "100001"])
def test_a_block_size_out_of_range_is_a_clear_configuration_error(value, start_django):
    proc = start_django(RECS_NEIGHBOUR_BLOCK_ROWS=value)
    assert proc.returncode != 0
    assert f"RECS_NEIGHBOUR_BLOCK_ROWS must be 1..100000 (got {value})" in proc.stderr


@pytest.mark.parametrize("value", ["-1", "99"])
def test_a_work_budget_out_of_range_is_a_clear_configuration_error(value, start_django):
    proc = start_django(RECS_NEIGHBOUR_WORK_BUDGET=value)
    assert proc.returncode != 0
    assert f"RECS_NEIGHBOUR_WORK_BUDGET must be 0 or 100..100000000 (got {value})" in proc.stderr
