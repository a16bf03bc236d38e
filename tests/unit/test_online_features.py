"""The trees' inputs read from an account's 1-hop subgraph are bit for bit its row of the whole graph.

Equal within a tolerance is not enough for trees: an input one rounding step the other side of a
split threshold moves the score by the leaf's value. Subgraph and whole graph list edges in other
orders, so every sum must come out the same in any order (`baselines.hop1_features` sums in
float64, where a few float32 values add exactly).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ringfence.gnn.baselines import hop1_features
from ringfence.gnn.features import IDENTIFIER_DIM, FeatureSchema
from ringfence.gnn.graphdata import assemble, raw_from_store, raw_from_subgraph
from ringfence.gnn.model import ModelConfig
from ringfence.gnn.testing import load_world
from ringfence.graph.sqlite_store import SQLiteStore

AS_OF = datetime(2027, 1, 1, tzinfo=UTC)
HUB_CAP = 8


def test_subgraph_tree_inputs_are_the_whole_graph_rows_bit_for_bit(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "g.db")
    store.migrate()
    load_world(store, 1200, seed=4)
    _, attributes = raw_from_store(store, None, AS_OF)
    schema = FeatureSchema.fit_attributes(attributes)
    full, _ = raw_from_store(store, schema, AS_OF)
    trees = ModelConfig(schema.account_dim, IDENTIFIER_DIM, structural_timing=False, presence_monotone=True,
                        signup_view=True, cohesion=True, ring_evidence=True, evidence_prior=True, label_share=True,
                        legit_dilutes=True)
    whole = hop1_features(assemble(full, HUB_CAP, AS_OF), trees)
    row = {a: k for k, a in enumerate(full.account_ids)}
    # the accounts with the most links to shared identifiers: the longest sums, in the most orders
    degree = np.bincount(full.e_acc, weights=full.id_degree[full.e_id] > 1, minlength=len(row))
    chosen = [full.account_ids[k] for k in np.argsort(-degree, kind="stable")[:60]]
    rng = np.random.default_rng(0)
    for a in chosen:
        raw = raw_from_subgraph(store.neighbourhood([a], hops=1, hub_cap=HUB_CAP), schema, AS_OF)
        # a store may return the subgraph's links in any order (Neo4j does): shuffle them
        order = rng.permutation(len(raw.e_acc))
        raw = dataclasses.replace(raw, e_acc=raw.e_acc[order], e_id=raw.e_id[order], e_first=raw.e_first[order])
        mine = hop1_features(assemble(raw, HUB_CAP, AS_OF), trees)[raw.account_ids.index(a)]
        assert np.array_equal(mine, whole[row[a]]), (a, np.flatnonzero(mine != whole[row[a]]).tolist())
    store.close()
