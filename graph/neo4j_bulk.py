"""The first load of an empty Neo4j database through Neo4j's own `neo4j-admin database import`.

Three steps, because the import tool writes the database files of a stopped database:

1. `write_import_files`: the records (JSON lines, as `ringfence load` reads them, checked by
   `graph/bulk_records.py`) become the import tool's CSV files: the whole graph a load writes,
   in the typed model (`graph/neo4j_typed.py`), with the records' labels (label events, each
   account's current label) and the store's markers; an argument file for
   `neo4j-admin @<dir>/import.args`; and `finish.json` (what the import cannot write).
2. The operator (or `devservices.run_neo4j_admin` in tests and benchmarks) stops the database,
   runs the import, starts it again.
3. `finish_import`: the store's constraints and indexes, and the attribute properties whose
   values change type from account to account (a CSV column has one type).

The result equals a `ringfence load` of the same file in `batch_size` batches
(tests/contract/test_neo4j_bulk.py): repeats of an account fold as the load folds them, and
label events get the sequence numbers the load's batches give them. Node ids in the files are
integers of the import only (`--id-type=integer`): the import maps them without a string index,
and stores none of them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from ringfence.core.errors import InvalidInput
from ringfence.graph.arrays import gc_paused
from ringfence.graph.bulk_records import Records, attributes_json, read_records
from ringfence.graph.model import LabelIn, LabelValue
from ringfence.graph.neo4j_queries import label_key
from ringfence.graph.neo4j_store import TYPED_MODEL_VERSION, Neo4jStore
from ringfence.graph.neo4j_typed import TYPE_ORDER, TYPED_MODEL, property_name, property_value
from ringfence.graph.stored_json import encode_attributes, load_attributes

FINISH_FILE = "finish.json"
ARGS_FILE = "import.args"
LABEL_SOURCE = "import"
_CSV_TYPES = {str: "string", bool: "boolean", int: "long", float: "double"}
_ARROW_TYPES = {str: pa.string(), bool: pa.bool_(), int: pa.int64(), float: pa.float64()}
_PY_TYPES = {v: k for k, v in _CSV_TYPES.items()}
_ROWS = pa_csv.WriteOptions(include_header=False)
_SAME_AS_PROPERTY = {str, bool, float, type(None)}  # values that are their own property value (property_value)
_COLUMN_SCANS = 256
_SLICE = 250_000  # accounts whose attributes are decoded at a time


@dataclass
class ImportPlan:
    """What step 1 wrote and step 3 needs."""

    directory: Path
    accounts: int = 0
    links: int = 0
    identifiers: int = 0
    labels: int = 0
    late_properties: list[dict[str, Any]] = field(default_factory=list)  # {id, props}

    def save(self) -> None:
        state = {k: v for k, v in asdict(self).items() if k != "directory"}
        (self.directory / FINISH_FILE).write_text(json.dumps(state))

    @classmethod
    def load(cls, directory: Path) -> ImportPlan:
        path = directory / FINISH_FILE
        if not path.is_file():
            raise InvalidInput(f"{path} not found: write the import files first (ringfence load --bulk)")
        return cls(directory.resolve(), **json.loads(path.read_text()))


@gc_paused()  # millions of containers, none in a cycle: the collector's passes cost a third of the step
def write_import_files(
    lines: Iterable[bytes], directory: Path, batch_size: int = 5_000, database: str = "neo4j"
) -> ImportPlan:
    """Step 1 (module docstring). Checks every record as `ringfence load` does (raises
    `InvalidInput` / `PanNotAllowed` before anything is written)."""
    records = read_records(lines)
    directory.mkdir(parents=True, exist_ok=True)
    out = directory.resolve()
    account_of, ids, created, attributes = _fold_accounts(records)
    records.attributes = []  # held once, as `attributes`
    label, labelled_at, labels, label_seq = _write_labels(out, records, account_of, len(ids), batch_size)
    encoded, columns, late = _account_columns(ids, attributes)
    del attributes
    accounts = pa.table({"n": np.arange(len(ids)), "id": pa.array(ids, pa.string()), "created_at": created,
                         "attributes": encoded, "label": label, "labelled_at": labelled_at,
                         **{k: v for k, v, _ in columns}})
    header = [":ID(Account)", "id", "created_at:double", "attributes", "label", "labelled_at:double"]
    nodes = [f"Account={_write(out / 'accounts.csv', header + [f'{k}:{t}' for k, _, t in columns], accounts)}",
             f"LabelEvent={out / 'label_events.csv'}", *(f"Meta={path}" for path in _write_meta(out, label_seq))]
    relationships = []
    plan = ImportPlan(out, accounts=len(ids), links=records.links, labels=labels, late_properties=late)
    # the links need none of the accounts' columns: at 10M accounts they are gigabytes
    del accounts, encoded, columns, ids, created, label, labelled_at
    records.ids, records.labels = [], []
    for t in TYPE_ORDER:
        typed = TYPED_MODEL[t]
        idents, links = _links_of_type(records, account_of, t)
        plan.identifiers += len(idents)
        table = pa.table({"n": np.arange(len(idents)), "key": pc.binary_join_element_wise(t, idents, "|"),
                          "type": pa.repeat(pa.scalar(t), len(idents)), "id": idents})
        path = _write(out / f"{typed.param}.csv", [f":ID({typed.label})", "key", "type", "id"], table)
        nodes.append(f"Identifier:{typed.label}={path}")
        path = _write(out / f"{typed.relationship.lower()}.csv",
                      [":START_ID(Account)", f":END_ID({typed.label})", "first_seen:double", "last_seen:double"], links)
        relationships.append(f"{typed.relationship}={path}")
    arguments = ["database", "import", "full", database, "--overwrite-destination=true", "--multiline-fields=true",
                 "--id-type=integer", f"--report-file={out / 'import.report'}", *(f"--nodes={x}" for x in nodes),
                 *(f"--relationships={x}" for x in relationships)]
    (out / ARGS_FILE).write_text("\n".join(arguments) + "\n")
    plan.save()
    return plan


def _write(path: Path, header: list[str], table: pa.Table) -> Path:
    with pa.OSFile(str(path), "wb") as sink:
        sink.write((",".join(header) + "\n").encode())
        pa_csv.write_csv(table, sink, _ROWS)
    return path


def _fold_accounts(records: Records) -> tuple[np.ndarray, list[str], np.ndarray, list[bytes]]:
    """(account of each record, and per account: id, created_at, attributes as JSON), repeats
    folded as `prepare_upsert` folds them: earliest created_at, attributes key by key, later wins."""
    ids = records.ids
    if len(dict.fromkeys(ids)) == len(ids):  # the common file: every account once
        return np.arange(len(ids)), ids, records.created, records.attributes
    position: dict[str, int] = {}
    account_of = np.empty(len(ids), dtype=np.int64)
    created: list[float] = []
    attributes: list[bytes] = []
    for k, (account_id, at, attrs) in enumerate(zip(ids, records.created.tolist(), records.attributes, strict=True)):
        j = position.setdefault(account_id, len(created))
        account_of[k] = j
        if j == len(created):
            created.append(at)
            attributes.append(attrs)
        else:
            created[j] = min(created[j], at)
            attributes[j] = attributes_json({**load_attributes(attributes[j]), **load_attributes(attrs)})
    return account_of, list(position), np.array(created), attributes


def _links_of_type(records: Records, account_of: np.ndarray, type_: str) -> tuple[pa.Array, pa.Table]:
    """(the identifiers of `type_`, numbered by position, and the links to them as start account,
    end identifier, first_seen and last_seen), repeated links folded to their earliest and latest time."""
    mask = np.asarray(pc.equal(records.link_type, type_), dtype=bool)
    encoded = pc.dictionary_encode(records.link_id.filter(mask))
    idents = encoded.dictionary
    key = account_of[records.link_record[mask]] * max(len(idents), 1) + np.asarray(encoded.indices, dtype=np.int64)
    seen = records.link_seen[mask]
    order = np.argsort(key, kind="stable")
    key, seen = key[order], seen[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, dtype=np.int64)
    first = np.minimum.reduceat(seen, starts) if len(key) else seen
    last = np.maximum.reduceat(seen, starts) if len(key) else seen
    key = key[starts]
    width = max(len(idents), 1)
    return idents, pa.table({"start": key // width, "end": key % width, "first": first, "last": last})


def _account_columns(ids: list[str], attributes: Sequence[bytes]) -> tuple[pa.ChunkedArray,
                                                                          list[tuple[str, pa.ChunkedArray, str]],
                                                                          list[dict[str, Any]]]:
    """The accounts' attributes as the store keeps them (JSON, keys sorted) and as properties
    (`_properties`): typed columns, and {id, props} rows for the names whose values are of more
    than one type. `_SLICE` accounts are decoded at a time: 10M accounts' attributes as dicts
    take 5 GB, as arrow columns half of that."""
    encoded: list[pa.Array] = []
    parts: list[dict[str, tuple[pa.Array, str]]] = []
    mixed: set[str] = set()
    for lo in range(0, len(attributes), _SLICE):
        part = [load_attributes(a) for a in attributes[lo:lo + _SLICE]]
        encoded.append(pa.array(map(encode_attributes, part), pa.string(), size=len(part)))
        columns, part_mixed = _properties(part)
        parts.append({k: (v, t) for k, v, t in columns})
        mixed |= part_mixed
    kinds: dict[str, set[str]] = {k: set() for k in mixed}
    for part_columns in parts:
        for k, (v, t) in part_columns.items():
            if v.null_count < len(v):
                kinds.setdefault(k, set()).add(t)
    columns_out: list[tuple[str, pa.ChunkedArray, str]] = []
    late_names = []
    for k in sorted(kinds):
        if k in mixed or len(kinds[k]) > 1:
            late_names.append(k)
        elif kinds[k]:
            t = kinds[k].pop()
            arrow_type = _ARROW_TYPES[_PY_TYPES[t]]
            chunks = [part_columns[k][0].cast(arrow_type) if k in part_columns else pa.nulls(size, arrow_type)
                      for part_columns, size in zip(parts, _slice_sizes(len(ids)), strict=True)]
            columns_out.append((k, pa.chunked_array(chunks, arrow_type), t))
    late: list[dict[str, Any]] = []
    if late_names:  # read once more, these names only
        for lo in range(0, len(attributes), _SLICE):
            for j, a in enumerate(attributes[lo:lo + _SLICE], lo):
                attrs = load_attributes(a)
                props = {k: v for k in late_names if (v := property_value(attrs.get(k))) is not None}
                if props:
                    late.append({"id": ids[j], "props": props})
    return pa.chunked_array(encoded, pa.string()), columns_out, late


def _slice_sizes(n: int) -> list[int]:
    return [min(_SLICE, n - lo) for lo in range(0, n, _SLICE)]


def _properties(attributes: list[dict[str, Any]]) -> tuple[list[tuple[str, pa.Array, str]], set[str]]:
    """The attribute properties (`graph/neo4j_typed.py`) of these accounts as typed columns (name,
    values, CSV type), and the names whose values are of more than one type."""
    names = sorted(k for k in set().union(*attributes) if property_name(k))
    values: dict[str, list[Any]] = {}
    if len(names) <= _COLUMN_SCANS:
        for k in names:
            column = values[k] = [a.get(k) for a in attributes]
            if not set(map(type, column)) <= _SAME_AS_PROPERTY:
                values[k] = list(map(property_value, column))
    else:  # many names, each in few accounts: one pass over the accounts instead of one per name
        values = {k: [None] * len(attributes) for k in names}
        for j, attrs in enumerate(attributes):
            for k, v in attrs.items():
                if property_name(k):
                    values[k][j] = property_value(v)
    columns, mixed = [], set()
    for k in names:
        kinds = set(map(type, values[k])) - {type(None)}
        if len(kinds) == 1:
            kind = kinds.pop()
            columns.append((k, pa.array(values[k], _ARROW_TYPES[kind]), _CSV_TYPES[kind]))
        elif kinds:
            mixed.add(k)
        else:  # only values no property holds: a column of nulls, which any column type takes
            columns.append((k, pa.nulls(len(attributes)), "null"))
    return columns, mixed


def _write_labels(directory: Path, records: Records, account_of: np.ndarray, accounts: int,
                  batch_size: int) -> tuple[pa.Array, pa.Array, int, int]:
    """Writes the label events of the records' labels as `ringfence load`'s batches write them
    (`add_labels` per batch: events dedupe on their key, first wins, and each batch reserves
    sequence numbers for its events). Returns each account's current label and its time (latest
    wins, ties to the later record), how many labels the records carry, and the sequence
    numbers reserved."""
    label: list[str | None] = [None] * accounts
    labelled: list[float | None] = [None] * accounts
    events: dict[str, tuple[str, str, str, str, float, int]] = {}
    reserved, batch, batch_keys = 0, -1, set[str]()
    labelled_records = [k for k, x in enumerate(records.labels) if x is not None]
    for k in labelled_records:
        if k // batch_size != batch:
            batch, batch_keys = k // batch_size, set()
        account_id, at, value = records.ids[k], float(records.created[k]), cast(LabelValue, records.labels[k])
        key = label_key(LabelIn(account_id, value, LABEL_SOURCE), at)
        if key not in batch_keys:
            batch_keys.add(key)
            events.setdefault(key, (key, account_id, value, LABEL_SOURCE, at, reserved))
            reserved += 1
        j, latest = account_of[k], labelled[account_of[k]]
        if latest is None or at >= latest:
            label[j], labelled[j] = value, at
    columns = list(zip(*events.values(), strict=True)) or [()] * 6
    types = (pa.string(), pa.string(), pa.string(), pa.string(), pa.float64(), pa.int64())
    _write(directory / "label_events.csv", ["key", "account_id", "label", "source", "at:double", "seq:long"],
           pa.table([pa.array(c, t) for c, t in zip(columns, types, strict=True)],
                    names=["key", "account_id", "label", "source", "at", "seq"]))
    return pa.array(label, pa.string()), pa.array(labelled, pa.float64()), len(labelled_records), reserved


def _write_meta(directory: Path, label_seq: int) -> list[Path]:
    """The store's markers (`Meta` nodes): the graph model, and the label sequence when labels were
    loaded."""
    files = {"meta_model.csv": (["key", "value"], pa.table({"key": ["graph_model"], "value": [TYPED_MODEL_VERSION]}))}
    if label_seq:
        files["meta_label_seq.csv"] = (["key", "value:long"],
                                       pa.table({"key": ["label_seq"], "value": pa.array([label_seq], pa.int64())}))
    return [_write(directory / name, header, table) for name, (header, table) in files.items()]


def import_arguments(plan: ImportPlan) -> list[str]:
    """The arguments of `neo4j-admin` for step 2 (also in `<dir>/import.args`)."""
    return (plan.directory / ARGS_FILE).read_text().split("\n")[:-1]


def finish_import(store: Neo4jStore, plan: ImportPlan) -> None:
    """Step 3 (module docstring), on the started database the import wrote."""
    store.finish_bulk_import(plan.late_properties)
