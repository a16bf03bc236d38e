"""docs/neo4j.md's Cypher queries run against the test server, so the page stays true; and the
Bloom perspective names the model's labels and relationship types."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ringfence.graph.model import LabelIn
from ringfence.graph.neo4j_store import Neo4jStore, open_driver
from ringfence.graph.neo4j_typed import TYPED_MODEL
from ringfence.graph.store import GraphStore
from tests.support.builders import acct, sweep_result

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGE = (DOCS / "neo4j.md").read_text()
BLOCKS = re.findall(r"```cypher\n(.*?)```", PAGE, re.S)
PARAMS = {"ring_id": "r1", "account_id": "a3", "other_id": "b3", "device_id": "d1", "card_id": "c1",
          "min_accounts": 3, "since": 0.0}


@pytest.fixture(scope="module")
def seeded(_neo4j_store: GraphStore) -> Neo4jStore:
    """Two rings tied by a device, a card across countries, a shared payout account, one fraud."""
    neo = _neo4j_store
    assert isinstance(neo, Neo4jStore)
    neo.reset()
    neo.upsert_accounts([
        acct("a1", 0, (("device", "d1"), ("card", "c1"), ("bank_account", "k1")), country="GB"),
        acct("a2", 1, (("device", "d1"), ("card", "c1"), ("bank_account", "k1")), country="FR"),
        acct("a3", 2, (("device", "d1"),), country="GB"),
        acct("b1", 3, (("device", "d2"), ("device", "d1"), ("bank_account", "k1")), country="GB"),
        acct("b2", 4, (("device", "d2"),), country="GB"),
        acct("b3", 5, (("device", "d2"),), country="DE"),
    ])
    neo.add_labels([LabelIn("a1", "fraud", "investigator")])
    neo.publish_sweep(sweep_result("s1", 10, {"r1": ["a1", "a2", "a3"], "r2": ["b1", "b2", "b3"]},
                                   {"a1": 0.9, "a2": 0.8, "a3": 0.7, "b1": 0.6, "b2": 0.5, "b3": 0.4}))
    return neo


def test_the_page_has_ten_queries_and_an_example_for_every_parameter() -> None:
    assert len(BLOCKS) == 10
    used = {name for block in BLOCKS for name in re.findall(r"\$(\w+)", block)}
    assert used <= PARAMS.keys()
    shown = re.search(r":params \{(.*?)\}", PAGE, re.S)
    assert shown is not None and used <= set(re.findall(r"(\w+):", shown.group(1)))


@pytest.mark.parametrize("n", range(10), ids=[f"query{n + 1}" for n in range(10)])
def test_each_query_of_the_page_answers_on_a_small_world(seeded: Neo4jStore, n: int) -> None:
    names = set(re.findall(r"\$(\w+)", BLOCKS[n]))
    driver = open_driver(seeded.config)
    try:
        with driver.session(database=seeded.config.database) as session:
            rows = list(session.run(BLOCKS[n], {k: PARAMS[k] for k in names}))  # type: ignore[arg-type]
    finally:
        driver.close()
    assert rows, f"query {n + 1} of docs/neo4j.md found nothing"
    if n == 8:  # devices that tie two rings: d1 ties r1 and r2
        assert [(r["device"], r["ring"], r["other_ring"]) for r in rows] == [("d1", "r1", "r2")]
    if n == 2:  # two hops from the fraud a1: a2 (card, device, payout), a3 and b1 (device, payout)
        assert sorted(r["account"] for r in rows) == ["a2", "a3", "b1"]


def test_the_bloom_perspective_covers_the_model() -> None:
    perspective = json.loads((DOCS / "neo4j-bloom-perspective.json").read_text())
    categories = {c["name"] for c in perspective["categories"]}
    assert categories >= {"Account", "Ring"} | {t.label for t in TYPED_MODEL.values()}
    types = {r["name"] for r in perspective["relationshipTypes"]}
    assert types == {"MEMBER_OF"} | {t.relationship for t in TYPED_MODEL.values()}
