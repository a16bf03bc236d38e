"""Scoring: online (one or a few accounts, from a 1-hop subgraph) and batch (the whole graph).

Both paths build the same `GraphBatch` through `gnn.graphdata.assemble`, with the same hub
cap, so an account's online score equals its sweep score (to float rounding) whenever the
store has not changed in between. The GNN's message passing sees the account, its
identifiers (with full degrees) and the accounts sharing them (1 hop); a model trained with
`hop2` also reads the account's own 2-hop labelled-fraud counts, so online scoring then
expands `neighbourhood(hops=2)` (the heuristic and older models use `hops=1`).

Reasons are leave-one-identifier-out: the weight of an identifier is how much the risk drops
when the account's link to it is removed (all removals are scored in one extra forward pass).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import numpy as np
import torch
from torch_geometric import EdgeIndex

from ringfence.core.clock import utcnow
from ringfence.core.errors import NotFound
from ringfence.core.settings import Settings
from ringfence.gnn.features import FeatureSchema
from ringfence.gnn.graphdata import (
    GraphBatch,
    account_index,
    account_labels,
    assemble,
    finalize,
    raw_from_arrays,
    raw_from_subgraph,
)
from ringfence.gnn.heuristic import VERSION as HEURISTIC_VERSION
from ringfence.gnn.heuristic import heuristic_risk
from ringfence.gnn.predictor import Predictor
from ringfence.gnn.registry import Registry
from ringfence.graph.arrays import GraphArrays, load_arrays
from ringfence.graph.model import Score, Subgraph
from ringfence.graph.store import GraphStore

HOPS = 1  # account → identifier → account: the receptive field of the 2-layer bipartite GNN


class Scorer:
    """The active model (or the cold-start heuristic) with online and batch entry points."""

    version: str

    def __init__(self, settings: Settings, predictor: Predictor | None) -> None:
        self.settings = settings
        self.predictor = predictor
        self.version = predictor.version if predictor is not None else HEURISTIC_VERSION
        self.schema = predictor.schema if predictor is not None else FeatureSchema()
        # A model fed its own 2-hop label counts needs the 2-hop neighbourhood online.
        self.hops = 2 if predictor is not None and predictor.gnn.config.hop2 else HOPS

    @classmethod
    def load(cls, settings: Settings) -> Scorer:
        registry = Registry(settings.models_dir)
        version = registry.active_version()
        if version is None:
            return cls(settings, None)
        return cls(settings, Predictor.from_bundle(registry.load(version)))

    # -- core ----------------------------------------------------------------------------
    def _risk(self, b: GraphBatch, in_ring: np.ndarray, rows: np.ndarray | None = None, threads: int = 2) -> np.ndarray:
        if self.predictor is None:
            p = heuristic_risk(b, in_ring)
            return p if rows is None else p[rows]
        # Online subgraphs are tiny: one thread avoids OpenMP wake-up costs; sweeps use two cores,
        # unless the process allows fewer (a jobs-only worker runs with one: workers/app.py).
        before = torch.get_num_threads()
        threads = max(1, min(threads, before))
        if before != threads:
            torch.set_num_threads(threads)
        try:
            return self.predictor.predict(b, rows, threads=threads)
        finally:
            if before != threads:
                torch.set_num_threads(before)

    # -- online --------------------------------------------------------------------------
    def score_accounts(
        self, store: GraphStore, account_ids: Sequence[str], as_of: datetime | None = None
    ) -> list[Score]:
        """Score accounts from their 1-hop subgraphs, with reasons; unknown ids: `NotFound`."""
        as_of = as_of or utcnow()
        ids = list(dict.fromkeys(account_ids))
        if not ids:
            return []
        sub = store.neighbourhood(ids, hops=self.hops, hub_cap=self.settings.hub_cap)
        return self.score_subgraph(sub, ids, as_of)

    def score_subgraph(self, sub: Subgraph, account_ids: Sequence[str], as_of: datetime) -> list[Score]:
        """`score_accounts` from a subgraph already read: `neighbourhood(account_ids,
        hops=self.hops, hub_cap=settings.hub_cap)` (or `upsert_and_neighbourhood`'s), with rings."""
        ids = list(dict.fromkeys(account_ids))
        if not ids:
            return []
        missing = [a for a in ids if a not in sub.accounts]
        if missing:
            raise NotFound(f"{len(missing)} unknown account id(s)", {"account_ids": missing[:20]})
        raw = raw_from_subgraph(sub, self.schema, as_of)
        # Finalized once, with the leave-one-out copies (the aggregation matrices cost ~0.5 ms).
        b = assemble(raw, self.settings.hub_cap, as_of, finalized=False)
        index = {a: k for k, a in enumerate(raw.account_ids)}
        rings = sub.rings
        in_ring = np.array([a in rings for a in raw.account_ids], dtype=bool)

        seed_rows = np.array([index[a] for a in ids], dtype=np.int64)
        aug, loo = _with_loo_copies(b, seed_rows)
        copy_of = np.array([r for r, (copies, _) in loo.items() for _ in copies], dtype=np.int64)
        in_ring_aug = np.concatenate([in_ring, in_ring[copy_of]])
        all_rows = np.concatenate([seed_rows, *[np.asarray(c, dtype=np.int64) for c, _ in loo.values()]]) \
            if loo else seed_rows
        p_all = self._risk(aug, in_ring_aug, all_rows, threads=1)
        p_seed = dict(zip(seed_rows.tolist(), p_all[: len(seed_rows)].tolist(), strict=True))
        p_loo = p_all[len(seed_rows):]

        e_acc, e_id = b.e_acc.numpy(), b.e_id.numpy()
        capped = b.x_id.numpy()[:, 6] > 0.5
        lab = raw.label
        scored_at = utcnow()
        out: list[Score] = []
        offset = 0
        for a, r in zip(ids, seed_rows.tolist(), strict=True):
            copies, idents = loo.get(r, ([], []))
            reasons: list[dict[str, Any]] = []
            for k, j in enumerate(idents):
                others = e_acc[(e_id == j) & (e_acc != r)]
                key = raw.id_keys[j]
                reason: dict[str, Any] = {
                    "identifier": {"type": key.type, "id": key.id},
                    "shared_with": int(max(int(raw.id_degree[j]) - 1, 0)),
                    "flagged_accounts": int((lab[others] == 1).sum()),
                    "ring_ids": sorted({rings[raw.account_ids[o]] for o in others if raw.account_ids[o] in rings}),
                    "weight": round(float(p_seed[r] - p_loo[offset + k]), 6),
                }
                if capped[j]:
                    reason["capped"] = True
                reasons.append(reason)
            offset += len(copies)
            reasons.sort(key=lambda x: (-x["weight"], -x["flagged_accounts"], -x["shared_with"],
                                        x["identifier"]["type"], x["identifier"]["id"]))
            out.append(Score(a, float(p_seed[r]), self.version, scored_at, as_of, reasons, rings.get(a)))
        return out

    # -- batch ---------------------------------------------------------------------------
    def score_all(
        self,
        store: GraphStore,
        as_of: datetime | None = None,
        chunk_size: int = 200_000,
        arrays: GraphArrays | None = None,
    ) -> dict[str, float]:
        """Full-graph scores of every account, streamed from the store in chunks.

        `arrays`: the graph already read with `load_arrays(store, attributes=self.schema)` (a
        sweep reads it once for detection and scoring); read from `store` when None.
        """
        as_of = as_of or utcnow()
        if arrays is None:
            arrays = load_arrays(store, attributes=self.schema, chunk_size=chunk_size)
        elif arrays.columns is None:
            raise ValueError("score_all needs arrays loaded with attributes=scorer.schema")
        raw = raw_from_arrays(arrays, as_of)
        raw.x_acc = self.schema.encode_columns(raw.created, arrays.columns or {}, as_of)
        if not raw.account_ids:
            return {}
        b = assemble(raw, self.settings.hub_cap, as_of)
        if self.predictor is None:
            members = {m for ms in store.current_rings().values() for m in ms}
            in_ring = np.array([a in members for a in raw.account_ids], dtype=bool)
        else:
            in_ring = np.zeros(len(raw.account_ids), dtype=bool)
        p = self._risk(b, in_ring, threads=2 if len(raw.account_ids) >= 20_000 else 1)
        return dict(zip(raw.account_ids, p.tolist(), strict=True))

    def score_seeds(self, sub: Subgraph, account_ids: Sequence[str], as_of: datetime) -> dict[str, float]:
        """Risks of `account_ids` (no reasons) from their subgraph `neighbourhood(account_ids,
        hops=1, hub_cap=settings.hub_cap)`: a sharded sweep's scores, equal to `score_all`'s on
        the same store and `as_of` (the receptive field is that subgraph; `services.shards`)."""
        if self.hops != HOPS:
            raise ValueError("a model reading 2-hop label counts cannot score from 1-hop shards")
        raw = raw_from_subgraph(sub, self.schema, as_of)
        if not raw.account_ids:
            return {}
        b = assemble(raw, self.settings.hub_cap, as_of)
        index = {a: k for k, a in enumerate(raw.account_ids)}
        rows = np.array([index[a] for a in account_ids], dtype=np.int64)
        if self.predictor is None:
            in_ring = np.array([a in sub.rings for a in raw.account_ids], dtype=bool)
        else:
            in_ring = np.zeros(len(raw.account_ids), dtype=bool)
        p = self._risk(b, in_ring, rows, threads=2 if len(rows) >= 20_000 else 1)
        return dict(zip(account_ids, np.asarray(p, dtype=np.float64).tolist(), strict=True))


def _with_loo_copies(b: GraphBatch, seed_rows: np.ndarray) -> tuple[GraphBatch, dict[int, tuple[list[int], list[int]]]]:
    """Append, for each seed and each of its identifiers j, a copy of the seed linked to all its
    identifiers but j (the copies send no messages). Returns the finalized batch (`b` may be
    unfinalized) and, per seed row, (copy rows, identifier indices) in matching order."""
    e_acc, e_id = b.e_acc.numpy(), b.e_id.numpy()
    n = b.x_acc.shape[0]
    new_rows: list[int] = []
    add_acc: list[np.ndarray] = []
    add_edges: list[np.ndarray] = []
    loo: dict[int, tuple[list[int], list[int]]] = {}
    nxt = n
    for r in seed_rows.tolist():
        if r in loo:
            continue
        own = np.flatnonzero(e_acc == r)
        idents = e_id[own].tolist()
        copies = []
        for k in range(len(own)):
            keep = np.delete(own, k)
            add_acc.append(np.full(len(keep), nxt, dtype=np.int64))
            add_edges.append(keep)
            new_rows.append(r)
            copies.append(nxt)
            nxt += 1
        loo[r] = (copies, idents)
    base = finalize(b)
    if not new_rows:
        return base, loo
    # The copies send no messages and each copy's rows depend on its own edges only, so the
    # augmented batch is the base batch plus the copies' account side (no second `finalize`).
    edges = np.concatenate(add_edges)
    copy_acc = np.concatenate(add_acc)
    copy_rows = np.asarray(new_rows, dtype=np.int64)
    edges_t = torch.from_numpy(edges)
    e_lab_copies = b.e_lab[edges_t]
    hop2_copies = None if b.hop2 is None else b.hop2[copy_rows]
    lab_copies = account_labels(copy_acc - n, e_lab_copies.numpy(), len(new_rows))
    assert base.lab_acc is not None
    n_aug = n + len(new_rows)
    all_acc = np.concatenate([e_acc, copy_acc])
    all_id = np.concatenate([e_id, e_id[edges]])
    all_lab = torch.cat([b.e_lab, e_lab_copies])
    aug = replace(
        base,
        x_acc=torch.cat([b.x_acc, b.x_acc[torch.from_numpy(copy_rows)]]),
        e_acc=torch.from_numpy(all_acc),
        e_id=torch.from_numpy(all_id),
        e_lab=all_lab,
        e_prior=None if b.e_prior is None else torch.cat([b.e_prior, b.e_prior[edges_t]]),
        # copies keep the seed's 2-hop counts (reasons weigh the 1-hop evidence of each identifier)
        hop2=None if b.hop2 is None else np.concatenate([b.hop2, hop2_copies]),
        # the copies send no messages: the same messaging edges among more (source) accounts
        msg_index={rel: _with_sources(ei, n_aug) for rel, ei in base.msg_index.items()},
        acc_index=account_index(all_acc, all_id, all_lab.numpy(), base.type_offsets, n_aug),
        lab_acc=torch.cat([base.lab_acc, lab_copies]),
        cohesion=None,  # `account_cohesion` reads the copies' edges and `origin` when a model asks
        ring_evidence=None,  # likewise `account_ring_evidence` (the copies send no messages: labels unread)
        fraud_acc=None if b.fraud_acc is None else np.concatenate([b.fraud_acc, b.fraud_acc[copy_rows]]),
        # a copy's links carry its original's messages (leave-self-out sums subtract those)
        in_cap=np.concatenate([base.in_cap, base.in_cap[edges]]),
        origin=np.concatenate([np.arange(n) if base.origin is None else base.origin, copy_rows]),
    )
    return aug, loo


def _with_sources(ei: torch.Tensor, n_src: int) -> torch.Tensor:
    """The same edges among `n_src` source accounts (a plain edge tensor needs no change)."""
    if isinstance(ei, EdgeIndex):
        return EdgeIndex(ei.as_tensor(), sparse_size=(n_src, ei.sparse_size(1)), sort_order="col")
    return ei


# -- the process-wide current scorer -----------------------------------------------------
_cache_lock = threading.Lock()
_cache: dict[Any, tuple[tuple[Any, ...], Scorer]] = {}
_pointers: dict[Any, str] = {}


def _pointer_stamp(pointer: str) -> tuple[Any, ...]:
    try:
        st = os.stat(pointer)
    except FileNotFoundError:
        return ("none",)
    return (st.st_mtime_ns, st.st_ino, st.st_size)


def current_scorer(settings: Settings) -> Scorer:
    """The scorer for the active model, cached; reloaded when the ACTIVE pointer changes.

    The pointer is stat-ed on every call (~1 µs; activation moves it by an atomic rename, so
    a switch takes effect on the next call, in this process or another one); its path is
    resolved once per models directory (`Path` arithmetic cost more than the stat).
    """
    models_dir = settings.models_dir
    pointer = _pointers.get(models_dir)
    if pointer is None:
        pointer = _pointers.setdefault(models_dir, os.path.abspath(Registry(models_dir).pointer))
    stamp = (*_pointer_stamp(pointer), settings.hub_cap)
    with _cache_lock:
        hit = _cache.get(pointer)
        if hit is not None and hit[0] == stamp:
            return hit[1]
    scorer = Scorer.load(settings)
    with _cache_lock:
        _cache[pointer] = (stamp, scorer)
    return scorer
