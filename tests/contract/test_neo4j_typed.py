"""The typed Neo4j model (graph/neo4j_typed.py): what Browser and Bloom users see, and the
in-place upgrade of a database written by the model before it (untyped `[:LINK]`)."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from ringfence.graph.model import ID_TYPES, AccountIn
from ringfence.graph.neo4j_queries import identifier_key, prepare_upsert, query
from ringfence.graph.neo4j_store import Neo4jStore, open_driver
from ringfence.graph.neo4j_typed import TYPED_MODEL, attribute_properties
from ringfence.graph.sqlite_store import SQLiteStore
from ringfence.graph.store import GraphStore
from tests.support.builders import acct, sweep_result

LEGACY_WRITE = (Path(__file__).parent.parent / "support" / "neo4j_legacy_write.cypher").read_text()
ATTRIBUTES: list[dict[str, Any]] = [
    {"country": "GB", "age_days": 12},
    {"country": "FR", "vip": True, "score": 0.5},
    {"home country": "DE", "label": "x", "nested": {"a": 1}, "big": 2**70},  # JSON only, or no property
    {},
]


@pytest.fixture
def neo(_neo4j_store: GraphStore) -> Neo4jStore:
    assert isinstance(_neo4j_store, Neo4jStore)
    _neo4j_store.reset()
    return _neo4j_store


def _world(n: int = 60, seed: int = 7) -> list[AccountIn]:
    rng = random.Random(seed)
    out = []
    for k in range(n):
        links = tuple((t, f"{t[:2]}{rng.randrange(n // 3)}") for t in ID_TYPES if rng.random() < 0.8)
        out.append(acct(f"a{k:03d}", rng.randrange(1000), links, **ATTRIBUTES[k % len(ATTRIBUTES)]))
    return out


def _write_legacy(neo: Neo4jStore, accounts: list[AccountIn]) -> None:
    """The accounts as the model before issue #17 stored them."""
    rows, _ = prepare_upsert(accounts)
    legacy = [{"id": r["id"], "created_at": r["created_at"], "attributes": json.dumps(r["new_attributes"],
                                                                                       sort_keys=True),
               "links": [[identifier_key(t, i), t, i, f, la] for t, i, f, la in r["links"]]} for r in rows]
    driver = open_driver(neo.config)
    try:
        with driver.session(database=neo.config.database) as session:
            session.run(LEGACY_WRITE, rows=legacy).consume()  # type: ignore[arg-type]
    finally:
        driver.close()


def _dump(neo: Neo4jStore) -> tuple[list[Any], list[Any]]:
    """`graph_dump` without publication generation ids, which are random per publication, and
    with `attributes` parsed: the JSON's spelling changed (spaces before, compact since), not what it says."""
    nodes, rels = neo.graph_dump()

    def prop(p: Any) -> Any:
        return (p[0], json.loads(p[1])) if p[0] == "attributes" else p

    return sorted(((ls, [prop(p) for p in props if p[0] != "gen"]) for ls, props in nodes), key=repr), rels


def _accounts(store: GraphStore, accounts: list[AccountIn]) -> list[Any]:
    return sorted(store.get_accounts([a.id for a in accounts]), key=lambda a: a.id)


def test_identifiers_and_links_carry_their_typed_labels_and_relationship_types(neo: Neo4jStore) -> None:
    # given
    neo.upsert_accounts([acct("a1", 0, (("card", "c1"), ("device", "d1"), ("bank_account", "b1")), country="GB")])
    # when
    nodes, rels = neo.graph_dump()
    # then
    labels = {dict(props).get("key"): tuple(ls) for ls, props in nodes}
    assert labels["card|c1"] == ("Card", "Identifier")
    assert labels["device|d1"] == ("Device", "Identifier")
    assert labels["bank_account|b1"] == ("BankAccount", "Identifier")
    assert sorted((t, e) for _, _, t, _, _, e in rels) == [
        ("HAS_CARD", "card|c1"), ("PAYS_OUT_TO", "bank_account|b1"), ("USES_DEVICE", "device|d1")]
    account = next(dict(props) for ls, props in nodes if ls == ["Account"])
    assert account["country"] == "GB" and json.loads(account["attributes"]) == {"country": "GB"}


def test_attribute_properties_follow_the_merge_rules(neo: Neo4jStore) -> None:
    # given an attribute that later takes a value a property cannot hold
    neo.upsert_accounts([acct("a1", 0, country="GB", tier=1)])
    # when
    neo.upsert_accounts([acct("a1", 5, tier={"level": 2}, plan="pro")])
    # then the property of `tier` is gone, the JSON copy holds everything, later values won
    nodes, _ = neo.graph_dump()
    account = next(dict(props) for ls, props in nodes if ls == ["Account"])
    assert (account["country"], account["plan"], "tier" in account) == ("GB", "pro", False)
    assert neo.get_account("a1").attributes == {"country": "GB", "tier": {"level": 2}, "plan": "pro"}  # type: ignore[union-attr]


def test_attribute_properties_only_for_safe_names_and_values() -> None:
    assert attribute_properties({"country": "GB", "n": 3, "ok": True, "f": 0.5}) == {
        "country": "GB", "n": 3, "ok": True, "f": 0.5}
    assert attribute_properties({"home country": "x", "id": "y", "label": "z", "1a": 1, "é": 1}) == {}
    assert attribute_properties({"m": {"a": 1}, "l": [1], "big": 2**64}) == {"m": None, "l": None, "big": None}


def test_typed_model_table_matches_the_cypher_files() -> None:
    # Cypher spells labels and types out; the files must say what the table says, type by type.
    links = {(t.param, t.relationship) for t in TYPED_MODEL.values()}
    for name in ("upsert_batch", "upsert_accounts"):
        assert set(re.findall(r"UNWIND row\.(\w+) AS link.*?\(a\)-\[l?:(\w+)", query(name), re.S)) == links, name
    assert set(re.findall(r"WITH k, \$(\w+)\[k\] AS ident.*?ON CREATE SET i:(\w+), i\.type = '(\w+)'",
                          query("upsert_batch"), re.S)) == {(t.param, t.label, k) for k, t in TYPED_MODEL.items()}
    case = r"CASE WHEN i\.type = '(\w+)' THEN \[1\] ELSE \[\] END \|\s*"
    assert set(re.findall(case + r"SET i:(\w+)\)", query("upgrade_typed_identifiers"))) == {
        (k, t.label) for k, t in TYPED_MODEL.items()}
    assert set(re.findall(case + r"CREATE \(a\)-\[:(\w+)", query("upgrade_typed_links"))) == {
        (k, t.relationship) for k, t in TYPED_MODEL.items()}


def test_rings_of_the_current_sweep_are_ring_nodes_with_member_of(neo: Neo4jStore) -> None:
    # given
    neo.upsert_accounts([acct(a, 0, (("device", "d1"),)) for a in ("a1", "a2", "a3", "b1", "b2", "b3")])
    neo.publish_sweep(sweep_result("s1", 10, {"r1": ["a1", "a2", "a3"], "r2": ["b1", "b2", "b3"]},
                                   dict.fromkeys(["a1", "a2", "a3", "b1", "b2", "b3"], 0.5)))
    # when a later sweep keeps only one ring
    neo.publish_sweep(sweep_result("s2", 20, {"r2": ["b1", "b2"]}, {"b1": 0.9, "b2": 0.7}))
    # then
    _, rels = neo.graph_dump()
    assert sorted((s, e) for _, s, t, _, _, e in rels if t == "MEMBER_OF") == [("b1", "r2"), ("b2", "r2")]
    nodes, _ = neo.graph_dump()
    rings = [dict(props) for ls, props in nodes if ls == ["Ring"]]
    assert [(r["id"], r["sweep_id"], r["size"], r["risk"]) for r in rings] == [("r2", "s2", 2, 0.9)]


def test_upgrade_in_place_gives_what_the_typed_model_writes(neo: Neo4jStore, tmp_path: Path) -> None:
    accounts = _world()
    sweep = sweep_result("s1", 2000, {"r1": ["a000", "a001", "a002"]}, {"a000": 0.9, "a001": 0.8, "a002": 0.1})
    # given the same accounts written by the typed model ...
    neo.upsert_accounts(accounts)
    neo.publish_sweep(sweep)
    typed = _dump(neo)
    typed_accounts = _accounts(neo, accounts)
    # ... and by the model before it, into an emptied database
    neo.reset()
    _write_legacy(neo, accounts)
    neo.publish_sweep(sweep)
    assert any(t == "LINK" for _, _, t, _, _, _ in neo.graph_dump()[1])
    # when
    assert neo.upgrade_typed() is True
    # then node by node, relationship by relationship, the same graph; the store reads the same
    assert _dump(neo) == typed
    assert _accounts(neo, accounts) == typed_accounts
    reference = SQLiteStore(tmp_path / "graph.db")
    reference.migrate()
    reference.upsert_accounts(accounts)
    assert [(a.id, a.created_at, a.attributes, a.links) for a in _accounts(reference, accounts)] == [
        (a.id, a.created_at, a.attributes, a.links) for a in typed_accounts]
    reference.close()
    # and once done, it is a marker read; run again without the marker, it changes nothing
    assert neo.upgrade_typed() is False
    neo.migrate()
    assert _dump(neo) == typed


def test_upgrade_resumes_after_a_partial_run(neo: Neo4jStore) -> None:
    accounts = _world(30, seed=3)
    neo.upsert_accounts(accounts)
    typed = _dump(neo)
    neo.reset()
    _write_legacy(neo, accounts)
    # given an upgrade cut off after its first step (the identifiers are labelled, links are not)
    neo._auto("upgrade_typed_identifiers")
    # when
    neo.upgrade_typed()
    # then
    assert _dump(neo) == typed
