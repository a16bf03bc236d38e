"""Training without an explicit `as_of` (what the API does) is reproducible: the snapshot comes from
the data, never from the wall clock."""

from __future__ import annotations

from pathlib import Path

import torch

from ringfence.core.settings import Settings
from ringfence.gnn.registry import Registry
from ringfence.gnn.testing import load_world
from ringfence.gnn.train import TrainConfig, data_as_of, train
from ringfence.graph.arrays import load_arrays
from ringfence.graph.model import to_rfc3339
from ringfence.graph.sqlite_store import SQLiteStore


def test_default_as_of_is_the_datas_last_timestamp_and_models_repeat(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "g.db")
    store.migrate()
    records = load_world(store, 700, seed=13)
    g = load_arrays(store)
    latest = max([r["created_at"] for r in records] + [x["seen_at"] for r in records for x in r["links"]])
    assert to_rfc3339(data_as_of(g)) == latest  # labels are dated at creation by the loader
    config = TrainConfig(hidden=8, max_epochs=4, patience=4)
    bundles = []
    for name in ("a", "b"):
        settings = Settings(data_dir=tmp_path / name)
        report = train(store, settings, seed=3, config=config)
        assert report.data["as_of"] == latest
        bundles.append(Registry(settings.models_dir).load(report.version))
    a, b = bundles
    assert all(torch.equal(a.tensors[k], b.tensors[k]) for k in a.tensors)
    assert a.meta["booster"] == b.meta["booster"] and a.meta["calibration"] == b.meta["calibration"]
    store.close()
