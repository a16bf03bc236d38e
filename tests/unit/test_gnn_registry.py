"""Registry: immutable versions, safetensors + JSON, checksum verified, atomic activation, rollback."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ringfence.core.errors import ModelUnavailable, NotFound
from ringfence.gnn.registry import Registry


def _save(reg: Registry, name: str, value: float) -> str:
    return reg.save({"w": torch.full((2, 3), value)}, {"kind": "gnn", "metrics": {"ap": value}}, version=name)


def test_save_load_activate_rollback(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "models", probe=None)  # tensors of no real model: the bookkeeping only
    assert reg.list() == [] and reg.active_version() is None
    v1 = _save(reg, "m20260101T000000-aaaaaa", 1.0)
    v2 = _save(reg, "m20260102T000000-bbbbbb", 2.0)
    assert reg.list() == [v1, v2]
    reg.activate(v2)
    assert reg.active_version() == v2
    bundle = reg.load(v2)
    assert torch.equal(bundle.tensors["w"], torch.full((2, 3), 2.0))
    assert bundle.meta["metrics"] == {"ap": 2.0} and bundle.meta["weights_sha256"]
    assert reg.rollback() == v1
    assert reg.active_version() == v1
    reg.activate(v2)
    assert reg.active_version() == v2
    assert not list((tmp_path / "models").glob(".ACTIVE-*"))  # temp pointer files are renamed away


def test_unknown_version_is_not_found(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "models")
    with pytest.raises(ModelUnavailable):
        reg.load("m20990101T000000-000000")
    with pytest.raises(NotFound):
        reg.activate("m20990101T000000-000000")


def test_tampered_weights_fail_the_checksum(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "models")
    v = _save(reg, "m20260101T000000-cccccc", 1.0)
    path = tmp_path / "models" / v / "weights.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelUnavailable):
        reg.load(v)


def test_generated_versions_sort_by_time(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from ringfence.gnn.registry import new_version

    a = new_version(datetime(2026, 1, 1, tzinfo=UTC))
    b = new_version(datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC))
    assert a < b and a.startswith("m20260101T000000-")
