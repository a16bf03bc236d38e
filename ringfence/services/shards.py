"""Sharded sweeps: the same rings and risks as the single-process sweep, a shard at a time.

Steps (`RINGFENCE_SWEEP_SHARD_LINKS` > 0):

1. **Partition** (`plan`, the coordinator): connected components of the account–identifier graph
   over linking identifiers only (2..`hub_cap` accounts, not benign), packed into shards of about
   `sweep_shard_links` links (`graph.partition`). Detection links accounts through linking
   identifiers only, so no ring crosses two shards. On Neo4j with the GDS plugin the components
   come from GDS WCC inside the server (`graph.neo4j_shards`); otherwise from the store's
   `write_components`: on SQLite link rows in identifier order folded into a label per account
   (`graph.partition.ComponentStream`), on Neo4j without GDS the streamed integer arrays. Either
   way the store keeps each account's component, and the coordinator holds integers per
   component only: a shard is a list of component ids, which is all its task message carries.
2. **Shards** (`run_shard`): a shard task reads its accounts by component
   (`store.component_accounts`, an index seek) and their 1-hop receptive field
   (`store.shard_neighbourhood`, what `store.neighbourhood(accounts, hops=1, hub_cap)` returns),
   then ring detection runs on the shard's own accounts and links and the GNN scores them.
3. **Finish** (`finish`): ring identity is matched a few shards at a time
   (`services.staged_lineage`: the rules of `graph.lineage`, the rings spilled to a temporary
   file), and the result is published by the store's `publish_sweep`, as the single-process
   sweep's is, the risks streaming from the staged shards one shard at a time (`StagedRisks`).

**Why shard scores equal single-process scores exactly (the hub halo).** An account's score
reads its 1-hop receptive field: its identifiers with their full degrees and, for each, the
`hub_cap` earliest-linked accounts (their attributes, labels and links to that identifier).
Non-hub identifiers lie inside the account's component, so inside its shard; a hub's capped
accounts may lie anywhere. The shard read is exactly that receptive field: each touched hub's
capped accounts come in as a *halo* (read, never scored or published by this shard), with the
hub's full degree. `Scorer.score_seeds` then builds the same `GraphBatch` rows as `score_all`
(the same `gnn.graphdata.assemble`), so risks agree to float rounding (tested within 1e-6).
Detection sees hubs and benign identifiers as non-linking in both paths, and Leiden splits a
component on the same sub-graph with the same node order and seed, so groups are identical.

A model trained with `hop2` reads 2-hop label counts, which a 1-hop halo cannot give:
sharding refuses it (`ShardingUnsupported`) rather than publish different scores.

Shard results are staged under (sweep id, shard number) (`graph.shards`): a repeated shard
replaces its own row. A sweep with a failed or missing shard publishes nothing.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import numpy as np

from ringfence.core.clock import utcnow
from ringfence.core.errors import ShardFailed, ShardingUnsupported
from ringfence.core.settings import Settings
from ringfence.core.usage import Usage
from ringfence.graph.arrays import LABEL_CODE, TYPE_CODE, GraphArrays
from ringfence.graph.detection import DetectionParams, detect
from ringfence.graph.model import RingIdentifier, Subgraph, SweepResult
from ringfence.graph.partition import ComponentShards
from ringfence.graph.ring_risk import ring_risk
from ringfence.graph.store import GraphStore
from ringfence.services.publish import RingDraft
from ringfence.services.staged_lineage import match_staged

log = logging.getLogger(__name__)


class ShardScorer(Protocol):
    version: str
    hops: int

    def score_seeds(self, sub: Subgraph, account_ids: Sequence[str], as_of: datetime) -> dict[str, float]: ...


def check_shardable(scorer: object) -> ShardScorer:
    """`scorer`, if it can score from 1-hop shards; else `ShardingUnsupported`."""
    if getattr(scorer, "hops", None) != 1 or not hasattr(scorer, "score_seeds"):
        raise ShardingUnsupported(
            "the active model reads 2-hop label counts (hop2), which a 1-hop shard cannot give: "
            "set RINGFENCE_SWEEP_SHARD_LINKS=0 to sweep it in one process")
    return scorer  # type: ignore[return-value]


# -- partition -------------------------------------------------------------------------------


def plan(store: GraphStore, settings: Settings) -> ComponentShards:
    """The sweep's shards (component ids): GDS WCC inside Neo4j when asked or available, else
    the store's streamed components. Either way each account's component is written in the store."""
    mode = settings.sweep_partition
    has_gds = getattr(store, "has_gds", None)
    gds = mode == "gds" or (mode == "auto" and has_gds is not None and has_gds())
    if gds:
        if has_gds is None:
            raise ValueError("RINGFENCE_SWEEP_PARTITION=gds needs a Neo4j store")
        figures = store.gds_components(settings.hub_cap, "ringfence-partition")  # type: ignore[attr-defined]
        part = store.component_table().partition(settings.hub_cap,  # type: ignore[attr-defined]
                                                 settings.sweep_shard_links)
        part.stats["gds_components"] = int(figures.get("componentCount", -1))
        return part
    if mode == "auto" and has_gds is not None:
        log.warning("Neo4j has no Graph Data Science plugin: partitioning from streamed links (slower)")
    return store.write_components(settings.hub_cap).partition(settings.hub_cap, settings.sweep_shard_links)


# -- one shard ---------------------------------------------------------------------------------


@dataclass
class ShardOutput:
    risks: dict[str, float]
    drafts: list[RingDraft] = field(default_factory=list)
    stats: dict[str, float] = field(default_factory=dict)


def read_shard(store: GraphStore, account_ids: Sequence[str], hub_cap: int) -> Subgraph:
    """The shard's accounts with their 1-hop receptive field (the hub halo): the subgraph
    `store.neighbourhood(account_ids, hops=1, hub_cap)` returns, read in bulk."""
    return store.shard_neighbourhood(account_ids, hub_cap)


def detection_graph(sub: Subgraph, account_ids: Sequence[str], hub_cap: int) -> GraphArrays:
    """The shard's own accounts and links as `GraphArrays` for `graph.detection.detect`: hubs
    (full degree over `hub_cap`) are flagged like benign identifiers, so they link nobody, as in
    a whole-graph detection; every other linking identifier has all its accounts in the shard."""
    ids = sorted(account_ids)
    index = {a: k for k, a in enumerate(ids)}
    links = [(index[a], k, t) for a, k, t in sub.edges if a in index]
    keys = sorted({k for _, k, _ in links}, key=lambda k: (TYPE_CODE[k.type], k.id))
    kindex = {k: j for j, k in enumerate(keys)}
    rows = [sub.accounts[a] for a in ids]
    return GraphArrays(
        account_ids=ids,
        created=np.array([r.created_at.timestamp() for r in rows], dtype=np.float64),
        label=np.array([LABEL_CODE.get(r.label or "", -1) for r in rows], dtype=np.int8),
        labelled_at=np.array([r.labelled_at.timestamp() if r.labelled_at else np.nan for r in rows]),
        id_type=np.array([TYPE_CODE[k.type] for k in keys], dtype=np.int8),
        id_value=[k.id for k in keys],
        benign=np.array([k in sub.benign or sub.identifiers.get(k, 0) > hub_cap for k in keys], dtype=bool),
        e_acc=np.array([a for a, _, _ in links], dtype=np.int32),
        e_id=np.array([kindex[k] for _, k, _ in links], dtype=np.int32),
        e_first=np.array([t.timestamp() for _, _, t in links], dtype=np.float64),
    )


def run_shard(store: GraphStore, settings: Settings, scorer: ShardScorer, account_ids: Sequence[str],
              as_of: datetime, params: DetectionParams) -> ShardOutput:
    """Rings and risks of one shard (`account_ids`: whole components), with what it cost."""
    usage = Usage()
    ids = sorted(account_ids)
    sub = read_shard(store, ids, settings.hub_cap)
    present = [a for a in ids if a in sub.accounts]  # an account deleted since the partition
    risks = scorer.score_seeds(sub, present, as_of)
    g = detection_graph(sub, present, settings.hub_cap)
    det = detect(g, params)
    risk = np.array([risks[a] for a in g.account_ids], dtype=np.float64)
    drafts = [RingDraft(grp.member_ids, grp.identifiers,
                        {**grp.features, "member_score_mean": float(risk[grp.members].mean())},
                        ring_risk(grp.features, risk[grp.members])) for grp in det.groups]
    stats = {"accounts": len(present), "halo": len(sub.accounts) - len(present), "links": g.n_links,
             "rings": len(drafts), **usage.figures()}
    return ShardOutput(risks, drafts, stats)


def encode(out: ShardOutput) -> bytes:
    """The staged form of a shard's output: the rings and stats, then the risks, each a zlib
    stream of JSON (floats kept exactly) behind a 4-byte length, so the finishing step's pass
    over the rings never parses the risks (it reads those once, as they are published)."""
    head = zlib.compress(json.dumps({
        "rings": [{"members": d.member_ids, "identifiers": [[i.type, i.id, i.accounts] for i in d.identifiers],
                   "features": d.features, "risk": d.risk} for d in out.drafts],
        "stats": out.stats,
    }, separators=(",", ":")).encode(), 3)
    risks = zlib.compress(json.dumps(out.risks, separators=(",", ":")).encode(), 3)
    return len(head).to_bytes(4, "big") + head + risks


def decode(payload: bytes, *, risks: bool = True) -> ShardOutput:
    """`encode`'s output back; with `risks=False` the risks are left unread (empty)."""
    n = int.from_bytes(payload[:4], "big")
    body = json.loads(zlib.decompress(payload[4:4 + n]))
    drafts = [RingDraft(r["members"], [RingIdentifier(t, i, n) for t, i, n in r["identifiers"]], r["features"],
                        r["risk"]) for r in body["rings"]]
    return ShardOutput(json.loads(zlib.decompress(payload[4 + n:])) if risks else {}, drafts, body["stats"])


# -- finish ------------------------------------------------------------------------------------


def shard_figures(shard_stats: Sequence[dict[str, Any]]) -> dict[str, float]:
    """What the shards cost, summed and at their largest (the largest sets a worker's size)."""
    def col(name: str) -> list[float]:
        return [float(s.get(name, 0.0)) for s in shard_stats] or [0.0]

    units = [float(s.get("accounts", 0) + s.get("halo", 0) + s.get("links", 0)) for s in shard_stats] or [0.0]
    return {"count": len(shard_stats), "seconds_sum": round(sum(col("seconds")), 3),
            "seconds_max": max(col("seconds")), "cpu_s_sum": round(sum(col("cpu_s")), 3),
            "peak_rss_mb_max": max(col("peak_rss_mb")), "units_max": max(units)}


class StagedRisks:
    """The staged shards' risks as the `RiskSource` a publication reads: each shard's payload is
    read and decoded when the publication reaches it, so the finishing step holds one shard's
    risks at a time, never every account's (3.4 GB in one process at 10M accounts)."""

    def __init__(self, store: GraphStore, sweep_id: str, n_shards: int, count: int) -> None:
        self._store, self._sweep_id, self._n_shards, self._count = store, sweep_id, n_shards, count

    def __len__(self) -> int:
        return self._count

    def items(self) -> Iterator[tuple[str, float]]:
        for k in range(self._n_shards):
            yield from staged_output(self._store, self._sweep_id, k).risks.items()


def staged_output(store: GraphStore, sweep_id: str, shard: int, *, risks: bool = True) -> ShardOutput:
    staged = store.staged_shard(sweep_id, shard)
    if staged is None or staged[0] != "done":
        raise ShardFailed(f"shard {shard} of sweep {sweep_id} is no longer staged", {"missing": [shard]})
    return decode(staged[1], risks=risks)


def finish(store: GraphStore, sweep_id: str, n_shards: int, *, started: datetime, model_version: str,
           stats: dict[str, Any]) -> SweepResult:
    """Publish the staged shards of `sweep_id` as one sweep, atomically, then drop them.
    `ShardFailed` (nothing published) if a shard failed or is missing. Rings are matched from
    every shard's drafts (ring ids and members); risks stream from the staged shards into the
    publication (`StagedRisks`)."""
    usage = Usage()
    statuses = store.shard_statuses(sweep_id)
    failed = sorted(k for k, status in statuses.items() if status == "failed")
    missing = sorted(set(range(n_shards)) - statuses.keys())
    if failed or missing:
        k = (failed or missing)[0]
        staged = store.staged_shard(sweep_id, k) if failed else None
        detail = staged[1].decode(errors="replace") if staged else "never staged"
        raise ShardFailed(f"shard {k} of sweep {sweep_id} failed: {detail}",
                          {"failed": failed, "missing": missing})
    stats_of: dict[int, dict[str, Any]] = {}

    def drafts_of(k: int) -> list[RingDraft]:
        out = staged_output(store, sweep_id, k, risks=False)  # the risks are read once, by the publication
        stats_of.setdefault(k, out.stats)
        return out.drafts

    lineage = match_staged(store, n_shards, drafts_of, started)
    shard_stats = [stats_of[k] for k in range(n_shards)]
    accounts = sum(int(s["accounts"]) for s in shard_stats)  # the risks' count (`run_shard`)
    halo = sum(int(s.get("halo", 0)) for s in shard_stats)
    result = SweepResult(
        sweep_id=sweep_id, started_at=started, finished_at=utcnow(), model_version=model_version,
        account_risks=StagedRisks(store, sweep_id, n_shards, accounts), rings=lineage.rings,
        dissolved=lineage.dissolved,
        stats={**stats, "halo_accounts": halo, "shard_figures": shard_figures(shard_stats),
               "rings": len(lineage.rings), "events": lineage.events, "high_risk_rings": lineage.high_risk,
               "lineage_sets": {"count": lineage.sets, "largest_shards": lineage.largest_set}})
    result.stats["finish_figures"] = usage.figures()  # before publication: reading, matching, spilling
    store.publish_sweep(result)
    store.drop_staged(sweep_id)
    return result


def sweep_in_process(
    store: GraphStore, settings: Settings, scorer: object, *, sweep_id: str, started: datetime,
    as_of: datetime, params: DetectionParams, phase: Callable[[str, float], None], stats: dict[str, Any],
) -> SweepResult:
    """The sharded sweep in this process, one shard at a time (embedded mode, `ringfence sweep`).
    `phase(name, fraction)` times a phase and checks the sweep lock (`services.sweeps`)."""
    shard_scorer = check_shardable(scorer)
    part = plan(store, settings)
    shards = part.shards
    log.info("sweep %s: %d shards, %s", sweep_id, len(shards), part.stats)
    for o in part.oversize:
        log.warning("shard %(shard)d is one component of %(accounts)d accounts / %(links)d links "
                    "(hub cap %(hub_cap)d): larger than a shard", o)
    phase("partition", 0.1)
    try:
        for k, components in enumerate(shards):
            out = run_shard(store, settings, shard_scorer, store.component_accounts(components.tolist()), as_of,
                            params)
            store.stage_shard(sweep_id, k, "done", encode(out))
        phase("shards", 0.8)
        return finish(store, sweep_id, len(shards), started=started, model_version=shard_scorer.version,
                      stats={**stats, "partition": part.stats, "oversize": part.oversize})
    except BaseException:
        store.drop_staged(sweep_id)
        raise
