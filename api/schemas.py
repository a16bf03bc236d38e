"""Request and response bodies of the contract. Every model forbids unknown fields.

Inputs are validated here, once: ids by the contract's pattern, a raw card number anywhere
(ids, attribute names and values, label source and note) is the validation error type
`pan_not_allowed`, timestamps are RFC 3339 strings with an offset, converted to UTC.
Outputs render timestamps as RFC 3339 UTC with `Z` (`graph.model.to_rfc3339`).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ringfence.core.cards import contains_pan, number_is_pan
from ringfence.graph import model as m
from ringfence.graph.validation import ID_PATTERN

MAX_ATTRIBUTES = 64
MAX_LINKS = 256
MAX_BATCH_ACCOUNTS = 10_000
MAX_BATCH_LINKS = 100_000
MAX_LABELS = 10_000

# -- field types -------------------------------------------------------------------------


_PAN_MESSAGE = "a raw card number is not allowed; send a token or fingerprint"


def _no_pan(value: str) -> str:
    if contains_pan(value):
        raise PydanticCustomError("pan_not_allowed", _PAN_MESSAGE)
    return value


def _attr_value(value: Any) -> bool | int | float | str:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        if len(value) > 4096:
            raise PydanticCustomError("string_too_long", "attribute values are at most 4096 characters")
        return _no_pan(value)
    if isinstance(value, int | float):
        # A card number sent as a JSON number is still a card number.
        if number_is_pan(value):
            raise PydanticCustomError("pan_not_allowed", _PAN_MESSAGE)
        return value
    raise PydanticCustomError("attribute_type", "attribute values are strings, numbers or booleans")


Id = Annotated[str, StringConstraints(pattern=ID_PATTERN), AfterValidator(_no_pan)]
IdType = Literal["card", "device", "bank_account"]
Label = Literal["fraud", "legit"]
CaseStatus = Literal["open", "in_review", "confirmed_fraud", "dismissed"]
Assignee = Annotated[str, StringConstraints(min_length=1, max_length=256), AfterValidator(_no_pan)]

# RFC 3339 date-time with an offset. Years 1970-9998 keep every instant representable in UTC
# (and in the stores' epoch seconds) whatever the offset.
_RFC3339 = (
    r"^(19[7-9][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-[0-9]{2}-[0-9]{2}[Tt]"
    r"[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
RFC3339_RE = re.compile(_RFC3339)


def parse_timestamp(value: Any) -> datetime:
    match = RFC3339_RE.match(value) if isinstance(value, str) else None
    if match is None:
        raise PydanticCustomError("timestamp", "expected an RFC 3339 timestamp with offset, years 1970-9998")
    frac = (match.group(2) or ".0")[1:7].ljust(6, "0")  # sub-microsecond digits are dropped
    offset = "+00:00" if match.group(3) in ("Z", "z") else match.group(3)
    try:
        return datetime.fromisoformat(f"{value[:10]}T{value[11:19]}.{frac}{offset}").astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise PydanticCustomError("timestamp", "not a valid RFC 3339 timestamp") from exc


TimestampIn = Annotated[
    datetime,
    BeforeValidator(parse_timestamp),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": _RFC3339}),
]
Timestamp = Annotated[
    datetime,
    PlainSerializer(m.to_rfc3339, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
AttrName = Annotated[str, StringConstraints(min_length=1, max_length=128), AfterValidator(_no_pan)]
AttrValue = Annotated[
    Any,
    PlainValidator(_attr_value),
    WithJsonSchema({"anyOf": [{"type": "string", "maxLength": 4096}, {"type": "number"}, {"type": "boolean"}]}),
]
Risk01 = Annotated[float, Field(ge=0.0, le=1.0)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- requests ------------------------------------------------------------------------------


class LinkIn(Strict):
    type: IdType
    id: Id
    seen_at: TimestampIn | None = None


class AccountIn(Strict):
    id: Id
    created_at: TimestampIn | None = Field(default=None, description="Default: now (or the stored value)")
    attributes: dict[AttrName, AttrValue] = Field(default_factory=dict, max_length=MAX_ATTRIBUTES)
    links: list[LinkIn] = Field(default_factory=list, max_length=MAX_LINKS)

    def to_domain(self, created_at: datetime) -> m.AccountIn:
        links = tuple(m.Link(x.type, x.id, x.seen_at) for x in self.links)
        return m.AccountIn(self.id, self.created_at or created_at, dict(self.attributes), links)


class AccountBatchIn(Strict):
    accounts: list[AccountIn] = Field(max_length=MAX_BATCH_ACCOUNTS)

    @model_validator(mode="after")
    def _bounded_links(self) -> AccountBatchIn:
        if sum(len(a.links) for a in self.accounts) > MAX_BATCH_LINKS:
            raise PydanticCustomError("too_many_links", f"a batch holds at most {MAX_BATCH_LINKS} links")
        return self


# -- the same request bodies without the per-field card-number checks ----------------------
# `api.jsonbody` validates a body with these only after a scan of its raw bytes found no card
# number, and only keeps the result if it holds no number that the checks above would refuse
# (`pan_free_attributes`); every other check is the same, and anything these refuse is
# validated again with the models above, so errors are theirs. Subclasses: routes see the
# public types.
_UncheckedId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
_UncheckedAttrName = Annotated[str, StringConstraints(min_length=1, max_length=128)]
_UncheckedAttrValue = StrictBool | StrictInt | StrictFloat | Annotated[StrictStr, StringConstraints(max_length=4096)]


class _UncheckedLinkIn(LinkIn):
    id: _UncheckedId


class _UncheckedAccountIn(AccountIn):
    id: _UncheckedId
    attributes: dict[_UncheckedAttrName, _UncheckedAttrValue] = Field(  # type: ignore[assignment]
        default_factory=dict, max_length=MAX_ATTRIBUTES)
    links: list[_UncheckedLinkIn] = Field(default_factory=list, max_length=MAX_LINKS)  # type: ignore[assignment]


# Batch bodies have their own fast road, `api.batchbody`.
UNCHECKED_TWINS: dict[type[BaseModel], type[BaseModel]] = {AccountIn: _UncheckedAccountIn}


def pan_free_attributes(body: BaseModel) -> bool:
    """True if no attribute value of an unchecked body is one the checked path treats differently:
    a number holding a card number or a non-finite float (not JSON)."""
    assert isinstance(body, AccountIn)
    for value in body.attributes.values():
        if isinstance(value, bool) or isinstance(value, str):
            continue
        if isinstance(value, int):
            if number_is_pan(value):
                return False
        elif not math.isfinite(value) or number_is_pan(value):
            return False
    return True


class LabelIn(Strict):
    account_id: Id
    label: Label
    source: Annotated[str, StringConstraints(min_length=1, max_length=256), AfterValidator(_no_pan)]
    note: Annotated[str, StringConstraints(max_length=4096), AfterValidator(_no_pan)] | None = None


class LabelsIn(Strict):
    labels: list[LabelIn] = Field(max_length=MAX_LABELS)


class BenignIn(Strict):
    benign: StrictBool = True


class CaseIn(Strict):
    """Opens or moves a ring's case (contract 1.1). Omitting `assignee` keeps the current one;
    `null` unassigns."""

    status: CaseStatus
    assignee: Assignee | None = None
    note: Annotated[str, StringConstraints(max_length=4096), AfterValidator(_no_pan)] | None = None
    label_members: StrictBool = Field(False, description="With confirmed_fraud: label every current member fraud")


# -- responses -----------------------------------------------------------------------------


class LinkPublic(Strict):
    type: IdType
    id: str
    seen_at: Timestamp = Field(description="Latest sighting (same as last_seen)")
    first_seen: Timestamp
    last_seen: Timestamp


class AccountPublic(Strict):
    id: str
    created_at: Timestamp
    attributes: dict[str, bool | int | float | str]
    links: list[LinkPublic]
    label: Label | None
    risk: Risk01 | None
    risk_scored_at: Timestamp | None
    model_version: str | None
    ring_id: str | None

    @classmethod
    def of(cls, a: m.Account) -> AccountPublic:
        return cls(
            id=a.id, created_at=a.created_at, attributes=a.attributes,
            links=[LinkPublic(type=x.type, id=x.id, seen_at=x.last_seen, first_seen=x.first_seen,
                              last_seen=x.last_seen) for x in a.links],
            label=a.label, risk=clamp_risk(a.risk), risk_scored_at=a.risk_scored_at,
            model_version=a.model_version, ring_id=a.ring_id,
        )


class IdentifierRef(Strict):
    type: IdType
    id: str


class Reason(Strict):
    identifier: IdentifierRef
    shared_with: int
    flagged_accounts: int
    ring_ids: list[str]
    weight: float
    capped: bool = Field(default=False, description="The identifier is a hub, not expanded past the cap")


class RingRef(Strict):
    id: str
    risk: Risk01
    size: int


class RiskPublic(Strict):
    account_id: str
    risk: Risk01
    model_version: str
    scored_at: Timestamp
    ring: RingRef | None
    reasons: list[Reason] = Field(description="Largest weight first")

    @classmethod
    def of(cls, s: m.Score, ring: m.RingSummary | None) -> RiskPublic:
        return cls(
            account_id=s.account_id, risk=clamp_risk(s.risk) or 0.0, model_version=s.model_version,
            scored_at=s.scored_at,
            ring=RingRef(id=ring.id, risk=clamp_risk(ring.risk) or 0.0, size=ring.size) if ring else None,
            reasons=[Reason.model_validate(r) for r in s.reasons],
        )


class AccountCreated(Strict):
    account: AccountPublic
    risk: RiskPublic | None
    job_id: str | None = Field(description="Task id of the queued score (score=async), else null")


class BatchResult(Strict):
    accounts: int
    links: int


class AccountPage(Strict):
    data: list[AccountPublic]
    next_cursor: str | None
    truncated: bool = Field(default=False, description="Fewer items than `limit`: the page reached its size cap")


class SubgraphNode(Strict):
    id: str
    kind: Literal["account", "card", "device", "bank_account"]
    risk: Risk01 | None = None
    label: Label | None = None
    ring_id: str | None = None
    degree: int | None = Field(default=None, description="Identifiers: accounts sharing it (full degree)")
    capped: bool | None = Field(default=None, description="Identifiers: a hub not expanded past `limit`")
    benign: bool | None = Field(default=None, description="Identifiers: marked benign")


class SubgraphEdge(Strict):
    source: str = Field(description="An account id")
    target: str = Field(description="An identifier id; the node of kind `type` with this id")
    type: IdType


class SubgraphPublic(Strict):
    nodes: list[SubgraphNode]
    edges: list[SubgraphEdge]
    truncated: bool


class PathNode(Strict):
    id: str
    kind: Literal["account", "card", "device", "bank_account"]


class PathTarget(Strict):
    account_id: str
    label: Label | None
    ring_id: str | None


class PathPublic(Strict):
    hops: int = Field(description="Account-to-account steps (account, identifier, account is one)")
    nodes: list[PathNode] = Field(description="From the account to the target, identifiers between")
    target: PathTarget


class PathsPublic(Strict):
    data: list[PathPublic]
    truncated: bool = Field(description="More targets than `limit`, or a hub identifier was capped or the "
                                        "neighbourhood budget (2,000 nodes, 20,000 edges) cut on the way")


class NodeLinkGraph(Strict):
    """networkx's node-link JSON (`format=json` of the graph exports)."""

    directed: bool
    multigraph: bool
    graph: dict[str, Any]
    nodes: list[dict[str, Any]] = Field(description="`id`, `kind` and the node's attributes")
    edges: list[dict[str, Any]] = Field(description="`source`, `target` (node ids) and `type`")


class LabelsApplied(Strict):
    applied: int


class CaseEntryPublic(Strict):
    at: Timestamp
    status: CaseStatus
    assignee: str | None
    note: str | None
    key_id: str = Field(description="The key that moved the case (key-0, ...), or `sweep` for a merge")


class CasePublic(Strict):
    """An investigator's case on a ring (contract 1.1); it follows the ring's id across sweeps."""

    ring_id: str
    status: CaseStatus
    assignee: str | None
    updated_at: Timestamp
    history: list[CaseEntryPublic]

    @classmethod
    def of(cls, c: m.Case) -> CasePublic:
        return cls(ring_id=c.ring_id, status=c.status, assignee=c.assignee, updated_at=c.updated_at,
                   history=[CaseEntryPublic(at=e.at, status=e.status, assignee=e.assignee, note=e.note,
                                            key_id=e.key_id) for e in c.history])


class RingSummaryPublic(Strict):
    id: str
    risk: Risk01
    size: int
    created_at: Timestamp
    updated_at: Timestamp
    sweep_id: str
    case_status: CaseStatus | None = Field(description="The ring's case status; null: nobody opened one")
    assignee: str | None

    @classmethod
    def of(cls, r: m.RingSummary) -> RingSummaryPublic:
        return cls(id=r.id, risk=clamp_risk(r.risk) or 0.0, size=r.size, created_at=r.created_at,
                   updated_at=r.updated_at, sweep_id=r.sweep_id, case_status=r.case_status, assignee=r.assignee)


class RingPage(Strict):
    data: list[RingSummaryPublic]
    next_cursor: str | None


class RingMemberPublic(Strict):
    account_id: str
    risk: Risk01
    label: Label | None


class RingIdentifierPublic(Strict):
    type: IdType
    id: str
    accounts: int


class RingHistoryPublic(Strict):
    sweep_id: str
    at: Timestamp
    event: Literal["created", "grew", "shrank", "merged", "split", "unchanged", "dissolved"]
    size: int


class RingLinkPublic(Strict):
    account_id: str
    type: IdType
    id: str


class RingPublic(RingSummaryPublic):
    members: list[RingMemberPublic]
    identifiers: list[RingIdentifierPublic]
    history: list[RingHistoryPublic]
    links: list[RingLinkPublic] = Field(description="Which member uses which of the ring's identifiers (contract 1.1)")
    case: CasePublic | None

    @classmethod
    def of_ring(cls, r: m.Ring, links: list[tuple[str, m.IdentifierKey]]) -> RingPublic:
        s = r.summary
        return cls(
            links=[RingLinkPublic(account_id=a, type=k.type, id=k.id) for a, k in links],
            id=s.id, risk=clamp_risk(s.risk) or 0.0, size=s.size, created_at=s.created_at,
            updated_at=s.updated_at, sweep_id=s.sweep_id, case_status=s.case_status, assignee=s.assignee,
            case=CasePublic.of(r.case) if r.case is not None else None,
            members=[RingMemberPublic(account_id=x.account_id, risk=clamp_risk(x.risk) or 0.0, label=x.label)
                     for x in r.members],
            identifiers=[RingIdentifierPublic(type=x.type, id=x.id, accounts=x.accounts) for x in r.identifiers],
            history=[RingHistoryPublic(sweep_id=x.sweep_id, at=x.at, event=x.event, size=x.size) for x in r.history],
        )


class JobPublic(Strict):
    id: str
    kind: Literal["sweep", "train"]
    status: Literal["queued", "running", "succeeded", "failed"]
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    result: dict[str, Any] | None
    error: str | None

    @classmethod
    def of(cls, j: m.Job) -> JobPublic:
        return cls(id=j.id, kind=j.kind, status=j.status, created_at=j.created_at, started_at=j.started_at,
                   finished_at=j.finished_at, result=j.result, error=j.error)


class ModelInfo(Strict):
    version: str
    created_at: Timestamp | None
    metrics: dict[str, Any]


class ModelsPublic(Strict):
    active: str | None
    models: list[ModelInfo]


class ActiveModel(Strict):
    active: str


class BenignPublic(Strict):
    type: IdType
    id: str
    benign: bool


class IdentifierAccountPublic(Strict):
    account_id: str
    risk: Risk01 | None
    label: Label | None
    ring_id: str | None
    first_seen: Timestamp


class IdentifierPublic(Strict):
    """An identifier with a page of its accounts, earliest linked first (contract 1.1)."""

    type: IdType
    id: str
    accounts: int = Field(description="Accounts sharing it (the full degree)")
    benign: bool
    first_seen: Timestamp
    last_seen: Timestamp
    ring_ids: list[str] = Field(description="Rings of the current sweep that this identifier ties")
    data: list[IdentifierAccountPublic]
    next_cursor: str | None


class LabelEventPublic(Strict):
    label: Label
    source: str
    note: str | None
    at: Timestamp


class LabelHistory(Strict):
    account_id: str
    data: list[LabelEventPublic] = Field(description="Every label the account was given, oldest first")


class WhoAmI(Strict):
    key_id: str = Field(description="The key's position in RINGFENCE_API_KEYS (key-0, ...), never the key")
    scopes: list[str]


class Status(Strict):
    status: str
    checks: dict[str, str] | None = None


def clamp_risk(x: float | None) -> float | None:
    """A stored risk as the API shows it: within [0, 1]."""
    return None if x is None else min(1.0, max(0.0, float(x)))
