"""The first load of an empty Neo4j database through Neo4j's own `neo4j-admin database import`.

Three steps, because the import tool writes the database files of a stopped database:

1. `write_import_files`: the records (as `ringfence load` reads them) become the import tool's
   CSV files in the typed model (`graph/neo4j_typed.py`), an argument file for
   `neo4j-admin @<dir>/import.args`, and `finish.json` (what the import cannot write).
2. The operator (or `devservices.run_neo4j_admin` in tests and benchmarks) stops the database,
   runs the import, starts it again.
3. `finish_import`: the store's constraints and indexes, the typed-model marker, attribute
   properties whose values change type from account to account (a CSV column has one type),
   and the records' labels through the store, in `ringfence load`'s batches.

The result equals a `ringfence load` of the same file (tests/contract/test_neo4j_bulk.py).
Repeats of an account in the file fold as one `ringfence load` batch folds them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ringfence.core.errors import InvalidInput
from ringfence.graph.loader import account_from_record
from ringfence.graph.model import AccountIn, LabelIn, parse_ts
from ringfence.graph.neo4j_queries import identifier_key, merge_attributes, prepare_upsert
from ringfence.graph.neo4j_store import Neo4jStore
from ringfence.graph.neo4j_typed import TYPE_ORDER, TYPED_MODEL, attribute_properties

FINISH_FILE = "finish.json"
ARGS_FILE = "import.args"
_CSV_TYPES = {str: "string", bool: "boolean", int: "long", float: "double"}


@dataclass
class ImportPlan:
    """What step 1 wrote and step 3 needs: counts, the labels to add, late properties."""

    directory: Path
    accounts: int = 0
    links: int = 0
    identifiers: int = 0
    labels: list[list[Any]] = field(default_factory=list)  # [batch, account id, label, created_at]
    late_properties: list[dict[str, Any]] = field(default_factory=list)  # {id, props}
    batch_size: int = 5_000

    def save(self) -> None:
        state = {"accounts": self.accounts, "links": self.links, "identifiers": self.identifiers,
                 "labels": self.labels, "late_properties": self.late_properties, "batch_size": self.batch_size}
        (self.directory / FINISH_FILE).write_text(json.dumps(state))

    @classmethod
    def load(cls, directory: Path) -> ImportPlan:
        path = directory / FINISH_FILE
        if not path.is_file():
            raise InvalidInput(f"{path} not found: write the import files first (ringfence load --bulk)")
        return cls(directory, **json.loads(path.read_text()))


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return _quote(str(value))


def write_import_files(
    records: Iterable[dict[str, Any]], directory: Path, batch_size: int = 5_000, database: str = "neo4j"
) -> ImportPlan:
    """Step 1 (module docstring). Validates every record as `ringfence load` does (raises
    `InvalidInput` / `PanNotAllowed` before anything is written)."""
    directory.mkdir(parents=True, exist_ok=True)
    plan = ImportPlan(directory.resolve(), batch_size=batch_size)
    accounts: list[AccountIn] = []
    for n, record in enumerate(records):
        account = account_from_record(record)
        accounts.append(account)
        if record.get("label") in ("fraud", "legit"):
            plan.labels.append([n // batch_size, account.id, record["label"], account.created_at.isoformat()])
    rows, plan.links = prepare_upsert(accounts)
    del accounts
    plan.accounts = len(rows)
    props = [attribute_properties(r["new_attributes"]) for r in rows]
    kinds: dict[str, set[type]] = {}
    for p in props:
        for k, v in p.items():
            if v is not None:
                kinds.setdefault(k, set()).add(type(v))
    columns = sorted(k for k, ts in kinds.items() if len(ts) == 1)
    late = sorted(k for k, ts in kinds.items() if len(ts) > 1)
    header = ["id:ID(Account)", "created_at:double", "attributes"]
    header += [f"{k}:{_CSV_TYPES[next(iter(kinds[k]))]}" for k in columns]
    with (directory / "accounts.csv").open("w", encoding="utf-8") as fh:
        fh.write(",".join(header) + "\n")
        fh.writelines(
            ",".join([r["id"], repr(r["created_at"]), _quote(merge_attributes(None, r["new_attributes"])),
                      *(_cell(p.get(k)) for k in columns)]) + "\n"
            for r, p in zip(rows, props, strict=True)
        )
    plan.late_properties = [{"id": r["id"], "props": {k: p[k] for k in late if p.get(k) is not None}}
                            for r, p in zip(rows, props, strict=True) if any(p.get(k) is not None for k in late)]
    nodes = [f"--nodes=Account={directory.resolve() / 'accounts.csv'}"]
    relationships = []
    for t in TYPE_ORDER:
        typed = TYPED_MODEL[t]
        idents = sorted({i for r in rows for tt, i, _, _ in r["links"] if tt == t})
        plan.identifiers += len(idents)
        ident_path = directory / f"{typed.param}.csv"
        with ident_path.open("w", encoding="utf-8") as fh:
            fh.write("key:ID(Identifier),type,id\n")
            fh.writelines(f"{identifier_key(t, i)},{t},{i}\n" for i in idents)
        link_path = directory / f"{typed.relationship.lower()}.csv"
        with link_path.open("w", encoding="utf-8") as fh:
            fh.write(":START_ID(Account),:END_ID(Identifier),first_seen:double,last_seen:double\n")
            fh.writelines(f"{r['id']},{identifier_key(t, i)},{f!r},{la!r}\n"
                          for r in rows for tt, i, f, la in r["links"] if tt == t)
        nodes.append(f"--nodes=Identifier:{typed.label}={ident_path.resolve()}")
        relationships.append(f"--relationships={typed.relationship}={link_path.resolve()}")
    arguments = ["database", "import", "full", database, "--overwrite-destination=true", "--multiline-fields=true",
                 "--id-type=string", *nodes, *relationships]
    (directory / ARGS_FILE).write_text("\n".join(arguments) + "\n")
    plan.save()
    return plan


def import_arguments(plan: ImportPlan) -> list[str]:
    """The arguments of `neo4j-admin` for step 2 (also in `<dir>/import.args`)."""
    return (plan.directory / ARGS_FILE).read_text().split("\n")[:-1]


def plan_labels(plan: ImportPlan, source: str = "import") -> list[list[LabelIn]]:
    """The records' labels in `ringfence load`'s batches, dated at the account's creation."""
    batches: dict[int, list[LabelIn]] = {}
    for batch, account_id, label, created in plan.labels:
        batches.setdefault(batch, []).append(LabelIn(account_id, label, source, None, parse_ts(created)))
    return [batches[b] for b in sorted(batches)]


def finish_import(store: Neo4jStore, plan: ImportPlan) -> None:
    """Step 3 (module docstring), on the started database the import wrote."""
    store.finish_bulk_import(plan.late_properties)
    for labels in plan_labels(plan):
        store.add_labels(labels)
