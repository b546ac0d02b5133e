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
    source_dir: Path, checksums: dict[str, str], *, mmap: bool = True, verify: bool = True
) -> dict[str, np.ndarray]:
    """Load every file listed in ``checksums``; raise :class:`ArtifactError` on any problem.

    With ``mmap`` the arrays are memory-mapped read-only, so several processes loading the
    same version share the page cache instead of each holding a private copy. Every file's
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
                path, mmap_mode="r" if mmap else None, allow_pickle=False
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


def remove_stale_tmp_dirs(base: Path, *, older_than: float) -> int:
    """Delete temporary build directories under ``base`` last modified before ``older_than``
    (a timestamp): left behind by builds that were killed. Returns how many were removed."""
    base = Path(base)
    if not base.is_dir():
        return 0
    removed = 0
    for path in base.iterdir():
        if path.name.startswith(TMP_PREFIX) and path.stat().st_mtime < older_than:
            remove_dir(path)
            removed += 1
    return removed
