"""`Neo4jStore`'s staged shard results (`graph.shards.ShardStore`) and the GDS partition step.

Staged shards are `(:ShardResult {key: "<sweep id>|<shard>", sweep_id, shard, status, payload})`
nodes (unique key, indexed sweep id: `cypher/migrate_30..31`); MERGE on the key makes a repeated
shard task replace its row.

`gds_components` runs the Graph Data Science library's WCC inside the server over a projection of
accounts and *linking* identifiers only (2..hub_cap accounts, not benign: the same rule as
`graph.partition.linking_mask`) and writes each account's `component` (indexed,
`cypher/migrate_32`); `has_gds` says whether the server has the plugin at all. Without it,
`write_components` finds the same components from the streamed links and writes them the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from neo4j.exceptions import ClientError

from ringfence.graph.model import Subgraph
from ringfence.graph.partition import ComponentTable, canonical, linking_components_of
from ringfence.graph.shards import ShardStatus, merge_subgraphs

READ_CHUNK = 2_000  # seeds per neighbourhood statement: bounded transactions
WRITE_CHUNK = 20_000  # accounts per component statement


class Neo4jShards:
    """Mixed into `Neo4jStore`, whose `_write` / `_read` it uses."""

    _write: Any
    _read: Any
    neighbourhood: Any
    load_arrays: Any

    def shard_neighbourhood(self, account_ids: Sequence[str], hub_cap: int) -> Subgraph:
        # neighbourhood.cypher already reads a seed set in one statement; chunks bound its size.
        return merge_subgraphs([self.neighbourhood(list(account_ids[k:k + READ_CHUNK]), hops=1, hub_cap=hub_cap)
                                for k in range(0, len(account_ids), READ_CHUNK)])

    def stage_shard(self, sweep_id: str, shard: int, status: ShardStatus, payload: bytes) -> None:
        self._write("shard_stage", key=f"{sweep_id}|{shard}", sweep_id=sweep_id, shard=shard,
                    status=status, payload=payload)

    def staged_shard(self, sweep_id: str, shard: int) -> tuple[ShardStatus, bytes] | None:
        rows = self._read("shard_staged", key=f"{sweep_id}|{shard}")
        return (rows[0]["status"], bytes(rows[0]["payload"])) if rows else None

    def shard_statuses(self, sweep_id: str) -> dict[int, ShardStatus]:
        return {int(r["shard"]): r["status"] for r in self._read("shard_statuses", sweep_id=sweep_id)}

    def drop_staged(self, sweep_id: str) -> None:
        self._write("shard_drop", sweep_id=sweep_id)

    def write_components(self, hub_cap: int, chunk_size: int = 200_000) -> ComponentTable:
        """The fallback for a server without GDS: the links streamed as `GraphArrays` (by account,
        the order Neo4j reads cheaply), their components found here and written to
        `Account.component` in batches, as GDS WCC would."""
        lc = linking_components_of(self.load_arrays(attributes=False, chunk_size=chunk_size), hub_cap)
        label = canonical(lc.component)
        while self._write("clear_components", limit=WRITE_CHUNK)[0]["cleared"]:
            pass
        ids = lc.account_ids
        for k in range(0, len(ids), WRITE_CHUNK):
            self._write("set_components", rows=[[a, c] for a, c in zip(
                ids[k:k + WRITE_CHUNK], label[k:k + WRITE_CHUNK].tolist(), strict=True)])
        return ComponentTable.of(label, lc.links, lc.hubs)

    def component_accounts(self, components: Sequence[int]) -> list[str]:
        out: list[str] = []
        for k in range(0, len(components), WRITE_CHUNK):
            rows = self._read("component_accounts", components=[int(c) for c in components[k:k + WRITE_CHUNK]])
            out.extend(rows[0]["ids"] if rows else [])
        return sorted(out)

    def component_table(self, width: int = 1_000_000) -> ComponentTable:
        """Per component GDS WCC wrote (in id order): accounts and links, read in pages of `width`
        component ids (range seeks on the component index): integers only cross Bolt."""
        # An account created after the WCC has no component: this sweep leaves it to online scoring.
        bounds = self._read("component_bounds")
        parts: list[np.ndarray] = []
        if bounds:
            for lo in range(int(bounds[0]["lo"]), int(bounds[0]["hi"]) + 1, width):
                rows = self._read("component_page", lo=lo, hi=lo + width)[0]["rows"]
                if rows:
                    parts.append(np.array(rows, dtype=np.int64))
        table = np.concatenate(parts) if parts else np.zeros((0, 3), dtype=np.int64)
        return ComponentTable(table[:, 0].copy(), table[:, 1].copy(), table[:, 2].copy())  # hubs: not counted

    def has_gds(self) -> bool:
        """Whether the server has the GDS plugin (its `gds.version` function)."""
        try:
            rows = self._read("gds_version")
        except ClientError:
            return False
        return bool(rows and rows[0]["version"])

    def gds_components(self, hub_cap: int, graph_name: str) -> dict[str, int]:
        """WCC over accounts and linking identifiers, written to `Account.component` (read back
        per component by `component_table`, per shard by `component_accounts`). Returns GDS's
        figures (componentCount, nodePropertiesWritten, ...). The projection is dropped after."""
        self._write("gds_drop", name=graph_name)
        try:
            self._write("gds_project", name=graph_name, hub_cap=hub_cap)
            rows = self._write("gds_wcc_write", name=graph_name)
            return {k: int(v) for k, v in dict(rows[0]).items() if isinstance(v, int | float)} if rows else {}
        finally:
            self._write("gds_drop", name=graph_name)
