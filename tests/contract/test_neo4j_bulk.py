"""`ringfence load --bulk` (graph/neo4j_bulk.py): Neo4j's own import tool writes what a
`ringfence load` of the same file writes, node by node; a database holding data is refused."""

from __future__ import annotations

import json
import random
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from devservices.services import LAUNCHER_DIR, Neo4jServer, free_port, run_neo4j_admin
from ringfence.cli import app
from ringfence.core.settings import Settings
from ringfence.graph.factory import neo4j_config
from ringfence.graph.loader import load_records
from ringfence.graph.model import LabelIn
from ringfence.graph.neo4j_bulk import finish_import, import_arguments, write_import_files
from ringfence.graph.neo4j_store import Neo4jStore
from ringfence.graph.store import GraphStore
from tests.support.builders import acct


def _records(n: int = 200, seed: int = 5) -> list[dict[str, Any]]:
    """Accounts sharing identifiers of every type, some labelled, some repeated later in the file
    (folded as a load folds them), with attributes whose types vary by account."""
    rng = random.Random(seed)
    out = []
    for k in range(n + n // 4):
        a = f"acc_{k % n:04d}"
        attributes: dict[str, Any] = {"country": rng.choice(["GB", "FR", "DE"]), "tier": rng.choice([1, "gold", 2.5]),
                                      "vip": rng.random() < 0.3, "odd key": "x", "meta": {"k": k}}
        if rng.random() < 0.2:
            attributes["note"] = 'says "hi",\nthen leaves'
        if k % 7 == 0:
            attributes["ledger"] = (-1) ** k * (2**70 + k)  # beyond 64 bits: JSON only, kept exact
        links = [{"type": t, "id": f"{t[:2]}_{rng.randrange(n // 4)}",
                  "seen_at": f"2026-01-{1 + rng.randrange(28):02d}T10:00:00Z"}
                 for t in ("card", "device", "bank_account") if rng.random() < 0.9]
        record: dict[str, Any] = {"id": a, "created_at": f"2025-12-{1 + rng.randrange(28):02d}T09:00:00Z",
                                  "attributes": attributes, "links": links}
        if k % 11 == 0:
            record["label"] = rng.choice(["fraud", "legit"])
        out.append(record)
    return out


def _dump(neo: Neo4jStore) -> tuple[list[Any], list[Any]]:
    nodes, rels = neo.graph_dump()
    return nodes, rels


@pytest.fixture
def stopped_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    shutil.copytree(LAUNCHER_DIR / "target" / "home-template", home, ignore=shutil.ignore_patterns(".complete"))
    return home


def test_bulk_import_equals_a_load_of_the_same_file(_neo4j_store: GraphStore, tmp_path: Path,
                                                    stopped_home: Path) -> None:
    records = _records()
    # given the file loaded the ordinary way
    reference = _neo4j_store
    assert isinstance(reference, Neo4jStore)
    reference.reset()
    reference.migrate()
    list(load_records(reference, records, batch_size=60))
    expected = _dump(reference)
    # when the same file goes through the import tool into a fresh database
    plan = write_import_files([json.dumps(r).encode() for r in records], tmp_path / "import", batch_size=60)
    assert (plan.accounts, plan.links) == (200, sum(len(r["links"]) for r in records))
    assert plan.late_properties  # `tier` changes type between accounts: set after the import
    run_neo4j_admin(stopped_home, import_arguments(plan))
    server = Neo4jServer(free_port(), stopped_home)
    server.start()
    try:
        store = Neo4jStore(neo4j_config(Settings(graph_url=server.graph_url)))
        finish_import(store, plan)
        # then node by node, relationship by relationship, the same graph, and the same accounts
        assert _dump(store) == expected
        ids = [r["id"] for r in records]
        assert store.get_accounts(ids) == reference.get_accounts(ids)
        ledger = {a.id: a.attributes["ledger"] for a in store.get_accounts(ids) if "ledger" in a.attributes}
        written = {r["id"]: r["attributes"]["ledger"] for r in records if "ledger" in r["attributes"]}
        assert ledger == written and {type(v) for v in ledger.values()} == {int}  # parsed from the file's text
        # and the store's markers: the typed model's, and the label sequence, which goes on from the load's
        assert not store.upgrade_typed()
        later = [LabelIn("acc_0001", "fraud", "analyst", None, datetime(2026, 2, 1, tzinfo=UTC))]
        store.add_labels(later)
        reference.add_labels(later)
        assert _dump(store) == _dump(reference)
        store.close()
    finally:
        server.stop()


def test_bulk_refuses_a_database_that_holds_data(_neo4j_store: GraphStore, neo4j_url: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # given
    neo = _neo4j_store
    assert isinstance(neo, Neo4jStore)
    neo.reset()
    neo.migrate()
    assert not neo.holds_data()
    neo.upsert_accounts([acct("a1", 0)])
    source = tmp_path / "world.jsonl"
    source.write_text('{"id": "b1"}\n')
    monkeypatch.setenv("RINGFENCE_GRAPH_URL", neo4j_url)
    from ringfence.core.settings import get_settings

    get_settings.cache_clear()  # type: ignore[attr-defined]
    try:
        # when
        result = CliRunner().invoke(app, ["load", str(source), "--bulk", "--bulk-dir", str(tmp_path / "b")])
    finally:
        get_settings.cache_clear()  # type: ignore[attr-defined]
    # then
    assert result.exit_code == 2
    assert "empty database" in result.output and not (tmp_path / "b").exists()
    assert neo.count_accounts() == 1
