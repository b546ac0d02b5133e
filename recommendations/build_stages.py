"""A model build in three stages: prepare, the content-neighbour blocks, finish.

One build is one :class:`ModelVersion` whatever runs it. ``builds.build_model`` (the command,
and the rebuild task without a broker) runs the stages in order in this process; with a broker
``recommendations.tasks`` runs :func:`prepare` in the planner task and one task per block as a
Celery chord ending in :func:`finish`, so any number of workers (on any number of machines
sharing PostgreSQL, Redis and ``MODEL_DIR``) share the expensive step. The same functions run
either way, so both write the same version.

Every stage holds the version's lease (shared: several block holders are fine) and works in
the version's staging directory beside its artifact directory (``artifacts.staging_dir``):

* ``plan.json`` — what the blocks and finish need (k, the blocks, the staged checksums, the
  row's statistics), written last by :func:`prepare`;
* ``arrays/`` — every artifact except the neighbours (``save_arrays``: checksummed, read-only);
* ``cosine/`` — the row-normalised matrix and its transpose (postings capped when the
  catalog's exact work is over ``RECS_NEIGHBOUR_WORK_BUDGET``), memory-mapped by each block
  worker instead of each copying the matrix;
* ``block-<start>-<stop>.npz`` — one per finished block, written aside and renamed into place.

Atomic as before: nothing is visible until :func:`finish` renames the version directory into
place and marks it succeeded (and active) in one transaction. Any failure, a block's included,
removes the staging and version directories, marks the row failed (the error names the block)
and leaves the previous version active.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import threading
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from django.conf import settings
from django.db import transaction

from . import hybrid, neighbours, tfidf
from .artifacts import (
    check_csr,
    load_arrays,
    remove_dir,
    save_arrays,
    staging_dir,
    write_file_atomic,
)
from .building import STEPS, ProgressFn, catalog_soups, fit_hybrid
from .errors import BuildError, VersionError
from .models import ModelVersion

logger = logging.getLogger(__name__)

PLAN_FILE = "plan.json"
NEIGHBOURS_MESSAGE = "Content neighbours: block {done} of {total}"
# Saving the arrays and the cosine operands the blocks map, before the first block.
STAGING_MESSAGE = "Staging the build"

# Versions whose lease this thread already holds (build_model holds one for all its stages).
_held = threading.local()
# The staged cosine matrices of the last build this process worked on: a worker runs many
# blocks of one build, and verifying + wrapping the files once is enough.
_cosine_cache: dict[tuple[str, str], tuple[sp.csr_matrix, sp.csr_matrix]] = {}


@contextlib.contextmanager
def leased(version: ModelVersion):
    """``version.lease()``, unless this thread already holds it (then a no-op)."""
    held = _held.__dict__.setdefault("pks", set())
    if version.pk in held:
        yield version
        return
    with version.lease():
        held.add(version.pk)
        try:
            yield version
        finally:
            held.discard(version.pk)


def _reporter(version: ModelVersion, progress: ProgressFn | None) -> ProgressFn:
    def report(done: int, total: int, message: str) -> None:
        version.report_progress(done, total, message)
        if progress:
            progress(done, total, message)

    return report


def block_path(stage: Path, start: int, stop: int) -> Path:
    return Path(stage) / f"block-{int(start)}-{int(stop)}.npz"


def read_plan(stage: Path) -> dict:
    path = Path(stage) / PLAN_FILE
    if not path.is_file():
        raise BuildError(f"The build's plan {path} is missing (its staging was removed).")
    return json.loads(path.read_text())


def _still_running(version: ModelVersion) -> bool:
    return ModelVersion.objects.filter(pk=version.pk, status=ModelVersion.Status.RUNNING).exists()


def _fail_build(
    version: ModelVersion, exc: BaseException, *, started: float | None, what=""
) -> None:
    """The one failure path of every stage: no directory left, the row failed, not active."""
    remove_dir(version.artifact_dir)
    remove_dir(staging_dir(version.artifact_dir))
    version.flush_progress()  # the step it failed in, for the admin
    version.fail(f"{what}{type(exc).__name__}: {exc}"[:5000])
    fields = {"is_active": False}
    if started is not None:
        fields["build_seconds"] = round(time.time() - started, 3)
    ModelVersion.objects.filter(pk=version.pk).update(**fields)
    logger.warning("Model build %s failed: %s", version.pk, version.error)


# --- prepare -------------------------------------------------------------------------------


def prepare(
    *,
    version: ModelVersion,
    params: tfidf.TfidfParams,
    hybrid_params: hybrid.HybridParams,
    activate: bool,
    progress: ProgressFn | None = None,
) -> list[tuple[int, int]]:
    """Fit TF-IDF and the hybrid on the running ``version``, stage every array but the
    neighbours, stage the cosine operands, plan the blocks; returns the blocks (start, stop).

    Records ``blocks_total`` on the row. On any error the build fails (see the module) and
    the error is re-raised."""
    if version.status != ModelVersion.Status.RUNNING:
        raise VersionError(f"Version {version.pk} is {version.status}; claim it first.")
    started = time.time()
    report = _reporter(version, progress)
    with leased(version):
        try:
            params.validate()
            movie_ids, soups = catalog_soups(progress=report)
            report(0, STEPS, "Fitting TF-IDF")
            model = tfidf.fit_tfidf(soups, params)
            hybrid_arrays, stats = fit_hybrid(
                model=model, movie_ids=movie_ids, params=hybrid_params, progress=report
            )
            row = {
                "movie_count": int(model.n_rows),
                "vocabulary_size": int(model.vocabulary_size),
                "nnz": int(model.nnz),
                "min_df_used": float(model.min_df_used),
                **stats,
            }
            report(1, STEPS, STAGING_MESSAGE)
            blocks = stage_build(
                version=version,
                arrays={**model.to_arrays(), "movie_ids": movie_ids, **hybrid_arrays},
                matrix=model.matrix,
                row=row,
                activate=activate,
                started=started,
            )
            if blocks:
                report(0, len(blocks), NEIGHBOURS_MESSAGE.format(done=0, total=len(blocks)))
        except BaseException as exc:
            # BaseException too: a Celery soft time limit or Ctrl-C must still mark the row.
            _fail_build(version, exc, started=started)
            raise
    return blocks


def stage_build(
    *,
    version: ModelVersion,
    arrays: dict[str, np.ndarray],
    matrix: sp.spmatrix,
    row: dict,
    activate: bool,
    started: float,
) -> list[tuple[int, int]]:
    """Write the staging of ``version`` (``arrays``: every artifact but the neighbours; the
    cosine operands of ``matrix``; the plan with ``row``, the fields finish records) and record
    the blocks on the row; returns them. The second half of :func:`prepare` (also used by
    ``bench/bench_build.py`` on a synthetic matrix)."""
    stage = staging_dir(version.artifact_dir)
    remove_dir(stage)  # left over from an earlier attempt of this version
    stage.mkdir(parents=True)
    checksums = save_arrays(stage / "arrays", arrays)
    n_rows = int(matrix.shape[0])
    blocks: list[tuple[int, int]] = []
    k, cosine_checksums, cap = 0, {}, None
    if settings.RECS_CONTENT_NEIGHBOURS > 0 and n_rows > 1:
        cap = neighbours.posting_cap(matrix, settings.RECS_NEIGHBOUR_WORK_BUDGET or None)
        if cap is not None:
            logger.info(
                "Model build %s: exact neighbours over budget; postings capped at %s",
                version.pk,
                cap,
            )
        m, mt = neighbours.normalised(matrix, cap=cap)
        k = neighbours.neighbour_count(n_rows, settings.RECS_CONTENT_NEIGHBOURS)
        cosine_checksums = save_arrays(
            stage / "cosine",
            {**tfidf.matrix_to_arrays(m), **tfidf.matrix_to_arrays(mt, prefix="t_")},
        )
        del m, mt
        blocks = neighbours.plan_blocks(n_rows, settings.RECS_NEIGHBOUR_BLOCK_ROWS)
    plan = {
        "token": secrets.token_hex(8),
        "started": started,
        "activate": bool(activate),
        "n": n_rows,
        "k": int(k),
        "posting_cap": cap,
        "blocks": [list(b) for b in blocks],
        "checksums": checksums,
        "cosine_checksums": cosine_checksums,
        "row": row,
    }
    write_file_atomic(stage / PLAN_FILE, lambda fh: fh.write(json.dumps(plan).encode()))
    ModelVersion.objects.filter(pk=version.pk).update(blocks_total=len(blocks), blocks_done=0)
    version.blocks_total, version.blocks_done = len(blocks), 0
    return blocks


# --- one block ------------------------------------------------------------------------------


def _cosine(stage: Path, plan: dict) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    key = (str(stage), plan["token"])
    if key not in _cosine_cache:
        # Copy-on-write maps: the kernel only takes writable arrays, and never writes them.
        arrays = load_arrays(stage / "cosine", plan["cosine_checksums"], mmap="c")
        n_rows, n_cols = check_csr(arrays)
        check_csr(arrays, "t_", shape=(n_cols, n_rows))
        _cosine_cache.clear()
        _cosine_cache[key] = (
            tfidf.matrix_from_arrays(arrays),
            tfidf.matrix_from_arrays(arrays, prefix="t_"),
        )
    return _cosine_cache[key]


def run_block(
    *, version_id: int, start: int, stop: int, progress: ProgressFn | None = None
) -> bool:
    """Compute and store the neighbours of rows ``start:stop`` of build ``version_id``.

    Returns False quietly when the version is gone or no longer running (failed by another
    block, expired, marked failed); a block already stored (a second delivery) is not
    computed again. Counts the stored blocks into ``blocks_done`` and the progress bar. On
    an error the build fails, naming the block, and the error is re-raised."""
    version = ModelVersion.objects.filter(pk=version_id).first()
    if version is None or version.status != ModelVersion.Status.RUNNING:
        return False
    stage = staging_dir(version.artifact_dir)
    plan = None
    with leased(version):
        try:
            plan = read_plan(stage)
            if [int(start), int(stop)] not in plan["blocks"]:
                raise BuildError(f"block {start}:{stop} is not in the build's plan")
            path = block_path(stage, start, stop)
            if not path.is_file():
                m, mt = _cosine(stage, plan)
                idx, sim = neighbours.block_neighbours(
                    m,
                    mt,
                    int(start),
                    int(stop),
                    plan["k"],
                    capped=plan.get("posting_cap") is not None,
                )
                if not _still_running(version):
                    return False
                write_file_atomic(path, lambda fh: np.savez(fh, idx=idx, sim=sim))
        except BaseException as exc:
            if isinstance(exc, Exception) and not _still_running(version):
                # Its staging went with another failure; that one is the build's error.
                logger.info(
                    "Model build %s: block %s:%s stopped (%s)", version_id, start, stop, exc
                )
                return False
            _fail_build(
                version,
                exc,
                started=plan["started"] if plan else None,
                what=f"Content neighbours block {start}:{stop} failed: ",
            )
            raise
        return _record_blocks(version, stage, plan, progress)


def _record_blocks(version: ModelVersion, stage: Path, plan: dict, progress) -> bool:
    """``blocks_done`` = the blocks stored so far, under the row's lock: blocks finishing at
    once are counted one after the other, and a block delivered twice is counted once."""
    report = _reporter(version, progress)
    with transaction.atomic():
        locked = (
            ModelVersion.objects.select_for_update()
            .filter(pk=version.pk, status=ModelVersion.Status.RUNNING)
            .first()
        )
        if locked is None:
            return False
        total = len(plan["blocks"])
        done = sum(block_path(stage, s, e).is_file() for s, e in plan["blocks"])
        ModelVersion.objects.filter(pk=version.pk).update(blocks_done=done)
        report(done, total, NEIGHBOURS_MESSAGE.format(done=done, total=total))
    return True


# --- finish ---------------------------------------------------------------------------------


def _merge_blocks(stage: Path, plan: dict) -> dict[str, np.ndarray]:
    out = neighbours.empty_neighbours(plan["n"], plan["k"])
    for start, stop in plan["blocks"]:
        with np.load(block_path(stage, start, stop), allow_pickle=False) as stored:
            idx, sim = stored["idx"], stored["sim"]
        want = (stop - start, plan["k"])
        if idx.shape != want or sim.shape != want or idx.dtype != np.int32:
            raise BuildError(f"content-neighbour block {start}:{stop} has the wrong shape")
        out["content_nbr_idx"][start:stop] = idx
        out["content_nbr_sim"][start:stop] = sim
    if plan.get("posting_cap") is not None:
        # A capped kernel misses links from one side that the other side found.
        neighbours.add_reverse(out["content_nbr_idx"], out["content_nbr_sim"])
    return out


def finish(*, version_id: int, progress: ProgressFn | None = None) -> ModelVersion | None:
    """After the last block: merge the blocks, write the version directory, mark it succeeded
    and (if asked) active in one transaction, remove the staging.

    A version that is gone returns None; one no longer running (failed, or finished by a
    first delivery) only loses its staging. A missing block, or fewer recorded than planned,
    fails the build like any error here (re-raised)."""
    version = ModelVersion.objects.filter(pk=version_id).first()
    if version is None:
        return None
    stage = staging_dir(version.artifact_dir)
    if version.status != ModelVersion.Status.RUNNING:
        remove_dir(stage)
        return version
    report = _reporter(version, progress)
    plan = None
    with leased(version):
        try:
            plan = read_plan(stage)
            total = len(plan["blocks"])
            missing = [b for b in plan["blocks"] if not block_path(stage, *b).is_file()]
            if missing:
                start, stop = missing[0]
                raise BuildError(
                    f"content-neighbour block {start}:{stop} is missing "
                    f"({len(missing)} of {total} blocks)"
                )
            version.refresh_from_db(fields=["blocks_done", "blocks_total"])
            if version.blocks_done < total:
                raise BuildError(f"only {version.blocks_done} of {total} blocks were recorded")
            report(2, STEPS, "Writing artifacts")
            arrays = load_arrays(stage / "arrays", plan["checksums"], mmap=True)
            if plan["k"]:
                arrays.update(_merge_blocks(stage, plan))
            checksums = save_arrays(version.artifact_dir, arrays)
            del arrays
            # Succeeded and active in one transaction: nobody sees a ready build that is about
            # to become active, and a failure while activating leaves the previous one active.
            with transaction.atomic():
                version.succeed(
                    checksums=checksums,
                    build_seconds=round(time.time() - plan["started"], 3),
                    progress_done=STEPS,
                    progress_total=STEPS,
                    progress_message="Done",
                    **plan["row"],
                )
                if plan["activate"]:
                    version.activate()
        except BaseException as exc:
            _fail_build(version, exc, started=plan["started"] if plan else None)
            raise
    remove_dir(stage)
    _cosine_cache.clear()
    if progress:
        progress(STEPS, STEPS, "Done")
    version.refresh_from_db()
    return version
