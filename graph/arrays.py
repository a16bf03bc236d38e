"""The whole graph as integer-coded numpy arrays, read from the store once per sweep.

`AccountStore.load_arrays` reads every account and link into a `GraphArrays`: accounts numbered
in id order, identifiers in (type, id) order, links as int32 columns. Nothing per edge is kept
as a Python object, so 1M accounts / 4M links fit in a few hundred MB. Ring detection
(`graph.detection`) and batch scoring (`gnn`) both read it, so a sweep loads the graph once.

Each backend reads its rows its own fastest way (`sqlite_arrays`, `neo4j_arrays`) and codes them
with the builders here: `AccountColumns`, then `SortedLinks` (links arriving in identifier
order) or `LinkColumns` (any order).

Account attributes are optional: a caller that encodes them (the GNN's feature schema) passes
an `AttributeSpec` and gets prepared per-attribute columns instead of parsed dicts.
"""

from __future__ import annotations

import bisect
import gc
import math
import operator
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ringfence.graph.model import ID_TYPES, IdentifierKey

if TYPE_CHECKING:
    from ringfence.graph.store import AccountStore

TYPE_CODE: dict[str, int] = {t: k for k, t in enumerate(ID_TYPES)}


class AttributeSpec(Protocol):
    """The account attributes a reader wants as columns (implemented by `gnn.features.FeatureSchema`)."""

    def attribute_kinds(self) -> list[tuple[str, str, Any]]:
        """(kind, name, spec) per attribute: kind "num" / "cat" / "bool"; for "cat", spec maps value -> position."""
        ...

    def columns_from_dicts(self, attributes: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
        """The columns from parsed attribute dicts."""
        ...

    def columns_from_values(self, values: Mapping[str, Sequence[Any]]) -> dict[str, np.ndarray]:
        """The columns from each attribute's decoded JSON values (None when missing), in account order."""
        ...


@dataclass
class GraphArrays:
    """The whole store as integer-coded numpy arrays (ring detection, batch scoring, training).

    Accounts are in id order; identifiers in (type index in `ID_TYPES`, id) order, so each type
    is a contiguous block. Benign identifiers are kept and flagged. Labels are as stored
    (`labels_as_of` applies `labelled_at`). A link whose account was created after the
    account scan passed it is dropped.
    """

    account_ids: list[str]
    created: np.ndarray  # float64 [Na] epoch seconds
    label: np.ndarray  # int8 [Na]: 1 fraud, 0 legit, -1 none
    labelled_at: np.ndarray  # float64 [Na], NaN when unknown
    id_type: np.ndarray  # int8 [Ni], index into ID_TYPES
    id_value: list[str]  # [Ni]
    benign: np.ndarray  # bool [Ni]
    e_acc: np.ndarray  # int32 [E]
    e_id: np.ndarray  # int32 [E]
    e_first: np.ndarray  # float64 [E] epoch seconds
    attributes: list[dict[str, Any]] | None = None  # with attributes=True
    columns: dict[str, np.ndarray] | None = None  # with attributes=<AttributeSpec>: one array per attribute

    @property
    def n_accounts(self) -> int:
        return len(self.account_ids)

    @property
    def n_identifiers(self) -> int:
        return len(self.id_value)

    @property
    def n_links(self) -> int:
        return int(self.e_acc.size)

    def degree(self) -> np.ndarray:
        """Accounts per identifier, int64 [Ni] (benign identifiers included)."""
        return np.bincount(self.e_id, minlength=self.n_identifiers).astype(np.int64)

    def key(self, j: int) -> IdentifierKey:
        return IdentifierKey(ID_TYPES[int(self.id_type[j])], self.id_value[j])

    def labels_as_of(self, t: float) -> np.ndarray:
        """Label codes counting only labels recorded at or before epoch `t` (or undated)."""
        late = ~np.isnan(self.labelled_at) & (self.labelled_at > t)
        return np.where(late, -1, self.label).astype(np.int8)


LABEL_CODE = {"fraud": 1, "legit": 0}


def load_arrays(
    store: AccountStore, attributes: bool | AttributeSpec = False, chunk_size: int = 200_000
) -> GraphArrays:
    """`store.load_arrays(attributes, chunk_size)`: the whole graph as `GraphArrays`.

    `attributes`: False (none), True (parsed attribute dicts, for fitting a schema) or an
    `AttributeSpec` (prepared columns, e.g. for `FeatureSchema.encode_columns`, without building dicts).
    """
    return store.load_arrays(attributes, chunk_size)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Used by each backend's `load_arrays` (as a decorator, `@gc_paused()`).

    The load allocates millions of short-lived row tuples while holding few long-lived
    containers: the cyclic collector's repeated passes over them cost as much as the load
    itself (28 s vs 14 s for 3.7M links), and there are no cycles to find."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@gc_paused()
def arrays_from_streams(
    store: AccountStore, attributes: bool | AttributeSpec = False, chunk_size: int = 200_000
) -> GraphArrays:
    """`GraphArrays` built from `stream_accounts` / `stream_links` and `benign_identifiers`: the
    reference the backends' bulk reads are tested against, and what a backend without a faster
    path may return from its `load_arrays`."""
    ids: list[str] = []
    created: list[float] = []
    label: list[int] = []
    labelled: list[float] = []
    attrs: list[dict[str, Any]] = []
    for rows in store.stream_accounts(chunk_size=chunk_size):
        for r in rows:
            ids.append(r.id)
            created.append(r.created_at.timestamp())
            label.append(LABEL_CODE.get(r.label, -1) if r.label else -1)
            labelled.append(r.labelled_at.timestamp() if r.labelled_at is not None else math.nan)
        if attributes is not False:
            attrs.extend(r.attributes for r in rows)
    acc = AccountColumns(ids, created, label, labelled)
    acc.attach(attributes, attrs)
    links = LinkColumns(acc.index())
    for chunk in store.stream_links(chunk_size=chunk_size):
        links.add([(r.account_id, r.type, r.id, r.first_seen.timestamp()) for r in chunk])
    return links.finish(acc, store.benign_identifiers())


class SortedLinks:
    """Link rows (account id, type code, id, first_seen) ordered by (type name, id), to codes."""

    def __init__(self, index: dict[str, int]) -> None:
        self.index = index
        self.acc: list[np.ndarray] = []
        self.code: list[np.ndarray] = []
        self.first: list[np.ndarray] = []
        self.id_type: list[np.ndarray] = []
        self.id_value: list[str] = []
        self.last: tuple[int, str] | None = None
        self.n = 0

    def add(self, rows: Sequence[tuple[str, int, str, float]]) -> None:
        if not rows:
            return
        a, t, v, f = zip(*rows, strict=True)
        try:
            acc = np.fromiter(map(self.index.__getitem__, a), dtype=np.int32, count=len(a))
        except KeyError:  # not in a consistent snapshot: drop links of unknown accounts
            acc = np.array([self.index.get(x, -1) for x in a], dtype=np.int32)
        tt = np.array(t, dtype=np.int8)
        new = np.empty(len(v), dtype=bool)
        new[0] = self.last != (int(tt[0]), v[0])
        new[1:] = np.fromiter(map(operator.ne, v[1:], v[:-1]), dtype=bool, count=len(v) - 1)
        new[1:] |= tt[1:] != tt[:-1]
        starts = np.flatnonzero(new)
        self.code.append(self.n + np.cumsum(new) - 1)
        self.n += len(starts)
        self.id_type.append(tt[starts])
        self.id_value.extend(map(v.__getitem__, starts.tolist()))
        self.last = (int(tt[-1]), v[-1])
        self.acc.append(acc)
        self.first.append(np.array(f, dtype=np.float64))

    def finish(self, acc: AccountColumns, benign: set[IdentifierKey]) -> GraphArrays:
        e_acc = np.concatenate(self.acc) if self.acc else np.zeros(0, dtype=np.int32)
        e_code = np.concatenate(self.code) if self.code else np.zeros(0, dtype=np.int64)
        e_first = np.concatenate(self.first) if self.first else np.zeros(0)
        types = np.concatenate(self.id_type) if self.id_type else np.zeros(0, dtype=np.int8)
        # Type blocks in ID_TYPES order (ids inside a block are already sorted).
        order = np.argsort(types, kind="stable")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        e_id = rank[e_code]
        id_value = [self.id_value[j] for j in order.tolist()]
        id_type = types[order]
        pos = {}
        if benign:
            offsets = np.searchsorted(id_type, np.arange(len(ID_TYPES) + 1))
            for key in benign:
                tc = TYPE_CODE.get(key.type)
                if tc is None:
                    continue
                lo, hi = int(offsets[tc]), int(offsets[tc + 1])
                j = bisect.bisect_left(id_value, key.id, lo, hi)
                if j < hi and id_value[j] == key.id:
                    pos[j] = True
        bmask = np.zeros(len(id_value), dtype=bool)
        bmask[list(pos)] = True
        ok = (e_acc >= 0) & (id_type[e_id] >= 0) if len(e_id) else np.zeros(0, dtype=bool)
        return _arrays(acc, id_type, id_value, bmask, e_acc[ok], e_id[ok], e_first[ok])


def _arrays(acc: AccountColumns, id_type: np.ndarray, id_value: list[str], benign: np.ndarray, e_acc: np.ndarray,
            e_id: np.ndarray, e_first: np.ndarray) -> GraphArrays:
    labelled = np.array([math.nan if x is None else x for x in acc.labelled], dtype=np.float64)
    return GraphArrays(
        account_ids=acc.ids,
        created=np.array(acc.created, dtype=np.float64),
        label=np.array(acc.label, dtype=np.int8),
        labelled_at=labelled,
        id_type=id_type.astype(np.int8),
        id_value=id_value,
        benign=benign,
        e_acc=e_acc.astype(np.int32),
        e_id=e_id.astype(np.int32),
        e_first=e_first,
        attributes=acc.attributes,
        columns=acc.columns,
    )


@dataclass
class AccountColumns:
    ids: list[str]
    created: list[float]
    label: list[int]
    labelled: Sequence[float | None]
    attributes: list[dict[str, Any]] | None = None
    columns: dict[str, np.ndarray] | None = None

    def index(self) -> dict[str, int]:
        return dict(zip(self.ids, range(len(self.ids)), strict=True))

    def attach(self, attributes: bool | AttributeSpec, dicts: list[dict[str, Any]]) -> None:
        """Keep the accounts' parsed attribute `dicts` as `attributes` asks: columns, dicts or nothing."""
        if not isinstance(attributes, bool):
            self.columns = attributes.columns_from_dicts(dicts)
        elif attributes:
            self.attributes = dicts


class LinkColumns:
    """Link rows (account id, type, id, first_seen) to integer codes, chunk by chunk."""

    def __init__(self, index: dict[str, int]) -> None:
        self.index = index
        self.keys: list[dict[str, int]] = [{} for _ in ID_TYPES]  # per type: value -> code in type
        self.acc: list[np.ndarray] = []
        self.typ: list[np.ndarray] = []
        self.code: list[np.ndarray] = []
        self.first: list[np.ndarray] = []

    def add(self, rows: Sequence[tuple[str, str, str, float]]) -> None:
        if not rows:
            return
        a, t, v, f = zip(*rows, strict=True)
        get = self.index.get
        self.add_coded(np.array([get(x, -1) for x in a], dtype=np.int32), t, v, f)

    def add_coded(self, acc: np.ndarray, t: Sequence[str], v: Sequence[str], f: Sequence[float]) -> None:
        """Links whose accounts are already coded (-1: unknown account, dropped)."""
        tcode = [TYPE_CODE.get(x, -1) for x in t]
        keys = self.keys
        codes = []
        for tc, val in zip(tcode, v, strict=True):
            d = keys[tc]
            c = d.get(val)
            if c is None:
                c = d[val] = len(d)
            codes.append(c)
        self.acc.append(acc)
        self.typ.append(np.array(tcode, dtype=np.int8))
        self.code.append(np.array(codes, dtype=np.int64))
        self.first.append(np.array(f, dtype=np.float64))

    def finish(self, acc: AccountColumns, benign: set[IdentifierKey]) -> GraphArrays:
        e_acc = np.concatenate(self.acc) if self.acc else np.zeros(0, dtype=np.int32)
        e_typ = np.concatenate(self.typ) if self.typ else np.zeros(0, dtype=np.int8)
        e_code = np.concatenate(self.code) if self.code else np.zeros(0, dtype=np.int64)
        e_first = np.concatenate(self.first) if self.first else np.zeros(0)
        self.acc = self.typ = self.code = self.first = []
        # Rank each type's distinct values (one sort of the distinct values, not of the links)
        # and stack the type blocks in ID_TYPES order.
        id_type: list[np.ndarray] = []
        id_value: list[str] = []
        e_id = np.empty(len(e_code), dtype=np.int64)
        bmask: list[np.ndarray] = []
        offset = 0
        for tc, d in enumerate(self.keys):
            values = np.array(list(d), dtype=str) if d else np.zeros(0, dtype=str)
            order = np.argsort(values, kind="stable")
            rank = np.empty(len(order), dtype=np.int64)
            rank[order] = np.arange(len(order))
            sel = e_typ == tc
            e_id[sel] = offset + rank[e_code[sel]]
            id_value.extend(values[order].tolist())
            id_type.append(np.full(len(order), tc, dtype=np.int8))
            b = np.zeros(len(order), dtype=bool)
            for key in benign:
                c = d.get(key.id) if key.type == ID_TYPES[tc] else None
                if c is not None:
                    b[rank[c]] = True
            bmask.append(b)
            offset += len(order)
        self.keys = []
        ok = (e_acc >= 0) & (e_typ >= 0)  # links of accounts created after the account scan passed them
        return _arrays(acc, np.concatenate(id_type) if id_type else np.zeros(0, dtype=np.int8), id_value,
                       np.concatenate(bmask) if bmask else np.zeros(0, dtype=bool), e_acc[ok], e_id[ok], e_first[ok])


