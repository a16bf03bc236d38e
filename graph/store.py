"""The graph store interface, implemented by `sqlite_store` and `neo4j_store`.

Assumptions every backend honours:
- Writes are batch-first and all-or-nothing per call; retrying a call is always safe
  (upserts merge, labels dedupe on (account, label, source, at), publication is keyed
  by sweep id).
- Ids arrive validated (`graph.validation`); backends store strings verbatim and never
  build queries from them.
- Missing single objects are `None`; a batch naming unknown accounts raises `NotFound`.
- Published results (rings, sweep risks) change only in `publish_sweep`, which flips the
  current-sweep pointer last: readers see one complete sweep.
- Cursors are opaque strings; a walk returns every item once even while writes go on,
  because pages are keyed on (sort value, id) of the sweep that was current when the
  walk began (the cursor pins the sweep).
- A store unreachable for any reason raises `StoreUnavailable`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from ringfence.graph.model import (
    Account,
    AccountIn,
    AccountRow,
    IdentifierKey,
    Job,
    JobKind,
    LabelEvent,
    LabelIn,
    LabelValue,
    LinkRow,
    Page,
    Ring,
    RingSummary,
    Score,
    Subgraph,
    SweepInfo,
    SweepResult,
)

AccountOrder = Literal["risk_desc", "id"]


@runtime_checkable
class GraphStore(Protocol):
    backend: str

    # lifecycle
    def migrate(self) -> None:
        """Create schema, constraints and indexes; idempotent."""

    def ping(self) -> None:
        """Return if the store answers, else raise `StoreUnavailable`."""

    def close(self) -> None: ...

    def reset(self) -> None:
        """Delete everything (tests, demo re-generation)."""

    # accounts and links
    def upsert_accounts(self, accounts: Sequence[AccountIn], request_scores: bool = False) -> tuple[int, int]:
        """Merge accounts and links; returns (accounts, links) in the batch.

        With `request_scores`, the same transaction records that each account awaits an
        online score (see `pending_scores`), so an account is never stored without it.

        Attributes merge key by key (new values win); links merge on (account, type, id),
        keeping the earliest first_seen and latest last_seen. created_at keeps the earliest.
        A link without `seen_at` is dated by its account's `created_at` in the same batch, so
        every merge is a min or max and links do not depend on the order of batches.
        """

    def get_account(self, account_id: str) -> Account | None: ...

    def get_accounts(self, account_ids: Sequence[str]) -> list[Account]:
        """The stored ones of `account_ids`, in input order, without repeats (one round trip)."""

    def missing_accounts(self, account_ids: Sequence[str]) -> list[str]:
        """The ids in `account_ids` that are not stored, in input order."""

    def count_accounts(self) -> int: ...

    def neighbourhood(self, seeds: Sequence[str], hops: int, hub_cap: int) -> Subgraph:
        """Accounts within `hops` account-to-account steps of the seeds.

        An identifier with more than `hub_cap` accounts is included with its full degree,
        but only its `hub_cap` earliest-linked accounts (ties by id) are expanded; it is
        listed in `capped`. Unknown seeds are ignored. `rings` holds the current-sweep ring of
        every account in the subgraph that is in one, read with the subgraph (what a scorer needs).
        """

    def upsert_and_neighbourhood(
        self, accounts: Sequence[AccountIn], hops: int, hub_cap: int
    ) -> tuple[Subgraph, datetime]:
        """`upsert_accounts(accounts, request_scores=True)`, then `neighbourhood` of the batch's
        ids (input order), which sees the upsert; a store may do both in one transaction.

        Also returns the `as_of` for scores computed from the subgraph: at or after the score
        requests (so such a score settles them) and at or before the subgraph was read.
        """

    def stream_accounts(self, chunk_size: int = 50_000) -> Iterator[list[AccountRow]]:
        """Every account once, ordered by id, in chunks; memory bounded by the chunk."""

    def stream_links(self, chunk_size: int = 200_000) -> Iterator[list[LinkRow]]:
        """Every link once, ordered by (account id, type, id), in chunks."""

    def identifier_degrees(self, keys: Sequence[IdentifierKey]) -> dict[IdentifierKey, int]:
        """Accounts per identifier; unknown identifiers are absent from the result."""

    def set_benign(self, key: IdentifierKey, benign: bool) -> None:
        """Mark an identifier benign (it stops linking accounts in ring detection)."""

    def benign_identifiers(self) -> set[IdentifierKey]: ...

    # labels
    def add_labels(self, labels: Sequence[LabelIn]) -> int:
        """Append to each account's label history; unknown accounts: `NotFound`, nothing written."""

    def label_history(self, account_id: str) -> list[LabelEvent]:
        """Oldest first."""

    # online scores
    def write_scores(self, scores: Sequence[Score]) -> int:
        """Store the latest score per account unless a stored one has a newer `as_of`.

        Settles each account's score request made at or before the score's `as_of`.
        Returns how many were written.
        """

    def write_score_and_read(self, score: Score) -> tuple[Account, RingSummary | None]:
        """`write_scores([score])`, then the account as `get_account` reads it and
        `ring_summary(score.ring_id)`: what an answer to a fresh online score shows, read after
        the write (a store may do all of it in one transaction). Unknown account: `NotFound`,
        nothing written.
        """

    def pending_scores(self, requested_before: datetime, limit: int) -> list[str]:
        """Accounts whose requested score is still unwritten, requested at or before `requested_before`.

        A request (`upsert_accounts(..., request_scores=True)`) is settled by a score whose
        `as_of` is at or after it; a later upsert with a request renews it. Oldest request
        first (ties by id), at most `limit`. Cheap at any store size: it reads only the
        unsettled requests, through an index.
        """

    def get_score(self, account_id: str) -> Score | None: ...

    # sweeps and published results
    def publish_sweep(self, result: SweepResult) -> None:
        """Write everything under `result.sweep_id`, then make it current, atomically."""

    def current_sweep(self) -> SweepInfo | None: ...

    def rings_of(self, account_ids: Sequence[str]) -> dict[str, str]:
        """Current-sweep ring id of each account that is in a ring."""

    def current_rings(self) -> dict[str, list[str]]:
        """The current sweep's rings: id -> member ids (for matching the next sweep)."""

    def list_accounts(
        self,
        order: AccountOrder,
        min_risk: float | None,
        label: LabelValue | None,
        cursor: str | None,
        limit: int,
    ) -> Page[Account]: ...

    def list_rings(self, min_risk: float | None, cursor: str | None, limit: int) -> Page[RingSummary]:
        """Rings of the current sweep, riskiest first (ties by id)."""

    def ring_summary(self, ring_id: str) -> RingSummary | None:
        """`get_ring(ring_id).summary` without reading members, identifiers and history."""

    def get_ring(self, ring_id: str) -> Ring | None:
        """The ring as in the current sweep, with its whole history; `None` if not current."""

    # jobs and locks
    def create_job(self, kind: JobKind, params: dict[str, object] | None = None) -> Job: ...

    def update_job(
        self,
        job_id: str,
        status: str,
        result: dict[str, object] | None = None,
        error: str | None = None,
    ) -> Job: ...

    def get_job(self, job_id: str) -> Job | None: ...

    def count_jobs(self) -> dict[tuple[str, str], int]:
        """How many jobs the store holds, by (kind, status): every replica's and worker's."""

    def job_ids(self, status: str, limit: int = 100) -> list[str]:
        """Ids of up to `limit` jobs with `status`, oldest first (the reaper's list of running jobs)."""

    def acquire_lock(self, name: str, owner: str, ttl_s: float, now: datetime | None = None) -> bool:
        """Take the named lock if free or expired; re-entrant for the same owner."""

    def release_lock(self, name: str, owner: str) -> None: ...
