"""The small-batch paths of `gnn.graphdata` (an online score's subgraph: tens of edges) give the same
bits as the paths sweeps take (sparse products, a column at a time): online = batch depends on it."""

from __future__ import annotations

from unittest import mock

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ringfence.gnn import graphdata


@st.composite
def graphs(draw: st.DrawFn) -> dict[str, np.ndarray | int | None]:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    na, ni = draw(st.integers(1, 25)), draw(st.integers(1, 12))
    ne, nm = draw(st.integers(0, 60)), draw(st.integers(0, 60))
    lab = np.zeros((ne, 6), dtype=np.float32)
    lab[:, 0] = rng.random(ne) < 0.3  # evidence edges, which cohesion leaves out
    return {
        "e_acc": rng.integers(0, na, ne), "e_id": rng.integers(0, ni, ne), "lab": lab,
        "m_acc": rng.integers(0, na, nm), "m_id": rng.integers(0, ni, nm), "na": na,
        # leave-one-out copies: rows standing for another account, which they must not pair with
        "origin": rng.integers(0, na, na) if draw(st.booleans()) else None,
        "fraud": rng.random(na) < 0.4,
    }


@settings(max_examples=300, deadline=None)
@given(graphs(), st.integers(1, 400))
def test_joined_pairs_count_what_the_sparse_product_counts(g: dict, chunk_pairs: int) -> None:
    e_acc, e_id, m_acc, m_id, na, origin = g["e_acc"], g["e_id"], g["m_acc"], g["m_id"], g["na"], g["origin"]
    cohesion = graphdata.cohesion(e_acc, e_id, g["lab"], m_acc, m_id, na, origin, chunk_pairs)
    rings = graphdata.ring_evidence(e_acc, e_id, g["fraud"], m_acc, m_id, na, origin, chunk_pairs)
    with mock.patch.object(graphdata, "JOINED_PAIRS", -1):  # every input takes the sparse road
        np.testing.assert_array_equal(
            cohesion, graphdata.cohesion(e_acc, e_id, g["lab"], m_acc, m_id, na, origin, chunk_pairs))
        np.testing.assert_array_equal(
            rings, graphdata.ring_evidence(e_acc, e_id, g["fraud"], m_acc, m_id, na, origin, chunk_pairs))


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 80), st.integers(0, 40), st.integers(1, 8))
def test_the_signup_view_of_all_columns_at_once_is_the_one_column_at_a_time(seed: int, ne: int, da: int,
                                                                             hub_cap: int) -> None:
    rng = np.random.default_rng(seed)
    na, ni = int(rng.integers(1, 30)), int(rng.integers(1, 10))
    # features over many magnitudes, so that a changed order of additions would show in the bits
    x = (rng.normal(size=(na, da)) * 10.0 ** rng.integers(-3, 4, size=(na, da))).astype(np.float32)
    e_acc, e_id = rng.integers(0, na, ne), rng.integers(0, ni, ne)
    e_first = rng.integers(0, 4, ne).astype(np.float64)  # few distinct times: ties
    order = np.lexsort((e_acc, e_first, e_id))
    starts = np.flatnonzero(np.r_[True, e_id[order][1:] != e_id[order][:-1]]) if ne else np.zeros(0, np.int64)
    view = graphdata.signup_view(x, e_acc, e_first, order, starts, hub_cap)
    with mock.patch.object(graphdata, "SMALL_NNZ", -1):
        np.testing.assert_array_equal(view, graphdata.signup_view(x, e_acc, e_first, order, starts, hub_cap))
