"""The whole graph as integer-coded numpy arrays, read from the store once per sweep.

`load_arrays` reads every account and link into a `GraphArrays`: accounts numbered in id
order, identifiers in (type, id) order, links as int32 columns. Nothing per edge is kept as a
Python object, so 1M accounts / 4M links fit in a few hundred MB. Ring detection
(`graph.detection`) and batch scoring (`gnn`) both read it, so a sweep loads the graph once.

Account attributes are optional: a caller that encodes them (the GNN's feature schema) passes
an `AttributeSpec` and gets prepared per-attribute columns instead of parsed dicts.
"""

from __future__ import annotations

import bisect
import gc
import json
import math
import operator
import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ringfence.graph.model import ID_TYPES, IdentifierKey
from ringfence.graph.store import GraphStore

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


_LABEL_CODE = {"fraud": 1, "legit": 0}
_SAFE_KEY = re.compile(r"^[A-Za-z0-9_\-.:/@ ]+$")


def load_arrays(
    store: GraphStore, attributes: bool | AttributeSpec = False, chunk_size: int = 200_000
) -> GraphArrays:
    """Read the whole graph into `GraphArrays`; memory O(accounts + links), no per-row objects kept.

    `attributes`: False (none), True (parsed attribute dicts, for fitting a schema) or an
    `AttributeSpec` (prepared columns, e.g. for `FeatureSchema.encode_columns`, without building dicts).

    On the embedded SQLite store this is two plain ordered scans in one read transaction (a
    consistent snapshot), attributes extracted by SQLite's JSON functions; every other backend
    goes through `stream_accounts` / `stream_links`.
    """
    with _gc_paused():
        return _load(store, attributes, chunk_size)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """The load allocates millions of short-lived row tuples while holding few long-lived
    containers: the cyclic collector's repeated passes over them cost as much as the load
    itself (28 s vs 14 s for 3.7M links), and there are no cycles to find."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load(store: GraphStore, attributes: bool | AttributeSpec, chunk_size: int) -> GraphArrays:
    from ringfence.graph.sqlite_store import SQLiteStore

    if isinstance(store, SQLiteStore):
        try:
            return _load_sqlite(store, attributes, chunk_size)
        except sqlite3.OperationalError:
            if isinstance(attributes, bool):
                raise
            # An attribute SQLite's JSON functions cannot read (NaN, odd key): parse in Python.
            g = _load_sqlite(store, True, chunk_size)
            assert g.attributes is not None
            g.columns = attributes.columns_from_dicts(g.attributes)
            g.attributes = None
            return g
    from ringfence.graph.neo4j_store import Neo4jStore

    if isinstance(store, Neo4jStore):
        return _load_neo4j(store, attributes, chunk_size)
    return _load_generic(store, attributes, chunk_size)


def _load_neo4j(store: Any, attributes: bool | AttributeSpec, chunk_size: int) -> GraphArrays:
    """Accounts and their links in one pass over the driver's raw pages (epoch floats,
    attribute JSON text); each page is one read, consistent in itself."""
    ids: list[str] = []
    created: list[float] = []
    label: list[int] = []
    labelled: list[float | None] = []
    attrs: list[dict[str, Any]] = []
    links = _LinkColumns({})
    for rows in store.graph_pages(chunk_size=min(chunk_size, 50_000)):
        cols = list(zip(*rows, strict=True))
        base = len(ids)
        ids.extend(cols[0])
        created.extend(cols[1])
        label.extend(_LABEL_CODE.get(x, -1) if x else -1 for x in cols[3])
        labelled.extend(cols[4])
        if attributes is not False:
            attrs.extend(map(json.loads, cols[2]))
        counts = [len(x) for x in cols[5]]
        flat = [link for account_links in cols[5] for link in account_links]
        if flat:
            t, v, f = zip(*flat, strict=True)
            acc_codes = np.repeat(np.arange(base, base + len(counts), dtype=np.int32), counts)
            links.add_coded(acc_codes, t, v, f)
    acc = _AccountColumns(ids, created, label, labelled)
    if not isinstance(attributes, bool):
        acc.columns = attributes.columns_from_dicts(attrs)
    elif attributes:
        acc.attributes = attrs
    return links.finish(acc, store.benign_identifiers())


def _load_generic(store: GraphStore, attributes: bool | AttributeSpec, chunk_size: int) -> GraphArrays:
    ids: list[str] = []
    created: list[float] = []
    label: list[int] = []
    labelled: list[float] = []
    attrs: list[dict[str, Any]] = []
    for rows in store.stream_accounts(chunk_size=chunk_size):
        for r in rows:
            ids.append(r.id)
            created.append(r.created_at.timestamp())
            label.append(_LABEL_CODE.get(r.label, -1) if r.label else -1)
            labelled.append(r.labelled_at.timestamp() if r.labelled_at is not None else math.nan)
        if attributes is not False:
            attrs.extend(r.attributes for r in rows)
    acc = _AccountColumns(ids, created, label, labelled)
    if not isinstance(attributes, bool):
        acc.columns = attributes.columns_from_dicts(attrs)
    elif attributes:
        acc.attributes = attrs
    links = _LinkColumns(acc.index())
    for chunk in store.stream_links():
        links.add([(r.account_id, r.type, r.id, r.first_seen.timestamp()) for r in chunk])
    return links.finish(acc, store.benign_identifiers())


def _load_sqlite(store: Any, attributes: bool | AttributeSpec, chunk_size: int) -> GraphArrays:
    conn = store._conn()
    extra, params, keys = "", [], []
    if not isinstance(attributes, bool):
        keys = [key for _, key, _ in attributes.attribute_kinds()]
        for key in keys:
            if not _SAFE_KEY.match(key):
                raise sqlite3.OperationalError(f"attribute key {key!r} read in Python")
        if keys:
            # One JSON parse per account: with several paths json_extract returns a JSON array of
            # the values (null when missing), decoded below by Python's json in one call per chunk,
            # so values read exactly as an online call's json.loads reads them.
            params = [f'$."{key}"' for key in keys]
            if len(params) == 1:
                params.append(params[0])  # one path would return the bare value, not an array
            extra = f", json_extract(attributes, {', '.join('?' for _ in params)})"
    elif attributes:
        extra = ", attributes"
    conn.execute("BEGIN")
    try:
        ids: list[str] = []
        created: list[float] = []
        label: list[int] = []
        labelled: list[float] = []
        values: list[Sequence[Any]] = []
        attrs: list[dict[str, Any]] = []
        cur = conn.execute(
            "SELECT id, created_at, CASE label WHEN 'fraud' THEN 1 WHEN 'legit' THEN 0 ELSE -1 END, labelled_at"
            f"{extra} FROM accounts ORDER BY id", params)
        while rows := cur.fetchmany(chunk_size):
            cols = list(zip(*rows, strict=True))
            ids.extend(cols[0])
            created.extend(cols[1])
            label.extend(cols[2])
            labelled.extend(cols[3])
            if attributes is True:
                attrs.extend(json.loads(x) for x in cols[4])
            elif keys:
                values.extend(json.loads("[" + ",".join(cols[4]) + "]"))
        acc = _AccountColumns(ids, created, label, labelled)
        if not isinstance(attributes, bool):
            by_key = list(zip(*values, strict=True)) if values else [() for _ in params]
            del values
            acc.columns = attributes.columns_from_values(dict(zip(keys, by_key, strict=False)))
        elif attributes is True:
            acc.attributes = attrs
        # Links in identifier order (the covering index links_by_identifier, no sort): identifier
        # codes are runs of equal (type, id), found with numpy instead of a dict per link.
        links = _SortedLinks(acc.index())
        cases = " ".join("WHEN ? THEN ?" for _ in ID_TYPES)
        cur = conn.execute(
            f"SELECT account_id, CASE type {cases} ELSE -1 END, id, first_seen FROM links ORDER BY type, id",
            [x for k, t in enumerate(ID_TYPES) for x in (t, k)],
        )
        while rows := cur.fetchmany(chunk_size):
            links.add(rows)
        benign = {IdentifierKey(t, i) for t, i in conn.execute("SELECT type, id FROM benign")}
    finally:
        conn.execute("COMMIT")
    return links.finish(acc, benign)


class _SortedLinks:
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

    def finish(self, acc: _AccountColumns, benign: set[IdentifierKey]) -> GraphArrays:
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


def _arrays(acc: _AccountColumns, id_type: np.ndarray, id_value: list[str], benign: np.ndarray, e_acc: np.ndarray,
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
class _AccountColumns:
    ids: list[str]
    created: list[float]
    label: list[int]
    labelled: Sequence[float | None]
    attributes: list[dict[str, Any]] | None = None
    columns: dict[str, np.ndarray] | None = None

    def index(self) -> dict[str, int]:
        return dict(zip(self.ids, range(len(self.ids)), strict=True))


class _LinkColumns:
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

    def finish(self, acc: _AccountColumns, benign: set[IdentifierKey]) -> GraphArrays:
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


