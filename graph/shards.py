"""Staged shard results of a sharded sweep (`ringfence.services.shards`), on every backend.

A shard task computes the rings and risks of its shard and stages them under (sweep id, shard
number) before the sweep's finishing step reads them all and publishes once. Staging replaces:
a redelivered or repeated shard task leaves one row per (sweep id, shard), never two.
Payloads are opaque bytes to the store (the service encodes them). Nothing staged is read by
the API; `drop_staged` removes a sweep's rows once it is published or has failed.
"""

from __future__ import annotations

from typing import Literal, Protocol

ShardStatus = Literal["done", "failed"]


class ShardStore(Protocol):
    def stage_shard(self, sweep_id: str, shard: int, status: ShardStatus, payload: bytes) -> None:
        """Stage shard `shard` of `sweep_id`, replacing what a previous run of it staged."""
        ...

    def staged_shards(self, sweep_id: str) -> dict[int, tuple[ShardStatus, bytes]]:
        """Every staged shard of `sweep_id` (empty when none)."""
        ...

    def shard_statuses(self, sweep_id: str) -> dict[int, ShardStatus]:
        """The status of every staged shard of `sweep_id`, without payloads (cheap to poll)."""
        ...

    def drop_staged(self, sweep_id: str) -> None:
        """Remove every staged shard of `sweep_id` (no error when none)."""
        ...
