"""Saving and loading a model version's arrays, atomically and with checksums.

Generic on purpose: a version is a dict of named numpy arrays, one ``<name>.npy`` file each, so
more arrays (e.g. a collaborative model) can be stored in the same version later. No Django.

Writing goes to a hidden temporary directory next to the target which is renamed into place
with ``os.replace`` only when every file is complete and fsynced, so a build that fails or is
killed never leaves a half-written version directory visible.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

TMP_PREFIX = ".tmp-"
_CHUNK = 1 << 20


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
            checksums[path.name] = sha256_file(path)
        if target_dir.exists():
            # Left over from an earlier attempt with the same id that never became ready.
            shutil.rmtree(target_dir)
        os.replace(tmp, target_dir)
        _fsync_dir(target_dir.parent)
        return checksums
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
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


def load_arrays(
    source_dir: Path, checksums: dict[str, str], *, mmap: bool = True, verify: bool = True
) -> dict[str, np.ndarray]:
    """Load every file listed in ``checksums``; raise :class:`ArtifactError` on any problem.

    With ``mmap`` the arrays are memory-mapped read-only, so several processes loading the
    same version share the page cache instead of each holding a private copy.
    """
    source_dir = Path(source_dir)
    if not checksums:
        raise ArtifactError(f"No artifact checksums recorded for {source_dir}.")
    arrays: dict[str, np.ndarray] = {}
    for file_name, expected in checksums.items():
        path = source_dir / file_name
        if not path.is_file():
            raise ArtifactError(f"Artifact {path} is missing.")
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


def remove_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
