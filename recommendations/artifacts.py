"""Saving and loading a model version's arrays, atomically and with checksums.

Generic on purpose: a version is a dict of named numpy arrays, one ``<name>.npy`` file each, so
more arrays (e.g. a collaborative model) can be stored in the same version later. No Django.

Writing goes to a hidden temporary directory next to the target which is renamed into place
with ``os.replace`` only when every file is complete and fsynced, so a build that fails or is
killed never leaves a half-written version directory visible.

Published artifacts are immutable: files are made read-only (0o444) before the rename and the
directory read-only (0o555) after it, and nothing ever writes to them again. Web processes
memory-map them, and a mapped file changed in place is read by the process as it changes:
flipped bytes in an index array made scipy read outside its arrays (SIGSEGV) and a truncated
file made page faults fail (SIGBUS). A new model is always a new version directory.

Loading never trusts a file before checking it: the size must match what the ``.npy`` header
promises (so a truncated file is refused before it is mapped, never faulted on), the checksum
must match, and :func:`check_csr` validates the index structure of a sparse matrix before
scipy is allowed to follow its indices.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import tempfile
from pathlib import Path

import numpy as np

TMP_PREFIX = ".tmp-"
_CHUNK = 1 << 20
FILE_MODE = 0o444
DIR_MODE = 0o555


class ArtifactError(Exception):
    """A version's files are missing, truncated or do not match their checksums."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def save_arrays(target_dir: Path, arrays: dict[str, np.ndarray]) -> dict[str, str]:
    """Write ``arrays`` into ``target_dir`` atomically; return ``{file name: sha256}``."""
    target_dir = Path(target_dir)
    target_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{target_dir.name}-", dir=target_dir.parent))
    try:
        checksums: dict[str, str] = {}
        for name, array in arrays.items():
            if not name.isidentifier():
                raise ValueError(f"Bad artifact name {name!r}.")
            path = tmp / f"{name}.npy"
            with open(path, "wb") as fh:
                # allow_pickle=False: every artifact must be loadable memory-mapped and safely.
                np.save(fh, np.asarray(array), allow_pickle=False)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(path, FILE_MODE)
            checksums[path.name] = sha256_file(path)
        if target_dir.exists():
            # Left over from an earlier attempt with the same id that never became ready.
            remove_dir(target_dir)
        os.replace(tmp, target_dir)
        os.chmod(target_dir, DIR_MODE)
        _fsync_dir(target_dir.parent)
        return checksums
    except BaseException:
        remove_dir(tmp)
        raise


def staging_dir(target_dir: Path) -> Path:
    """Where a build that runs in stages (``recommendations.build_stages``) keeps its work
    beside ``target_dir``: hidden like a temporary directory (so pruning removes one a killed
    build left behind) and never loaded by anyone but the build."""
    target_dir = Path(target_dir)
    return target_dir.parent / f"{TMP_PREFIX}{target_dir.name}-staging"


def write_file_atomic(path: Path, write) -> None:
    """``write(fh)`` into a temporary name beside ``path``, fsync, then ``os.replace``: a
    reader (or a second delivery of the same work) sees the whole file or none."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def npy_layout(path: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """``(shape, dtype, expected file size)`` from an ``.npy`` header, without mapping it."""
    try:
        with open(path, "rb") as fh:
            major, _minor = np.lib.format.read_magic(fh)
            if major == 1:
                shape, _fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            elif major in (2, 3):
                shape, _fortran, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                raise ValueError(f"unknown .npy format version {major}")
            offset = fh.tell()
    except (ValueError, OSError, EOFError, SyntaxError) as exc:
        raise ArtifactError(f"Artifact {path} has no readable .npy header: {exc}") from exc
    if dtype.hasobject:
        raise ArtifactError(f"Artifact {path} holds Python objects; refusing to load it.")
    count = 1
    for n in shape:
        count *= int(n)
    return tuple(shape), dtype, offset + count * dtype.itemsize


def load_arrays(
    source_dir: Path, checksums: dict[str, str], *, mmap: bool | str = True, verify: bool = True
) -> dict[str, np.ndarray]:
    """Load every file listed in ``checksums``; raise :class:`ArtifactError` on any problem.

    With ``mmap`` the arrays are memory-mapped read-only, so several processes loading the
    same version share the page cache instead of each holding a private copy (``mmap="c"``:
    copy-on-write, for compiled kernels that only accept writable arrays; pages are still
    shared until written, and nothing is ever written back). Every file's
    size is compared with its header before anything is mapped (a short file would otherwise
    be mapped past its end, and touching those pages kills the process with SIGBUS).
    """
    source_dir = Path(source_dir)
    if not checksums:
        raise ArtifactError(f"No artifact checksums recorded for {source_dir}.")
    arrays: dict[str, np.ndarray] = {}
    for file_name, expected in checksums.items():
        path = source_dir / file_name
        if not path.is_file():
            raise ArtifactError(f"Artifact {path} is missing.")
        _shape, _dtype, expected_size = npy_layout(path)
        actual_size = path.stat().st_size
        if actual_size != expected_size:
            raise ArtifactError(
                f"Artifact {path} is {actual_size} bytes, its header says {expected_size}: "
                "truncated or modified."
            )
        if verify:
            actual = sha256_file(path)
            if actual != expected:
                raise ArtifactError(
                    f"Artifact {path} fails its checksum (expected {expected[:12]}…, "
                    f"got {actual[:12]}…): truncated or modified."
                )
        try:
            arrays[Path(file_name).stem] = np.load(
                path,
                mmap_mode=mmap if isinstance(mmap, str) else ("r" if mmap else None),
                allow_pickle=False,
            )
        except (ValueError, OSError, EOFError) as exc:
            raise ArtifactError(f"Artifact {path} cannot be read: {exc}") from exc
    return arrays


def check_csr(arrays: dict[str, np.ndarray], prefix: str = "", *, shape=None) -> tuple[int, int]:
    """Validate the CSR arrays ``<prefix>data/indices/indptr/shape`` before scipy uses them.

    scipy's sparse kernels follow ``indptr`` and ``indices`` without bounds checks, so one bad
    index reads (or writes) outside the arrays. Checks dtypes, 1-d lengths, ``indptr`` starting
    at 0, monotone and ending at nnz, and ``0 <= indices < n_cols``. Returns the shape; raises
    :class:`ArtifactError`. ``shape`` (optional) is the shape the matrix must have.
    """
    try:
        data = arrays[f"{prefix}data"]
        indices = arrays[f"{prefix}indices"]
        indptr = arrays[f"{prefix}indptr"]
        stored_shape = arrays[f"{prefix}shape"]
    except KeyError as exc:
        raise ArtifactError(
            f"Sparse matrix {prefix or 'main'!r}: array {exc} is missing."
        ) from None
    name = f"sparse matrix {prefix or 'main'!r}"

    def fail(why: str):
        raise ArtifactError(f"The {name} is invalid: {why}.")

    if stored_shape.ndim != 1 or len(stored_shape) != 2 or stored_shape.dtype.kind not in "iu":
        fail("its shape is not two integers")
    n_rows, n_cols = (int(x) for x in stored_shape)
    if n_rows < 0 or n_cols < 0:
        fail(f"negative shape {n_rows}x{n_cols}")
    if shape is not None and (n_rows, n_cols) != tuple(shape):
        fail(f"shape {n_rows}x{n_cols}, expected {shape[0]}x{shape[1]}")
    for label, arr, kinds in (
        ("data", data, "f"),
        ("indices", indices, "iu"),
        ("indptr", indptr, "iu"),
    ):
        if arr.ndim != 1:
            fail(f"{label} is not one-dimensional")
        if arr.dtype.kind not in kinds:
            fail(f"{label} has dtype {arr.dtype}")
    if len(indptr) != n_rows + 1:
        fail(f"indptr has {len(indptr)} entries for {n_rows} rows")
    if len(indices) != len(data):
        fail(f"{len(indices)} indices for {len(data)} values")
    if int(indptr[0]) != 0 or int(indptr[-1]) != len(data):
        fail(f"indptr runs from {int(indptr[0])} to {int(indptr[-1])}, nnz is {len(data)}")
    if n_rows and bool((np.diff(indptr) < 0).any()):
        fail("indptr is not monotone")
    if len(indices) and (int(indices.min()) < 0 or int(indices.max()) >= n_cols):
        fail(f"column indices outside 0..{n_cols - 1}")
    return n_rows, n_cols


def remove_dir(path: Path) -> None:
    """Delete an artifact directory, read-only or not (only builds and pruning do this)."""
    path = Path(path)
    if not path.exists():
        return
    # Write permission on the directory is what unlinking its files needs.
    with contextlib.suppress(OSError):
        os.chmod(path, stat.S_IRWXU)
    shutil.rmtree(path, ignore_errors=True)


def remove_stale_tmp_dirs(base: Path, *, older_than: float, keep: set[str] = frozenset()) -> int:
    """Delete temporary build directories under ``base`` last modified before ``older_than``
    (a timestamp): left behind by builds that were killed. ``keep``: names never removed (the
    staging directories of builds in progress). Returns how many were removed."""
    base = Path(base)
    if not base.is_dir():
        return 0
    removed = 0
    for path in base.iterdir():
        if path.name in keep:
            continue
        if path.name.startswith(TMP_PREFIX) and path.stat().st_mtime < older_than:
            remove_dir(path)
            removed += 1
    return removed


# --- Staging: what web processes map is a private copy ------------------------------------
# A published version directory is immutable by contract, but a contract does not stop a disk
# fault, a bad rsync or a person with root from writing into it, and a mapped file changed in
# place is read by every process as it changes (flipped index bytes: SIGSEGV; truncation:
# SIGBUS). So web processes never map MODEL_DIR itself: each version is first copied into a
# staging directory of this machine (tmpfs by default), the copy is verified against the
# version's checksums, and the copy is what gets mapped. Workers of one machine share it (one
# copy in memory, mapped by all), and nothing else writes there. A later change to MODEL_DIR
# cannot reach a running process; a fresh process verifies what it stages and refuses a
# corrupted source.

STAGED_PREFIX = "v"


def staged_name(source_dir: Path, checksums: dict[str, str]) -> str:
    """The staging directory name of a version: its id and a digest of its checksums, so a
    rebuilt version with the same id can never reuse a stale copy."""
    digest = hashlib.sha256(
        "\n".join(f"{name}:{checksums[name]}" for name in sorted(checksums)).encode()
    ).hexdigest()[:16]
    return f"{STAGED_PREFIX}{Path(source_dir).name}-{digest}"


def stage_version(source_dir: Path, checksums: dict[str, str], stage_root: Path) -> Path:
    """Copy a version's files into ``stage_root`` (once per machine) and return the copy.

    The copy is written aside and renamed into place like a build, so a process never sees a
    half-staged directory; when two processes stage at once the first rename wins and the
    other uses it. Checksums are verified by :func:`load_arrays` on the copy itself. Raises
    ``OSError`` when the copy cannot be made (e.g. a full tmpfs): callers may then map the
    source directly.
    """
    source_dir, stage_root = Path(source_dir), Path(stage_root)
    target = stage_root / staged_name(source_dir, checksums)
    if target.is_dir() and all((target / name).is_file() for name in checksums):
        return target
    stage_root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=stage_root))
    try:
        for name in checksums:
            source = source_dir / name
            if not source.is_file():
                raise ArtifactError(f"Artifact {source} is missing.")
            shutil.copyfile(source, tmp / name)
            os.chmod(tmp / name, FILE_MODE)
        os.chmod(tmp, DIR_MODE)
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.is_dir():
                raise
            remove_dir(tmp)  # another process staged it first
    except BaseException:
        remove_dir(tmp)
        raise
    return target


def remove_staged(stage_root: Path, *, keep: set[str], older_than: float = 600) -> int:
    """Delete staged copies other than ``keep`` (names) staged more than ``older_than`` seconds
    ago. Safe while other processes still map them: an unlinked file stays readable through
    existing mappings until they are dropped; the age rule spares one that is being staged or
    was just handed to a process that is about to map it."""
    stage_root = Path(stage_root)
    if not stage_root.is_dir():
        return 0
    removed = 0
    for path in stage_root.iterdir():
        if path.name in keep or not path.name.startswith((STAGED_PREFIX, TMP_PREFIX)):
            continue
        if path.stat().st_mtime > _now() - older_than:
            continue  # another process may be staging or mapping it right now
        remove_dir(path)
        removed += 1
    return removed


def _now() -> float:
    import time

    return time.time()
