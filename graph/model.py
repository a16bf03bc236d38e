"""Domain types shared by every layer. Plain dataclasses: cheap to build in bulk."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Literal, Protocol, TypeVar

IdType = Literal["card", "device", "bank_account"]
ID_TYPES: tuple[IdType, ...] = ("card", "device", "bank_account")
LabelValue = Literal["fraud", "legit"]
AttrValue = str | int | float | bool
JobKind = Literal["sweep", "train"]
JobStatus = Literal["queued", "running", "succeeded", "failed"]
RingEvent = Literal["created", "grew", "shrank", "merged", "split", "unchanged", "dissolved"]
CaseStatus = Literal["open", "in_review", "confirmed_fraud", "dismissed"]
CASE_STATUSES: tuple[CaseStatus, ...] = ("open", "in_review", "confirmed_fraud", "dismissed")
CaseFilter = Literal["open", "in_review", "confirmed_fraud", "dismissed", "none"]  # none: rings nobody opened
T = TypeVar("T")


def to_rfc3339(ts: datetime) -> str:
    """`2026-01-01T00:00:00Z`, with microseconds when there are any (`...00.250000Z`)."""
    # isoformat is several times cheaper than strftime, and a 1,000-link account renders 3,000
    # of these; for UTC it ends in "+00:00" (4-digit years: the range ids and clocks produce).
    if ts.tzinfo is not UTC:
        ts = ts.astimezone(UTC)
    return ts.isoformat()[:-6] + "Z"


def parse_ts(value: str | datetime) -> datetime:
    ts = value if isinstance(value, datetime) else datetime.fromisoformat(value)  # 3.11 reads "Z"
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class IdentifierKey:
    type: IdType
    id: str


@dataclass(frozen=True, slots=True)
class Link:
    type: IdType
    id: str
    seen_at: datetime | None = None

    @property
    def key(self) -> IdentifierKey:
        return IdentifierKey(self.type, self.id)


@dataclass(frozen=True, slots=True)
class StoredLink:
    """A link as stored: first and last time the account was seen with the identifier."""

    type: IdType
    id: str
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True, slots=True)
class AccountIn:
    id: str
    created_at: datetime
    attributes: dict[str, AttrValue] = field(default_factory=dict)
    links: tuple[Link, ...] = ()


@dataclass(frozen=True, slots=True)
class Score:
    account_id: str
    risk: float
    model_version: str
    scored_at: datetime
    # The store's view of the graph the score was computed from; a score computed
    # from an older view never overwrites one from a newer view.
    as_of: datetime
    reasons: list[dict[str, Any]] = field(default_factory=list)
    ring_id: str | None = None


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    created_at: datetime
    attributes: dict[str, AttrValue]
    links: list[StoredLink]
    label: LabelValue | None
    risk: float | None
    risk_scored_at: datetime | None
    model_version: str | None
    ring_id: str | None


@dataclass(frozen=True, slots=True)
class LabelIn:
    account_id: str
    label: LabelValue
    source: str
    note: str | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class LabelEvent:
    account_id: str
    label: LabelValue
    source: str
    note: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class AccountRow:
    """An account as streamed for sweeps and training: no links, label as of now."""

    id: str
    created_at: datetime
    attributes: dict[str, AttrValue]
    label: LabelValue | None
    labelled_at: datetime | None


@dataclass(frozen=True, slots=True)
class LinkRow:
    account_id: str
    type: IdType
    id: str
    first_seen: datetime


@dataclass(slots=True)
class Subgraph:
    """The neighbourhood of some seed accounts.

    `hops` counts account-to-account steps (account → identifier → account is one hop).
    Every included identifier carries its full degree, even when capped; `capped` lists
    identifiers whose accounts were not all expanded because they exceed the hub cap.
    `rings` holds the current-sweep ring id of each account in `accounts` that is in a ring.
    `truncated` says a node or edge budget (`GraphStore.neighbourhood`'s `max_nodes`,
    `max_edges`) left something out.
    """

    seeds: list[str]
    accounts: dict[str, AccountRow]
    identifiers: dict[IdentifierKey, int]  # identifier -> full degree (accounts sharing it)
    edges: list[tuple[str, IdentifierKey, datetime]]  # (account id, identifier, first_seen)
    capped: list[IdentifierKey] = field(default_factory=list)
    benign: set[IdentifierKey] = field(default_factory=set)
    rings: dict[str, str] = field(default_factory=dict)
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class IdentifierInfo:
    """One identifier as an investigator reads it: how many accounts share it, since when, and
    which rings of the current sweep it ties."""

    key: IdentifierKey
    accounts: int
    benign: bool
    first_seen: datetime
    last_seen: datetime
    ring_ids: list[str]


@dataclass(frozen=True, slots=True)
class LinkedAccount:
    account_id: str
    first_seen: datetime


@dataclass(frozen=True, slots=True)
class RingMember:
    account_id: str
    risk: float
    label: LabelValue | None


@dataclass(frozen=True, slots=True)
class RingIdentifier:
    type: IdType
    id: str
    accounts: int


@dataclass(frozen=True, slots=True)
class RingHistoryEntry:
    sweep_id: str
    at: datetime
    event: RingEvent
    size: int


@dataclass(frozen=True, slots=True)
class RingSummary:
    id: str
    risk: float
    size: int
    created_at: datetime
    updated_at: datetime
    sweep_id: str
    case_status: CaseStatus | None = None
    assignee: str | None = None


@dataclass(frozen=True, slots=True)
class CaseEntry:
    """One move of a case: by an investigator's key (`key_id` "key-N") or by a sweep ("sweep")."""

    at: datetime
    status: CaseStatus
    assignee: str | None
    note: str | None
    key_id: str


@dataclass(frozen=True, slots=True)
class Case:
    """An investigator's case on a ring, keyed by ring id: it follows the id across sweeps and
    stays readable after the ring dissolved. `history` oldest first."""

    ring_id: str
    status: CaseStatus
    assignee: str | None
    updated_at: datetime
    history: list[CaseEntry]


@dataclass(frozen=True, slots=True)
class CaseWrite:
    """A case's next state and the history entry recording it (what a store appends)."""

    ring_id: str
    status: CaseStatus
    assignee: str | None
    note: str | None
    key_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Ring:
    summary: RingSummary
    members: list[RingMember]
    identifiers: list[RingIdentifier]
    history: list[RingHistoryEntry]
    case: Case | None = None


@dataclass(slots=True)
class PublishedRing:
    """A ring as a sweep publishes it."""

    id: str
    risk: float
    members: list[str]
    identifiers: list[RingIdentifier]
    created_at: datetime
    event: RingEvent
    features: dict[str, float] = field(default_factory=dict)
    merged_from: list[str] = field(default_factory=list)  # previous ring ids that dissolved into this one


class RingSource(Protocol):
    """A sweep's rings as a publication reads them (iterated, and asked which ring an account is
    in): a `RingList`, or rings kept on disk and read a piece at a time (a sharded sweep's finish,
    `services.staged_lineage`), whose rings outgrow one process with the graph."""

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[PublishedRing]: ...

    def ring_of(self, account_ids: Sequence[str]) -> dict[str, str]:
        """The ring of each of `account_ids` that is in one."""
        ...


class RingList(list[PublishedRing]):
    """Rings held in memory, as the single-process sweep builds them."""

    _index: dict[str, str] | None = None

    def ring_of(self, account_ids: Sequence[str]) -> dict[str, str]:
        if self._index is None:  # built once, on the first ask: the rings are complete by then
            self._index = {m: r.id for r in self for m in r.members}
        index = self._index
        return {a: index[a] for a in account_ids if a in index}


@dataclass(frozen=True, slots=True)
class RingLineage:
    """What identity matching reads of a current ring: its creation time and members (sorted)."""

    created_at: datetime
    members: list[str]


class RiskSource(Protocol):
    """Every account's risk, as a sweep publishes them: a dict, or a stream read a piece at a
    time (a sharded sweep's staged shards, too many to hold in one process at 10M accounts)."""

    def __len__(self) -> int: ...

    def items(self) -> Iterable[tuple[str, float]]: ...


@dataclass(slots=True)
class SweepResult:
    """Everything one sweep publishes; the store makes it visible all at once."""

    sweep_id: str
    started_at: datetime
    finished_at: datetime
    model_version: str
    account_risks: RiskSource  # iterated by the publication, never indexed
    rings: RingSource  # iterated by the publication, and asked for accounts' rings
    dissolved: list[tuple[str, int]] = field(default_factory=list)  # (ring id, last size)
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SweepInfo:
    sweep_id: str
    finished_at: datetime
    model_version: str
    stats: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    kind: JobKind
    status: JobStatus
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    data: list[T]
    next_cursor: str | None
