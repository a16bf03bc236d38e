"""`SQLiteStore.load_arrays`: the whole graph in two plain ordered scans of one read transaction.

Private to the SQLite backend: it reads the store's tables through the store's own connection.
Attributes a caller wants as columns are extracted by SQLite's JSON functions, so no dict is
built per account.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Sequence
from typing import Any

from ringfence.graph.arrays import AccountColumns, AttributeSpec, GraphArrays, SortedLinks
from ringfence.graph.model import ID_TYPES, IdentifierKey

_SAFE_KEY = re.compile(r"^[A-Za-z0-9_\-.:/@ ]+$")


def read_arrays(conn: sqlite3.Connection, attributes: bool | AttributeSpec, chunk_size: int) -> GraphArrays:
    """A consistent snapshot of the store behind `conn` (autocommit mode, no open transaction)."""
    try:
        return _read(conn, attributes, chunk_size)
    except sqlite3.OperationalError:
        if isinstance(attributes, bool):
            raise
        # An attribute SQLite's JSON functions cannot read (NaN, odd key): parse in Python.
        g = _read(conn, True, chunk_size)
        assert g.attributes is not None
        g.columns = attributes.columns_from_dicts(g.attributes)
        g.attributes = None
        return g


def _read(conn: sqlite3.Connection, attributes: bool | AttributeSpec, chunk_size: int) -> GraphArrays:
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
        acc = AccountColumns(ids, created, label, labelled)
        if not isinstance(attributes, bool):
            by_key = list(zip(*values, strict=True)) if values else [() for _ in params]
            del values
            acc.columns = attributes.columns_from_values(dict(zip(keys, by_key, strict=False)))
        elif attributes is True:
            acc.attributes = attrs
        # Links in identifier order (the covering index links_by_identifier, no sort): identifier
        # codes are runs of equal (type, id), found with numpy instead of a dict per link.
        links = SortedLinks(acc.index())
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
