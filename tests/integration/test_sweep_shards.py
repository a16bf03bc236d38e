"""Sharded sweeps publish exactly what the single-process sweep publishes, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ringfence.core.errors import ShardFailed, ShardingUnsupported
from ringfence.core.settings import Settings
from ringfence.gnn.score import Scorer
from ringfence.gnn.testing import load_world
from ringfence.gnn.train import TrainConfig, train
from ringfence.graph.model import SweepResult
from ringfence.graph.partition import stream_partition
from ringfence.graph.store import GraphStore
from ringfence.services.sweeps import run_sweep

AS_OF = datetime(2027, 1, 1, tzinfo=UTC)
HUB_CAP = 8  # small: many identifiers are hubs, so shards read halos of capped accounts


def _shard_links(store: GraphStore, shards: int) -> int:
    """A shard size that gives about `shards` shards."""
    part = stream_partition(store, HUB_CAP, 10**12)
    return max(1, (part.stats["accounts"] + part.stats["links"]) // shards)


def _same(sharded: SweepResult, single: SweepResult, published: dict[str, float | None],
          published_single: dict[str, float | None]) -> None:
    assert [(r.id, r.members) for r in sharded.rings] == [(r.id, r.members) for r in single.rings]
    assert [r.identifiers for r in sharded.rings] == [r.identifiers for r in single.rings]
    for a, b in zip(sharded.rings, single.rings, strict=True):
        assert a.risk == pytest.approx(b.risk, abs=1e-6), a.id
    # the sharded risks streamed from the staged shards into the publication: read them back
    assert len(sharded.account_risks) == len(single.account_risks) == len(published)
    assert None not in published.values() and published.keys() == published_single.keys()
    worst = max(abs(published[k] - published_single[k]) for k in published)  # type: ignore[operator]
    assert worst <= 1e-6


def _check(store: GraphStore, settings: Settings) -> None:
    # given: a first single-process sweep, so both compared sweeps read the same current rings
    run_sweep(store, settings, as_of=AS_OF)
    shard_links = _shard_links(store, 15)
    sharded_settings = settings.model_copy(update={"sweep_shard_links": shard_links})
    # when
    sharded = run_sweep(store, sharded_settings, as_of=AS_OF)
    published = store.current_rings()
    ids = [a.id for rows in store.stream_accounts() for a in rows]
    sharded_risks = store.get_risks(ids)
    single = run_sweep(store, settings, as_of=AS_OF)
    # then
    assert sharded.stats["partition"]["shards"] >= 10
    # the packing weighs links only (on Neo4j the first sweep's MEMBER_OF relationships are not links)
    assert sharded.stats["partition"]["links"] == single.stats["links"]
    assert sharded.stats["halo_accounts"] > 0  # hubs crossed shards
    figures = sharded.stats["shard_figures"]  # what sizes a worker: recorded per shard, summed here
    assert figures["count"] == sharded.stats["partition"]["shards"]
    assert figures["peak_rss_mb_max"] > 0 and 0 < figures["seconds_max"] <= figures["seconds_sum"]
    assert 0 < figures["units_max"] < sharded.stats["partition"]["accounts"] + sharded.stats["partition"]["links"]
    assert ("gds_components" in sharded.stats["partition"]) == hasattr(store, "has_gds")
    assert len(single.rings) >= 10
    _same(sharded, single, sharded_risks, store.get_risks(ids))
    assert published == store.current_rings()
    assert store.current_sweep().sweep_id == single.sweep_id  # type: ignore[union-attr]
    assert store.shard_statuses(sharded.sweep_id) == {}


def test_sharded_sweep_equals_single_process_heuristic(store: GraphStore, tmp_path: Path) -> None:
    load_world(store, 3000, seed=11)
    settings = Settings(data_dir=tmp_path, hub_cap=HUB_CAP)  # "auto": GDS WCC on Neo4j
    assert Scorer.load(settings).version == "heuristic-1"
    _check(store, settings)


# SQLite only: on Neo4j the same world and model show one account (a0002108) whose single-process
# (batch) score differs from its online score by 8e-4 while its shard score equals the online one
# exactly: a batch-vs-online gap of the existing scorer on that backend, not of sharding (see the
# branch's report); the heuristic leg above runs on both backends.
def test_sharded_sweep_equals_single_process_trained(sqlite_store: GraphStore, tmp_path: Path) -> None:
    load_world(sqlite_store, 2500, seed=12)
    settings = Settings(data_dir=tmp_path, hub_cap=HUB_CAP, sweep_partition="stream")
    train(sqlite_store, settings, seed=5, config=TrainConfig(hidden=16, max_epochs=4, patience=4))
    assert Scorer.load(settings).version != "heuristic-1"
    _check(sqlite_store, settings)


def test_a_two_hop_model_refuses_sharding_and_publishes_nothing(sqlite_store: GraphStore, tmp_path: Path) -> None:
    load_world(sqlite_store, 600, seed=13)
    settings = Settings(data_dir=tmp_path, hub_cap=HUB_CAP, sweep_shard_links=500)
    train(sqlite_store, settings, seed=5, config=TrainConfig(hidden=8, max_epochs=2, patience=2, hop2=True))
    with pytest.raises(ShardingUnsupported, match="2-hop"):
        run_sweep(sqlite_store, settings, as_of=AS_OF)
    assert sqlite_store.current_sweep() is None


def test_a_shard_gone_while_publishing_publishes_nothing(store: GraphStore, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # given: a published sweep, and a sharded sweep whose shard 1 vanishes after the finishing step
    # matched the rings (it reads each shard twice: `services.staged_lineage`), while its risks
    # stream into the publication (`StagedRisks`)
    load_world(store, 800, seed=14)
    settings = Settings(data_dir=tmp_path, hub_cap=HUB_CAP, sweep_partition="stream")
    first = run_sweep(store, settings, as_of=AS_OF)
    counts = store.publication_counts()  # type: ignore[attr-defined]
    ids = [a.id for rows in store.stream_accounts() for a in rows]
    risks = store.get_risks(ids)
    reads: dict[int, int] = {}
    real = store.staged_shard

    def vanishing(sweep_id: str, shard: int) -> tuple[str, bytes] | None:
        reads[shard] = reads.get(shard, 0) + 1
        return None if shard == 1 and reads[shard] > 2 else real(sweep_id, shard)

    monkeypatch.setattr(store, "staged_shard", vanishing)
    # when
    with pytest.raises(ShardFailed, match="shard 1 .* no longer staged"):
        run_sweep(store, settings.model_copy(update={"sweep_shard_links": _shard_links(store, 4)}), as_of=AS_OF)
    # then: the publication read shard 0's risks, then failed; nothing of it is left or visible
    assert reads[0] == 3 and reads[1] == 3
    assert store.current_sweep().sweep_id == first.sweep_id  # type: ignore[union-attr]
    assert store.publication_counts() == counts  # type: ignore[attr-defined]
    assert store.get_risks(ids) == risks and None not in risks.values()
