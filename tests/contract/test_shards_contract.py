"""Staged shard results on every backend, and the partition's two engines (GDS WCC inside Neo4j,
the streamed fallback) agreeing on the same graph."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ringfence.core.settings import Settings
from ringfence.gnn.testing import load_world
from ringfence.graph.model import IdentifierKey
from ringfence.graph.partition import canonical, stream_partition
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


def test_gds_wcc_gives_the_components_of_the_streamed_fallback(neo4j_store: GraphStore, tmp_path: Path) -> None:
    # given a world with hubs (cap 8) and a benign identifier
    load_world(neo4j_store, 1500, seed=21)
    some = next(iter(next(neo4j_store.stream_links(chunk_size=10))))
    neo4j_store.set_benign(IdentifierKey(some.type, some.id), True)
    assert neo4j_store.has_gds()  # type: ignore[attr-defined]
    # when
    streamed = stream_partition(neo4j_store, HUB_CAP, 400)
    gds = plan(neo4j_store, Settings(data_dir=tmp_path, hub_cap=HUB_CAP, sweep_shard_links=400,
                                     sweep_partition="gds"))
    # then: the same components, hence the same shards
    assert gds.stats["gds_components"] > 0
    assert np.array_equal(canonical(gds.component), streamed.component)
    assert [s.tolist() for s in gds.shards] == [s.tolist() for s in streamed.shards]
    assert gds.stats["components"] == streamed.stats["components"] > 100


def test_the_store_partition_is_the_streamed_arrays_partition(store: GraphStore) -> None:
    # given a world with hubs (cap 8), a benign identifier and identifiers split across read chunks
    load_world(store, 1200, seed=23)
    some = next(iter(next(store.stream_links(chunk_size=10))))
    store.set_benign(IdentifierKey(some.type, some.id), True)
    # when
    lean = store.linking_components(HUB_CAP, chunk_size=97).partition(HUB_CAP, 300)
    reference = stream_partition(store, HUB_CAP, 300)
    # then
    assert list(lean.account_ids) == reference.account_ids
    assert lean.shard_ids(1) == reference.shard_ids(1)
    assert np.array_equal(canonical(lean.component), reference.component)
    assert [s.tolist() for s in lean.shards] == [s.tolist() for s in reference.shards]
    assert lean.stats == reference.stats and lean.stats["hubs"] > 0 and lean.stats["components"] > 100


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
