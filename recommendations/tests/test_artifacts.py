"""artifacts: atomic, read-only writes; nothing is trusted on load before it is checked."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.sparse as sp

from recommendations import artifacts
from recommendations.artifacts import ArtifactError, check_csr, load_arrays, save_arrays


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def csr_arrays(prefix: str = "") -> dict[str, np.ndarray]:
    m = sp.csr_matrix(np.array([[0.5, 0, 0.1], [0, 0, 0.7], [0.2, 0.3, 0]], dtype=np.float32))
    return {
        f"{prefix}data": m.data,
        f"{prefix}indices": m.indices,
        f"{prefix}indptr": m.indptr,
        f"{prefix}shape": np.asarray(m.shape, dtype=np.int64),
    }


@pytest.fixture
def saved(tmp_path):
    target = tmp_path / "models" / "1"
    checksums = save_arrays(target, {**csr_arrays(), "ids": np.arange(3, dtype=np.int64)})
    return target, checksums


def writable(path):
    """What someone editing a published file in place has to do first."""
    os.chmod(path.parent, 0o755)
    os.chmod(path, 0o644)


def test_published_artifacts_are_read_only(saved):
    target, checksums = saved
    assert mode(target) == artifacts.DIR_MODE == 0o555
    for name in checksums:
        assert mode(target / name) == artifacts.FILE_MODE == 0o444
    assert not any(p.name.startswith(artifacts.TMP_PREFIX) for p in target.parent.iterdir())


def test_saving_the_same_id_again_replaces_a_read_only_leftover(saved):
    target, _ = saved
    checksums = save_arrays(target, {"ids": np.arange(5, dtype=np.int64)})
    assert sorted(p.name for p in target.iterdir()) == ["ids.npy"] == sorted(checksums)


def test_remove_dir_deletes_read_only_directories(saved):
    target, _ = saved
    artifacts.remove_dir(target)
    assert not target.exists()
    artifacts.remove_dir(target)  # already gone: fine


def test_loads_memory_mapped_and_verified(saved):
    target, checksums = saved
    arrays = load_arrays(target, checksums)
    assert isinstance(arrays["data"], np.memmap) and list(arrays["ids"]) == [0, 1, 2]
    assert check_csr(arrays) == (3, 3)


def test_flipped_bytes_fail_the_checksum(saved):
    target, checksums = saved
    path = target / "indices.npy"
    writable(path)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="fails its checksum"):
        load_arrays(target, checksums)


def test_truncation_is_caught_from_the_header_before_mapping(saved, monkeypatch):
    target, checksums = saved
    path = target / "data.npy"
    writable(path)
    path.write_bytes(path.read_bytes()[:-4])
    mapped = []
    monkeypatch.setattr(np, "load", lambda *a, **k: mapped.append(a) or pytest.fail("mapped"))
    with pytest.raises(ArtifactError, match="its header says"):
        load_arrays(target, checksums, verify=False)  # even without the checksum
    assert mapped == []


def test_a_file_without_a_header_is_refused(saved):
    target, checksums = saved
    path = target / "ids.npy"
    writable(path)
    path.write_bytes(b"truncated")
    with pytest.raises(ArtifactError, match="no readable .npy header"):
        load_arrays(target, checksums)


def test_missing_file_and_missing_checksums(saved):
    target, checksums = saved
    with pytest.raises(ArtifactError, match="No artifact checksums"):
        load_arrays(target, {})
    with pytest.raises(ArtifactError, match="missing"):
        load_arrays(target, {**checksums, "nope.npy": "0" * 64})


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda a: a.update(indices=np.array([0, 2, 3, 0, 1], dtype=np.int32)), "column"),
        (lambda a: a.update(indices=np.array([0, 2, -1, 0, 1], dtype=np.int32)), "column"),
        (lambda a: a.update(indptr=np.array([0, 3, 2, 5], dtype=np.int32)), "monotone"),
        (lambda a: a.update(indptr=np.array([0, 2, 3, 9], dtype=np.int32)), "nnz"),
        (lambda a: a.update(indptr=np.array([1, 2, 3, 5], dtype=np.int32)), "nnz"),
        (lambda a: a.update(indptr=np.array([0, 2, 5], dtype=np.int32)), "3 rows"),
        (lambda a: a.update(data=a["data"][:-1]), "indices for"),
        (lambda a: a.update(indices=a["indices"].astype(np.float64)), "dtype"),
        (lambda a: a.update(data=a["data"].astype(np.int32)), "dtype"),
        (lambda a: a.update(shape=np.array([3.0, 3.0])), "shape"),
        (lambda a: a.update(indices=a["indices"].reshape(5, 1)), "one-dimensional"),
        (lambda a: a.pop("indptr"), "missing"),
    ],
)
def test_check_csr_refuses_bad_structure(damage, message):
    arrays = csr_arrays()
    damage(arrays)
    with pytest.raises(ArtifactError, match=message):
        check_csr(arrays)


def test_check_csr_checks_the_expected_shape():
    with pytest.raises(ArtifactError, match="expected 4x3"):
        check_csr(csr_arrays("t_"), prefix="t_", shape=(4, 3))
    assert check_csr(csr_arrays("t_"), prefix="t_", shape=(3, 3)) == (3, 3)


_LOAD_AND_SCORE = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import scipy.sparse as sp
    from recommendations.artifacts import ArtifactError, check_csr, load_arrays

    target, checksums = sys.argv[1], json.loads(sys.argv[2])
    try:
        arrays = load_arrays(target, checksums)
        check_csr(arrays)
    except ArtifactError as exc:
        print("refused:", exc)
        sys.exit(0)
    m = sp.csr_matrix(
        (arrays["data"], arrays["indices"], arrays["indptr"]),
        shape=tuple(int(x) for x in arrays["shape"]),
        copy=False,
    )
    print("scored", float((m @ np.ones(m.shape[1], dtype=np.float32)).sum()))
    """
)


def _run_loader(target, checksums) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", _LOAD_AND_SCORE, str(target), json.dumps(checksums)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )


@pytest.mark.parametrize("damage", ["indices", "truncate", "flip"])
def test_a_process_loading_damaged_files_exits_normally(tmp_path, damage):
    """Issue #9 defect 5, in a real process: wildly out-of-range indices (with a checksum that
    matches them, as if the damage happened before checksumming), a truncated file and flipped
    bytes are refused; the process exits 0, not by SIGSEGV or SIGBUS."""
    target = tmp_path / "v"
    arrays = csr_arrays()
    if damage == "indices":
        arrays["indices"] = np.array([0, 2, 2**30, 0, 1], dtype=np.int32)
    checksums = save_arrays(target, arrays)
    if damage == "truncate":
        path = target / "indices.npy"
        writable(path)
        path.write_bytes(path.read_bytes()[:-8])
    elif damage == "flip":
        path = target / "indices.npy"
        writable(path)
        data = bytearray(path.read_bytes())
        data[-2] ^= 0x7F
        path.write_bytes(bytes(data))
    proc = _run_loader(target, checksums)
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout.startswith("refused:"), proc.stdout


def test_the_loader_process_scores_intact_files(tmp_path):
    """The same process with good files gets past the checks (so the test above can fail)."""
    target = tmp_path / "v"
    checksums = save_arrays(target, csr_arrays())
    proc = _run_loader(target, checksums)
    assert proc.returncode == 0 and proc.stdout.startswith("scored"), proc.stdout + proc.stderr
