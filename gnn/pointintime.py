"""Point-in-time examples: each account as the onboarding call saw it at sign-up.

An online score at sign-up reads the account's 1-hop subgraph as the store held it then: its
links first seen by then, the accounts linked to those identifiers by then (the `hub_cap`
earliest per identifier, ties by account order, as `store.neighbourhood` expands them), their
labels recorded by then, identifier degrees and ages as of then. `point_in_time` builds exactly
that subgraph for every example account at its own time `created_at + window`, as a disjoint
union of `RawGraph`s (copies of the accounts and identifiers), which then goes through the same
`assemble` and `Predictor` code as an online call. `tests/unit/test_point_in_time.py` pins the
equality against a real online score on a store holding only what existed then.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from ringfence.gnn.features import DAY, FeatureSchema
from ringfence.gnn.graphdata import RawGraph

SIGNUP_WINDOW_S = 3600.0  # an account's links first seen within this of its creation come with the sign-up


@dataclass
class PointInTime:
    raw: RawGraph  # the disjoint union of the examples' subgraphs (x_acc encoded)
    rows: np.ndarray  # int64 [n_examples]: each example account's row in `raw`
    source: np.ndarray  # int64 [n_examples]: each example's index in the source graph
    times: np.ndarray  # float64 [n_examples]: the time each example is seen at


def point_in_time(
    full: RawGraph, labelled_at: np.ndarray, schema: FeatureSchema, attributes: Sequence[Mapping[str, Any]],
    examples: np.ndarray, hub_cap: int, window_s: float = SIGNUP_WINDOW_S, as_of: datetime | None = None,
) -> PointInTime:
    """The examples' sign-up subgraphs as one `RawGraph`.

    Args:
        full: the whole graph (accounts, links with first_seen, identifiers; labels as stored).
        labelled_at: epoch seconds per account of its label (NaN: undated, counts from creation).
        schema: encodes the accounts' attributes (`attributes`, aligned with `full.account_ids`).
        examples: indices into `full` of the accounts to see at sign-up.
        hub_cap: the scorer's hub cap.
        window_s: the example's time is its created_at plus this.
        as_of: a time no example is seen after (the training snapshot); None: no limit.
    """
    ne = len(full.e_acc)
    order = np.lexsort((full.e_acc, full.e_first, full.e_id))
    ni = len(full.id_keys)
    id_start = np.searchsorted(full.e_id[order], np.arange(ni + 1), side="left")
    by_acc = np.argsort(full.e_acc, kind="stable")
    acc_start = np.searchsorted(full.e_acc[by_acc], np.arange(len(full.account_ids) + 1), side="left")
    s_first, s_acc = full.e_first[order], full.e_acc[order]
    limit = as_of.timestamp() if as_of is not None else np.inf
    accounts: list[int] = []  # source index per union account
    acc_time: list[float] = []
    ids: list[int] = []  # source identifier per union identifier
    id_time: list[float] = []
    id_deg: list[int] = []
    ea: list[int] = []
    ei: list[int] = []
    ef: list[float] = []
    rows = np.zeros(len(examples), dtype=np.int64)
    times = np.zeros(len(examples))
    for k, a in enumerate(np.asarray(examples, dtype=np.int64).tolist()):
        t = min(float(full.created[a]) + window_s, limit)
        times[k] = t
        local: dict[int, int] = {a: len(accounts)}
        rows[k] = len(accounts)
        accounts.append(a)
        acc_time.append(t)
        own = by_acc[acc_start[a]:acc_start[a + 1]]
        own = own[full.e_first[own] <= t]
        for e in own.tolist():
            j = int(full.e_id[e])
            lo, hi = int(id_start[j]), int(id_start[j + 1])
            cut = lo + int(np.searchsorted(s_first[lo:hi], t, side="right"))
            seen = s_acc[lo:cut]
            seen = seen[full.created[seen] <= t]
            jj = len(ids)
            ids.append(j)
            id_time.append(t)
            id_deg.append(len(seen))
            members = seen[:hub_cap].tolist()
            firsts = s_first[lo:cut][full.created[s_acc[lo:cut]] <= t][:hub_cap].tolist()
            if a not in members:
                members.append(a)
                firsts.append(float(full.e_first[e]))
            for b, fb in zip(members, firsts, strict=True):
                if b not in local:
                    local[b] = len(accounts)
                    accounts.append(b)
                    acc_time.append(t)
                ea.append(local[b])
                ei.append(jj)
                ef.append(fb)
    src = np.asarray(accounts, dtype=np.int64)
    at = np.asarray(acc_time)
    # Identifiers ordered by type (the batch's type blocks), stably.
    id_src = np.asarray(ids, dtype=np.int64)
    id_order = np.argsort(full.id_type[id_src] if len(id_src) else id_src, kind="stable")
    new_pos = np.empty(len(id_order), dtype=np.int64)
    new_pos[id_order] = np.arange(len(id_order))
    label = full.label[src].copy()
    dated = ~np.isnan(labelled_at[src])
    label[dated & (labelled_at[src] > at)] = -1
    created = full.created[src]
    x = schema.encode_attributes(created, [attributes[i] for i in src.tolist()], datetime.fromtimestamp(0, UTC))
    x[:, 0] = np.log1p(np.maximum(at - created, 0.0) / DAY)
    raw = RawGraph(
        account_ids=[f"{full.account_ids[i]}@{int(t)}" for i, t in zip(src.tolist(), at.tolist(), strict=True)],
        x_acc=x,
        label=label.astype(np.int8),
        created=created,
        id_keys=[full.id_keys[j] for j in id_src[id_order].tolist()],
        id_type=full.id_type[id_src[id_order]].astype(np.int64),
        id_degree=np.asarray(id_deg, dtype=np.int64)[id_order],
        e_acc=np.asarray(ea, dtype=np.int64),
        e_id=new_pos[np.asarray(ei, dtype=np.int64)] if ei else np.zeros(0, dtype=np.int64),
        e_first=np.asarray(ef, dtype=np.float64),
        id_as_of=np.asarray(id_time)[id_order],
        acc_as_of=at,
    )
    del ne
    return PointInTime(raw, rows, np.asarray(examples, dtype=np.int64), times)


def union(a: RawGraph, b: RawGraph, as_of: datetime) -> RawGraph:
    """`a` and `b` side by side (b's rows after a's), identifiers re-ordered by type."""
    na = len(a.account_ids)
    ids_a = np.full(len(a.id_keys), as_of.timestamp()) if a.id_as_of is None else a.id_as_of
    ids_b = np.full(len(b.id_keys), as_of.timestamp()) if b.id_as_of is None else b.id_as_of
    types = np.concatenate([a.id_type, b.id_type])
    order = np.argsort(types, kind="stable")
    pos = np.empty(len(order), dtype=np.int64)
    pos[order] = np.arange(len(order))
    keys = list(a.id_keys) + list(b.id_keys)
    e_id = np.concatenate([a.e_id, b.e_id + len(a.id_keys)])
    return RawGraph(
        account_ids=list(a.account_ids) + list(b.account_ids),
        x_acc=np.concatenate([a.x_acc, b.x_acc]),
        label=np.concatenate([a.label, b.label]).astype(np.int8),
        created=np.concatenate([a.created, b.created]),
        id_keys=[keys[j] for j in order.tolist()],
        id_type=types[order],
        id_degree=np.concatenate([a.id_degree, b.id_degree])[order],
        e_acc=np.concatenate([a.e_acc, b.e_acc + na]),
        e_id=pos[e_id],
        e_first=np.concatenate([a.e_first, b.e_first]),
        id_as_of=np.concatenate([ids_a, ids_b])[order],
    )
