"""The account records of a JSON-lines file as columns, each checked as `ringfence load` checks it.

For the bulk first load (`graph/neo4j_bulk.py`), which reads millions of records: a record
becomes a row, not an `AccountIn`, and the checks of `loader.account_from_record` run on whole
columns where they can. Two roads, one verdict:

- The fast road takes the common record. Its shape (types, sizes, link types) is checked in
  plain Python as the line is parsed; ids and timestamps column by column (RE2 matches the id
  pattern; timestamps of the form `2026-01-01T00:00:00Z` are read field by field with numpy and
  must be a real date and time, as `datetime` requires). Card numbers: `core.cards.may_hold_pan`
  clears every string of a line (ids, attribute names and values) from its raw bytes, and reads
  only the lines one RE2 scan flags (13 digits with at most three separators between two, an
  escape, non-ASCII text: in any other line the policy finds nothing); numbers are checked one
  by one (`cards.number_is_pan` is false below 10**12; anything larger, or nested, takes the
  other road).
- Any record the fast road is not sure of goes through `account_from_record` itself, in file
  order: every refusal is that function's, for the first bad record, and what it accepts is
  taken as it returns it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ringfence.core.cards import may_hold_pan
from ringfence.core.errors import InvalidInput
from ringfence.core.json_input import parse_json
from ringfence.graph.loader import MAX_ATTRIBUTES, MAX_LINKS, account_from_record
from ringfence.graph.model import ID_TYPES
from ringfence.graph.neo4j_queries import ts
from ringfence.graph.stored_json import encode_attributes
from ringfence.graph.validation import ID_PATTERN

_ID_RE2 = ID_PATTERN.replace("$", r"\z")  # RE2: end of text only (Python's `$` also allows a final newline)
_PLAIN_TS = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\z"
_YEAR_1 = -62135596800  # 0001-01-01T00:00:00Z: `datetime` has no year 0
# A run of 13 digits with at most three separators between two, an escape, or a byte of non-ASCII text.
_LOOK_CLOSER = r"[0-9](?:[ \t\n\r\x0b\x0c._/-]{0,3}[0-9]){12}|\\|[^\x00-\x7f]"
_ID_TYPES = frozenset(ID_TYPES)
_LABELS = ("fraud", "legit")
_CHUNK = 100_000  # lines read into arrays and scanned for card numbers at a time


@dataclass
class Records:
    """One entry per record, in file order (repeats of an account stay apart), and one per link.

    `created`: epoch seconds; `labels`: the record's `label` when fraud or legit, else None.
    Links: the index of their record, type, id and time seen (the record's `created` when the
    link has no `seen_at`).
    """

    ids: list[str]
    created: np.ndarray
    attributes: list[bytes]  # each record's attributes as JSON (orjson): 0.25 GB per 1M, dicts 0.6
    labels: list[str | None]
    link_record: np.ndarray
    link_type: pa.Array
    link_id: pa.Array
    link_seen: np.ndarray

    @property
    def links(self) -> int:
        return len(self.link_record)


def read_records(lines: Iterable[bytes]) -> Records:
    """Every record of `lines` (JSON lines, blank ones skipped), checked as `account_from_record`
    checks it: raises its `InvalidInput` / `PanNotAllowed` for the first record it refuses, or
    `InvalidInput` for a line that is not JSON.

    Read `_CHUNK` lines at a time: each chunk's links and timestamps become arrays and its lines
    are checked for card numbers, then its raw lines are dropped but for the records the fast
    road is not sure of. At 10M accounts the lines alone are 6.5 GB and the links as Python
    strings 8 GB, which no longer stay in memory all at once."""
    parts: list[_Chunk] = []
    raw: list[bytes] = []
    unsure_raw: dict[int, bytes] = {}
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = parse_json(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"line {n} is not JSON") from exc
        if not parts or len(raw) == _CHUNK:
            if parts:
                unsure_raw.update(parts[-1].close(raw))
            parts.append(_Chunk(sum(len(c.ids) for c in parts)))
            raw = []
        raw.append(line)
        parts[-1].add(record)
    if not parts:
        parts.append(_Chunk(0))
    unsure_raw.update(parts[-1].close(raw))
    del raw
    records = Records(
        [i for c in parts for i in c.ids], np.concatenate([c.created for c in parts]),
        [a for c in parts for a in c.attributes], [x for c in parts for x in c.labels],
        np.concatenate([c.link_record for c in parts]), pa.concat_arrays([c.link_type for c in parts]),
        pa.concat_arrays([c.link_id for c in parts]), np.concatenate([c.link_seen for c in parts]))
    del parts
    if unsure_raw:
        _take_the_other_road(records, unsure_raw)
    return records


class _Chunk:
    """Up to `_CHUNK` records of `read_records`: Python lists while they are read, arrays once closed."""

    def __init__(self, start: int) -> None:
        self.start = start  # the index of its first record in the file's records
        self.ids: list[str] = []
        self.attributes: list[bytes] = []
        self.labels: list[str | None] = []
        self.unsure: set[int] = set()
        self._created: list[str] = []
        self._link_record: list[int] = []
        self._link_type: list[str] = []
        self._link_id: list[str] = []
        self._link_seen: list[str | None] = []

    def add(self, record: Any) -> None:
        k = self.start + len(self.ids)
        if type(record) is not dict:
            record = {}
            self.unsure.add(k)
        account_id, attrs = record.get("id"), record.get("attributes") or {}
        links, stamp, label = record.get("links") or [], record.get("created_at"), record.get("label")
        self.ids.append(account_id if type(account_id) is str else "")
        self._created.append(stamp if type(stamp) is str else "")
        self.attributes.append(attributes_json(attrs) if type(attrs) is dict else b"{}")
        self.labels.append(label if type(label) is str and label in _LABELS else None)
        if (type(account_id) is not str or type(attrs) is not dict or len(attrs) > MAX_ATTRIBUTES
                or type(links) is not list or len(links) > MAX_LINKS or not stamp or type(stamp) is not str
                or not _plain_values(attrs)):
            self.unsure.add(k)
            return
        for link in links:
            if type(link) is not dict:
                self.unsure.add(k)
                return
            link_type, seen = link.get("type"), link.get("seen_at")
            if type(link_type) is not str or link_type not in _ID_TYPES or type(link.get("id")) is not str:
                self.unsure.add(k)
                return
            if seen and type(seen) is not str:
                self.unsure.add(k)
                return
            self._link_record.append(k)
            self._link_type.append(link_type)
            self._link_id.append(link["id"])
            self._link_seen.append(seen or None)

    def close(self, raw: list[bytes]) -> dict[int, bytes]:
        """Turns the chunk's columns into arrays and checks them; returns the raw lines (by record
        index) of the records the fast road is not sure of."""
        self.link_record = np.array(self._link_record, dtype=np.int64)
        self.link_type = pa.array(self._link_type, pa.string())
        self.link_id = pa.array(self._link_id, pa.string())
        unsure = self.unsure
        unsure |= {self.start + i for i in _pan_suspects(raw)}
        unsure |= _failures(pc.match_substring_regex(pa.array(self.ids, pa.string()), _ID_RE2), self.start,
                            self.link_record, pc.match_substring_regex(self.link_id, _ID_RE2))
        self.created, bad_created = _timestamps(pa.array(self._created, pa.string()))
        unsure |= {self.start + i for i in np.flatnonzero(bad_created).tolist()}
        seen_given = pa.array(self._link_seen, pa.string())
        seen, bad_seen = _timestamps(pc.fill_null(seen_given, "2000-01-01T00:00:00Z"))
        seen[np.asarray(seen_given.is_null(), dtype=bool)] = np.nan
        unsure |= set(self.link_record[bad_seen].tolist())
        self.link_seen = np.where(np.isnan(seen), self.created[self.link_record - self.start], seen)
        del self._created, self._link_record, self._link_type, self._link_id, self._link_seen
        return {k: raw[k - self.start] for k in sorted(unsure)}


def attributes_json(attributes: dict[str, Any]) -> bytes:
    """`attributes` as compact JSON, in bytes of its own size: what `orjson.dumps` returns keeps
    its 4 KB buffer (1M of them held 3.9 GB instead of 0.25). What orjson refuses (integers
    beyond 64 bits: input is checked JSON) is written as the stores write it, `encode_attributes`."""
    try:
        return memoryview(orjson.dumps(attributes)).tobytes()
    except TypeError:
        return encode_attributes(attributes).encode()


def _plain_values(attrs: dict[str, Any]) -> bool:
    """No value that needs `holds_pan` itself: nested values, or numbers from 10**12 up."""
    for v in attrs.values():
        t = type(v)
        if t is int or t is float:
            if not -1e12 < v < 1e12:  # type: ignore[operator]
                return False
        elif t is not str and t is not bool and v is not None:
            return False
    return True


def _pan_suspects(raw: list[bytes]) -> list[int]:
    """Indices of the lines in which `may_hold_pan` finds a string that may be a card number. It
    reads escapes and non-ASCII text itself; in other lines it needs a run of 13 digits to look."""
    offsets = np.zeros(len(raw) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, raw), dtype=np.int64, count=len(raw)), out=offsets[1:])
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(raw))]
    lines = pa.Array.from_buffers(pa.large_binary(), len(raw), buffers)
    look = np.asarray(pc.match_substring_regex(lines, _LOOK_CLOSER), dtype=bool)
    return [i for i in np.flatnonzero(look).tolist() if may_hold_pan(raw[i])]


def _failures(account_ok: pa.Array, start: int, link_record: np.ndarray, link_ok: pa.Array) -> set[int]:
    bad = {start + i for i in np.flatnonzero(~np.asarray(account_ok, dtype=bool)).tolist()}
    return bad | set(link_record[~np.asarray(link_ok, dtype=bool)].tolist())


def _timestamps(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(epoch seconds, not sure) of timestamps written `2026-01-01T00:00:00Z` with a valid date and
    time from year 1 (as `datetime` reads them); others are marked, for `parse_ts` to read."""
    plain = pc.match_substring_regex(texts, _PLAIN_TS)
    texts = pc.if_else(plain, texts, "2000-01-01T00:00:00Z")

    def field(start: int, stop: int) -> np.ndarray:
        return np.asarray(pc.utf8_slice_codeunits(texts, start, stop).cast(pa.int64()), dtype=np.int64)

    year, month, day = field(0, 4), field(5, 7), field(8, 10)
    hour, minute, second = field(11, 13), field(14, 16), field(17, 19)
    good = np.asarray(plain, dtype=bool) & (year >= 1) & (month >= 1) & (month <= 12) & (hour <= 23)
    good &= (minute <= 59) & (second <= 59) & (day >= 1)
    month_start = (year - 1970).astype("M8[Y]").astype("M8[M]") + (np.clip(month, 1, 12) - 1).astype("m8[M]")
    first_day = month_start.astype("M8[D]")
    good &= day <= ((month_start + np.timedelta64(1, "M")).astype("M8[D]") - first_day).astype(np.int64)
    days = (first_day - np.datetime64(0, "D")).astype(np.int64) + day - 1
    return (days * 86400 + hour * 3600 + minute * 60 + second).astype(np.float64), ~good


def _take_the_other_road(records: Records, raw: dict[int, bytes]) -> None:
    """Checks the records of `raw` (index -> line) with `account_from_record`, in file order, and
    puts what it accepts in place of the fast road's values."""
    unsure = sorted(raw)
    keep = ~np.isin(records.link_record, unsure)
    link_record, link_type = [records.link_record[keep]], [records.link_type.filter(keep)]
    link_id, link_seen = [records.link_id.filter(keep)], [records.link_seen[keep]]
    for k in unsure:
        record = parse_json(raw[k])
        account = account_from_record(record)
        records.ids[k], records.attributes[k] = account.id, attributes_json(account.attributes)
        records.created[k] = ts(account.created_at)
        records.labels[k] = record["label"] if record.get("label") in _LABELS else None
        link_record.append(np.full(len(account.links), k, dtype=np.int64))
        link_type.append(pa.array([x.type for x in account.links], pa.string()))
        link_id.append(pa.array([x.id for x in account.links], pa.string()))
        link_seen.append(np.array([ts(x.seen_at or account.created_at) for x in account.links], dtype=np.float64))
    records.link_record, records.link_seen = np.concatenate(link_record), np.concatenate(link_seen)
    records.link_type, records.link_id = pa.concat_arrays(link_type), pa.concat_arrays(link_id)
