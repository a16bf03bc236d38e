"""The graph store interface, implemented by `sqlite_store` and `neo4j_store`.

`GraphStore` is the whole interface, one Protocol per aggregate joined: `StoreLifecycle`,
`AccountStore` (accounts, links, labels, subgraphs, the bulk read), `ScoreStore` (online scores
and score requests), `ResultStore` (published sweeps: risks, rings, lists), `CaseStore`
(investigators' cases on rings), `JobStore` (jobs and locks). Both backends implement all of
it; code that needs one aggregate may ask for that one.

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

from ringfence.graph import model
from ringfence.graph.arrays import AttributeSpec, GraphArrays
from ringfence.graph.shards import ShardStore

AccountOrder = Literal["risk_desc", "id"]


@runtime_checkable
class StoreLifecycle(Protocol):
    """Opening, schema and teardown. `backend` names the implementation ("sqlite", "neo4j")."""

    backend: str

    def migrate(self) -> None:
        """Create schema, constraints and indexes; idempotent."""

    def ping(self) -> None:
        """Return if the store answers, else raise `StoreUnavailable`."""

    def close(self) -> None:
        """Release connections and background threads; the store is not used afterwards."""

    def reset(self) -> None:
        """Delete everything (tests, demo re-generation)."""


@runtime_checkable
class AccountStore(Protocol):
    """Accounts, their links to identifiers, labels, and reads of the graph they form.

    Accounts are keyed by id, identifiers by (type, id); an account's links merge and are never
    removed. The graph is read three ways: by neighbourhood (online scoring), by stream (every
    row once, in id order) and whole (`load_arrays`, for sweeps and training).
    """

    def upsert_accounts(self, accounts: Sequence[model.AccountIn], request_scores: bool = False) -> tuple[int, int]:
        """Merge accounts and links; returns (accounts, links) in the batch.

        With `request_scores`, the same transaction records that each account awaits an
        online score (see `pending_scores`), so an account is never stored without it.

        Attributes merge key by key (new values win); links merge on (account, type, id),
        keeping the earliest first_seen and latest last_seen. created_at keeps the earliest.
        A link without `seen_at` is dated by its account's `created_at` in the same batch, so
        every merge is a min or max and links do not depend on the order of batches.
        """

    def get_account(self, account_id: str) -> model.Account | None:
        """The account with its links (by type, id), label and risk; `None` if unknown.

        `risk` is the current sweep's when the sweep covers the account, else the latest online score's.
        """

    def get_accounts(self, account_ids: Sequence[str]) -> list[model.Account]:
        """The stored ones of `account_ids`, in input order, without repeats (one round trip)."""

    def missing_accounts(self, account_ids: Sequence[str]) -> list[str]:
        """The ids in `account_ids` that are not stored, in input order."""

    def get_risks(self, account_ids: Sequence[str]) -> dict[str, float | None]:
        """`get_accounts(account_ids)`'s `risk` by id, without reading links (one round trip)."""

    def count_accounts(self) -> int:
        """How many accounts are stored (0 for an empty store)."""

    def neighbourhood(
        self, seeds: Sequence[str], hops: int, hub_cap: int, max_nodes: int | None = None,
        max_edges: int | None = None,
    ) -> model.Subgraph:
        """Accounts within `hops` account-to-account steps of the seeds.

        An identifier with more than `hub_cap` accounts is included with its full degree,
        but only its `hub_cap` earliest-linked accounts (ties by id) are expanded; it is
        listed in `capped`. Unknown seeds are ignored. `rings` holds the current-sweep ring of
        every account in the subgraph that is in one, read with the subgraph (what a scorer needs).

        With `max_nodes` and `max_edges` (both or neither) the expansion stops at that many
        nodes (accounts and identifiers) and edges while it is read, so a hub costs what is
        kept, not its size: the result is the unbounded one when it fits, else breadth-first's
        first (`graph.neighbourhood.expand_bounded` fixes which) with `truncated` set.
        """

    def upsert_and_neighbourhood(
        self, accounts: Sequence[model.AccountIn], hops: int, hub_cap: int
    ) -> tuple[model.Subgraph, datetime]:
        """`upsert_accounts(accounts, request_scores=True)`, then `neighbourhood` of the batch's
        ids (input order), which sees the upsert; a store may do both in one transaction.

        Also returns the `as_of` for scores computed from the subgraph: at or after the score
        requests (so such a score settles them) and at or before the subgraph was read.
        """

    def stream_accounts(self, chunk_size: int = 50_000) -> Iterator[list[model.AccountRow]]:
        """Every account once, ordered by id, in chunks; memory bounded by the chunk."""

    def stream_links(self, chunk_size: int = 200_000) -> Iterator[list[model.LinkRow]]:
        """Every link once, ordered by (account id, type, id), in chunks."""

    def load_arrays(self, attributes: bool | AttributeSpec = False, chunk_size: int = 200_000) -> GraphArrays:
        """The whole graph as `GraphArrays` (`graph.arrays`), equal to what `stream_accounts`,
        `stream_links` and `benign_identifiers` return; memory O(accounts + links), no object kept
        per row.

        `attributes`: False (none), True (parsed attribute dicts, for fitting a schema) or an
        `AttributeSpec` (its columns, as `columns_from_dicts` of the parsed dicts would give them).
        `chunk_size` bounds the rows fetched per round trip, not the result. Consistent as of one
        moment where the backend can (SQLite: one read transaction); otherwise a link whose
        account was created after the account scan passed it is dropped. Empty store: empty arrays.
        """

    def identifier_degrees(self, keys: Sequence[model.IdentifierKey]) -> dict[model.IdentifierKey, int]:
        """Accounts per identifier; unknown identifiers are absent from the result."""

    def set_benign(self, key: model.IdentifierKey, benign: bool) -> None:
        """Mark an identifier benign (it stops linking accounts in ring detection)."""

    def benign_identifiers(self) -> set[model.IdentifierKey]:
        """Every identifier marked benign, linked to accounts or not."""

    def identifier(self, key: model.IdentifierKey) -> model.IdentifierInfo | None:
        """The identifier's degree, benign flag, earliest `first_seen` and latest `last_seen` of its
        links, and the current sweep's rings that it ties (sorted); `None` if no account links it."""

    def identifier_accounts(
        self, key: model.IdentifierKey, cursor: str | None, limit: int
    ) -> model.Page[model.LinkedAccount]:
        """The accounts linked to `key`, earliest `first_seen` first (ties by id), `limit` a page;
        an identifier nobody links is an empty page."""

    def add_labels(self, labels: Sequence[model.LabelIn]) -> int:
        """Append to each account's label history; unknown accounts: `NotFound`, nothing written."""

    def label_history(self, account_id: str) -> list[model.LabelEvent]:
        """Oldest first."""


@runtime_checkable
class ScoreStore(Protocol):
    """The latest online score per account, and the requests that await one.

    A score carries the `as_of` of the data it was computed from; a stored score is only
    replaced by one at least as new, so retried and reordered writes are harmless.
    """

    def write_scores(self, scores: Sequence[model.Score]) -> int:
        """Store the latest score per account unless a stored one has a newer `as_of`.

        Settles each account's score request made at or before the score's `as_of`.
        Returns how many were written.
        """

    def write_score_and_read(self, score: model.Score) -> tuple[model.Account, model.RingSummary | None]:
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

    def get_score(self, account_id: str) -> model.Score | None:
        """The stored online score; `None` if the account has none (or is unknown)."""


@runtime_checkable
class ResultStore(Protocol):
    """Published sweeps: per-account risks, rings and their history, and the lists over them.

    Everything here reads the current sweep (or the one a cursor pinned); only `publish_sweep`
    writes, and readers never see a half-published sweep.
    """

    def publish_sweep(self, result: model.SweepResult) -> None:
        """Write everything under `result.sweep_id`, then make it current, atomically.

        In the same transaction as the flip, a merged ring's `merged_from` moves cases
        (`graph.cases.merge_writes`): the survivor's case records what merged in."""

    def current_sweep(self) -> model.SweepInfo | None:
        """The sweep readers see; `None` before the first publication."""

    def rings_of(self, account_ids: Sequence[str]) -> dict[str, str]:
        """Current-sweep ring id of each account that is in a ring."""

    def current_rings(self) -> dict[str, list[str]]:
        """The current sweep's rings: id -> member ids (for matching the next sweep)."""

    def ring_lineage(self, ring_ids: Sequence[str]) -> dict[str, model.RingLineage]:
        """Creation time and members of those of `ring_ids` that are rings of the current sweep
        (a sharded sweep's finish matches identity a few rings at a time)."""

    def list_accounts(
        self,
        order: AccountOrder,
        min_risk: float | None,
        label: model.LabelValue | None,
        cursor: str | None,
        limit: int,
    ) -> model.Page[model.Account]:
        """Accounts riskiest first ("risk_desc": sweep risk, accounts without one last, ties by id)
        or by id, filtered by `min_risk` (sweep risk) and current `label`; at most `limit`, and a
        `next` cursor while more remain."""

    def list_rings(
        self, min_risk: float | None, cursor: str | None, limit: int,
        case_status: model.CaseFilter | None = None, assignee: str | None = None,
    ) -> model.Page[model.RingSummary]:
        """Rings of the current sweep, riskiest first (ties by id), with their case's status and
        assignee; filtered by `case_status` ("none": rings without a case) and `assignee`."""

    def ring_summary(self, ring_id: str) -> model.RingSummary | None:
        """`get_ring(ring_id).summary` without reading members, identifiers and history."""

    def get_ring(self, ring_id: str) -> model.Ring | None:
        """The ring as in the current sweep, with its whole history and its case; `None` if not current."""


@runtime_checkable
class CaseStore(Protocol):
    """Investigators' cases, keyed by ring id: a case follows its ring's id across sweeps
    (`publish_sweep` records merges) and outlives the ring."""

    def put_case(
        self, ring_id: str, status: model.CaseStatus, assignee: str | None, note: str | None, key_id: str,
        label_members: bool = False, keep_assignee: bool = False,
    ) -> model.Case:
        """Open or move the case of a current ring (else `NotFound`), appending a history entry
        by `key_id`; `keep_assignee` keeps the stored assignee instead of `assignee`. With
        `status="confirmed_fraud"` and `label_members`, every current member gets a `fraud` label
        with source `case:<ring id>` in the same transaction: all or nothing."""

    def get_case(self, ring_id: str) -> model.Case | None:
        """The case, history oldest first, whether or not the ring is current; `None` if never opened."""


@runtime_checkable
class JobStore(Protocol):
    """Long-running jobs (sweeps, training) and named leases, shared by every replica and worker.

    Job ids are made by the store; an unknown job id reads as `None`. A lock is a lease that
    expires after `ttl_s` unless its owner takes it again.
    """

    def create_job(self, kind: model.JobKind, params: dict[str, object] | None = None) -> model.Job:
        """A new "queued" job with a fresh id."""

    def update_job(
        self,
        job_id: str,
        status: model.JobStatus,
        result: dict[str, object] | None = None,
        error: str | None = None,
    ) -> model.Job:
        """Set the status ("running" stamps `started_at` once, "succeeded"/"failed" stamp
        `finished_at`), keep the stored result unless one is given, replace the error; returns the
        stored job. Unknown job id: `NotFound`."""

    def get_job(self, job_id: str) -> model.Job | None:
        """The job; `None` if unknown."""

    def count_jobs(self) -> dict[tuple[str, str], int]:
        """How many jobs the store holds, by (kind, status): every replica's and worker's."""

    def job_ids(self, status: str, limit: int = 100) -> list[str]:
        """Ids of up to `limit` jobs with `status`, oldest first (the reaper's list of running jobs)."""

    def acquire_lock(self, name: str, owner: str, ttl_s: float, now: datetime | None = None) -> bool:
        """Take the named lock if free or expired; re-entrant for the same owner."""

    def release_lock(self, name: str, owner: str) -> None:
        """Free the lock if `owner` holds it; otherwise (not held, another owner) do nothing."""


@runtime_checkable
class GraphStore(StoreLifecycle, AccountStore, ScoreStore, ResultStore, CaseStore, JobStore, ShardStore, Protocol):
    """The whole interface: what each backend implements and what the app holds."""
