"""Staged shard results on every backend, and the partition's two engines (GDS WCC inside Neo4j,
the streamed fallback) agreeing on the same graph."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from ringfence.core.settings import Settings
from ringfence.gnn.testing import load_world
from ringfence.graph.model import AccountIn, IdentifierKey, Link
from ringfence.graph.partition import Partition, stream_partition
from ringfence.graph.store import GraphStore
from ringfence.services.shards import plan

HUB_CAP = 8


def test_staging_a_shard_again_replaces_it(store: GraphStore) -> None:
    # given
    store.stage_shard("s1", 0, "done", b"\x00first")
    store.stage_shard("s1", 1, "failed", b"boom")
    store.stage_shard("s2", 0, "done", b"other sweep")
    # when a repeated shard task stages shard 0 again
    store.stage_shard("s1", 0, "done", b"\x00second")
    # then
    assert store.staged_shard("s1", 0) == ("done", b"\x00second")
    assert store.staged_shard("s1", 1) == ("failed", b"boom") and store.staged_shard("s1", 2) is None
    assert store.shard_statuses("s1") == {0: "done", 1: "failed"}
    store.drop_staged("s1")
    assert store.staged_shard("s1", 0) is None and store.shard_statuses("s1") == {}
    assert store.staged_shard("s2", 0) == ("done", b"other sweep") and store.shard_statuses("s2") == {0: "done"}
    store.drop_staged("nothing-staged")


@pytest.fixture
def neo4j_store(request: pytest.FixtureRequest) -> GraphStore:
    neo: GraphStore = request.getfixturevalue("_neo4j_store")
    neo.reset()
    return neo


def _components(part: Partition) -> set[frozenset[str]]:
    return {frozenset(part.account_ids[a] for a in np.flatnonzero(part.component == c).tolist())
            for c in np.unique(part.component).tolist()}


def test_gds_wcc_gives_the_components_of_the_streamed_fallback(neo4j_store: GraphStore, tmp_path: Path) -> None:
    # given a world with hubs (cap 8) and a benign identifier
    load_world(neo4j_store, 1500, seed=21)
    some = next(iter(next(neo4j_store.stream_links(chunk_size=10))))
    neo4j_store.set_benign(IdentifierKey(some.type, some.id), True)
    assert neo4j_store.has_gds()  # type: ignore[attr-defined]
    reference = stream_partition(neo4j_store, HUB_CAP, 400)
    # when
    gds = plan(neo4j_store, Settings(data_dir=tmp_path, hub_cap=HUB_CAP, sweep_shard_links=400,
                                     sweep_partition="gds"))
    # then: the same components (GDS numbers them its own way, so it packs them in another order)
    assert gds.stats["gds_components"] > 0
    found = {frozenset(neo4j_store.component_accounts([c])) for s in gds.shards for c in s.tolist()}
    assert found == _components(reference)
    every = sorted(a for s in gds.shards for a in neo4j_store.component_accounts(s.tolist()))
    assert every == reference.account_ids
    assert {k: v for k, v in gds.stats.items() if k not in ("gds_components", "shards")} == {
        k: v for k, v in reference.stats.items() if k not in ("hubs", "shards")}
    assert gds.stats["components"] > 100


def test_the_store_partition_is_the_streamed_arrays_partition(store: GraphStore) -> None:
    # given a world with hubs (cap 8), a benign identifier and identifiers split across read chunks
    load_world(store, 1200, seed=23)
    some = next(iter(next(store.stream_links(chunk_size=10))))
    store.set_benign(IdentifierKey(some.type, some.id), True)
    # when
    lean = store.write_components(HUB_CAP, chunk_size=97).partition(HUB_CAP, 300)
    reference = stream_partition(store, HUB_CAP, 300)
    # then: the shards, read back by component from the store, are the reference's
    assert [store.component_accounts(s.tolist()) for s in lean.shards] == [
        reference.shard_ids(k) for k in range(len(reference.shards))]
    assert lean.oversize == reference.oversize
    assert lean.stats == reference.stats and lean.stats["hubs"] > 0 and lean.stats["components"] > 100


def test_a_new_partition_replaces_the_last(store: GraphStore) -> None:
    # given a partition written, then a link that joins two of its components
    load_world(store, 300, seed=24)
    first = store.write_components(HUB_CAP).partition(HUB_CAP, 10**9)
    a, b = store.component_accounts([0])[0], store.component_accounts([1])[0]
    store.upsert_accounts([AccountIn(a, datetime(2026, 1, 1, tzinfo=UTC), {}, (Link("device", "joins-0-1"),)),
                           AccountIn(b, datetime(2026, 1, 1, tzinfo=UTC), {}, (Link("device", "joins-0-1"),))])
    # when
    second = store.write_components(HUB_CAP).partition(HUB_CAP, 10**9)
    # then: one component fewer, every account once, and a and b together
    assert second.stats["components"] == first.stats["components"] - 1
    assert store.component_accounts(second.shards[0].tolist()) == sorted(
        a.id for rows in store.stream_accounts() for a in rows)
    assert {a, b} <= set(store.component_accounts([0]))


def test_a_shard_read_is_the_neighbourhood_of_its_accounts(store: GraphStore) -> None:
    # given a world with hubs, a benign identifier and a published sweep (rings)
    load_world(store, 800, seed=22)
    some = next(iter(next(store.stream_links(chunk_size=10))))
    store.set_benign(IdentifierKey(some.type, some.id), True)
    part = stream_partition(store, HUB_CAP, 300)
    ids = part.shard_ids(len(part.shards) // 2) + part.shard_ids(0)
    # when
    bulk = store.shard_neighbourhood(ids, HUB_CAP)
    plain = store.neighbourhood(ids, hops=1, hub_cap=HUB_CAP)
    # then
    assert bulk.capped  # the shard touches hubs: its halo is read
    assert sorted(bulk.seeds) == sorted(plain.seeds)
    assert bulk.accounts == plain.accounts
    assert bulk.identifiers == plain.identifiers
    assert set(bulk.edges) == set(plain.edges) and len(bulk.edges) == len(plain.edges)
    assert set(bulk.capped) == set(plain.capped)
    assert bulk.benign == plain.benign and bulk.rings == plain.rings
