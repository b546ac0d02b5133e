"""Which model the pipeline serves: the per-process cache of the active version.

(The cache is ``recommendations/serving.py``, to be ``loading.py``; these tests go through
serving, so they live with it.)
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from recommendations import services, serving
from recommendations.models import ModelVersion
from recommendations.pipeline import recommend_for_user

pytestmark = pytest.mark.django_db


def build(**kwargs) -> ModelVersion:
    return services.build_model(triggered_by="test", **kwargs)


def test_new_active_version_is_picked_up_without_restart(catalog, space_fan):
    v1 = build()
    assert recommend_for_user(user=space_fan).model_version == v1.pk
    v2 = build()
    assert recommend_for_user(user=space_fan).model_version == v2.pk
    services.activate_version(version=v1)  # rollback is picked up too
    assert recommend_for_user(user=space_fan).model_version == v1.pk


def test_version_check_is_cheap_within_the_ttl(
    catalog, space_fan, settings, django_assert_num_queries
):
    build()
    settings.RECS_VERSION_CHECK_SECONDS = 300
    serving.reset_cache()
    assert serving.get_active_model() is not None
    with django_assert_num_queries(0):
        for _ in range(5):
            assert serving.get_active_model() is not None


def test_model_arrays_are_memory_mapped(catalog):
    build()
    model = serving.get_active_model()
    assert isinstance(model.arrays["data"], np.memmap)
    assert isinstance(model.arrays["indices"], np.memmap)
    # The matrix is built around the mapped pages, not a private copy.
    assert np.shares_memory(model.matrix.data, model.arrays["data"])
    assert np.shares_memory(model.matrix_t.indices, model.arrays["t_indices"])


def _corrupt_truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _corrupt_flip(path):
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # same size, different content: only the checksum notices
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("corrupt", [_corrupt_truncate, _corrupt_flip, lambda p: p.unlink()])
def test_corrupt_artifacts_keep_the_previous_model_serving(catalog, space_fan, caplog, corrupt):
    v1 = build()
    assert recommend_for_user(user=space_fan).model_version == v1.pk
    v2 = build()
    corrupt(v2.artifact_dir / "data.npy")
    with caplog.at_level(logging.ERROR, logger="recommendations.serving"):
        result = recommend_for_user(user=space_fan)
    assert result.strategy.name == "hybrid" and result.model_version == v1.pk
    assert f"Cannot load model version {v2.pk}" in caplog.text


def test_corrupt_artifacts_without_a_previous_model_fall_back(catalog, space_fan, caplog):
    v1 = build()
    _corrupt_flip(v1.artifact_dir / "indices.npy")
    with caplog.at_level(logging.ERROR, logger="recommendations.serving"):
        result = recommend_for_user(user=space_fan)
    assert result.strategy.name == "popularity_fallback" and result.items
    assert "fails its checksum" in caplog.text


def test_broken_hybrid_arrays_keep_the_previous_version_serving(catalog, space_fan):
    v1 = build()
    assert recommend_for_user(user=space_fan).model_version == v1.pk
    v2 = build()
    (v2.artifact_dir / "prior.npy").write_bytes(b"truncated")
    result = recommend_for_user(user=space_fan)
    assert result.model_version == v1.pk and result.strategy.name == "hybrid"
