"""Response budgets (issue #14) change nothing where nothing needed cutting: on data without
hubs the subgraph route and the account list answer what the unbudgeted code answered, byte for
byte; on hub-shaped data the subgraph is cut while it is read and says so."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from ringfence.api.routes.accounts import MAX_SUBGRAPH_EDGES, MAX_SUBGRAPH_NODES
from ringfence.api.schemas import AccountPublic, SubgraphNode, clamp_risk
from ringfence.graph.model import LabelIn
from ringfence.graph.store import GraphStore
from ringfence.services import investigation
from tests.support.builders import acct, at, sweep_result
from tests.support.clients import TORCH_SPARSE, TestClient, running_app
from tests.support.settings import ADMIN

pytestmark = TORCH_SPARSE


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with running_app(tmp_path) as c:
        yield c


def _world(store: GraphStore, accounts: int = 150) -> list[str]:
    """Accounts with 1-3 links into skewed identifier pools (degrees up to a few dozen), some
    labelled, a sweep with risks and rings for some and online scores for none."""
    rng = random.Random(14)
    pools = {"device": 40, "card": 90, "bank_account": 30}
    ids = [f"acc-{n:03d}" for n in range(accounts)]
    store.upsert_accounts([
        acct(a, n % 50, tuple((t, f"{t}-{int(rng.paretovariate(1.2)) % pools[t]}")
                              for t in rng.sample(sorted(pools), rng.randint(1, 3))), country="GB")
        for n, a in enumerate(ids)
    ])
    store.add_labels([LabelIn(a, "fraud", "cb", None, at(60)) for a in ids[::17]])
    risks = {a: round(rng.random(), 6) for a in ids[::3]}
    store.publish_sweep(sweep_result("s1", 61, {"r1": ids[:3:3], "r2": ids[30:45:3]}, risks))
    return ids


def _unbudgeted_subgraph(store: GraphStore, account_id: str, hops: int, cap: int) -> bytes:
    """The route's answer as it was before the store read had a budget (commit f4d0c3e)."""
    sub = store.neighbourhood([account_id], hops, hub_cap=cap)
    risks = {a.id: a.risk for a in store.get_accounts(list(sub.accounts))}
    nodes = [SubgraphNode(id=a, kind="account", label=row.label, ring_id=sub.rings.get(a),
                          risk=clamp_risk(risks.get(a))) for a, row in sub.accounts.items()]
    nodes += [SubgraphNode(id=k.id, kind=k.type, degree=d, capped=k in sub.capped, benign=k in sub.benign)
              for k, d in sub.identifiers.items()]
    edges = [{"source": a, "target": k.id, "type": k.type} for a, k, _ in sub.edges]
    assert len(nodes) <= MAX_SUBGRAPH_NODES and len(edges) <= MAX_SUBGRAPH_EDGES  # nothing to cut: the premise
    return orjson.dumps({"nodes": [n.model_dump(exclude_none=True) for n in nodes], "edges": edges,
                         "truncated": bool(sub.capped)})


def test_subgraphs_without_hubs_are_answered_as_before_byte_for_byte(client: TestClient) -> None:
    # given a world of small identifiers, some over a small hub cap
    store: GraphStore = client.app.state.store  # type: ignore[attr-defined]
    ids = _world(store)
    compared = 0
    for account_id in ids[::7]:
        for hops, cap in [(1, 200), (2, 200), (3, 200), (2, 3)]:
            # when
            got = client.get(f"/v1/accounts/{account_id}/subgraph?hops={hops}&limit={cap}", headers=ADMIN)
            # then
            assert got.status_code == 200
            assert got.content == _unbudgeted_subgraph(store, account_id, hops, cap), (account_id, hops, cap)
            compared += 1
    # paths walk the same neighbourhood
    settings = client.app.state.settings  # type: ignore[attr-defined]
    for account_id in ids[::15]:
        found, truncated = investigation.paths(store, settings, account_id, "fraud", 3, 100)
        got = client.get(f"/v1/accounts/{account_id}/paths?to=fraud&max_hops=3", headers=ADMIN).json()
        assert got["truncated"] is truncated
        assert [(p["target"]["account_id"], p["hops"], [n["id"] for n in p["nodes"]]) for p in got["data"]] == \
            [(f.path.target, f.path.hops, [n.id for n in f.path.steps]) for f in found]
    # the files hold the same subgraph and the same risks
    sub = store.neighbourhood([ids[0]], 2, hub_cap=200)
    for fmt in ("graphml", "gexf", "json"):
        got = client.get(f"/v1/accounts/{ids[0]}/subgraph?hops=2&format={fmt}", headers=ADMIN)
        assert got.status_code == 200 and got.content == investigation.subgraph_file(store, sub, fmt)  # type: ignore[arg-type]
    assert compared == 4 * len(ids[::7])


def test_account_pages_without_hubs_are_answered_as_before_byte_for_byte(client: TestClient) -> None:
    store: GraphStore = client.app.state.store  # type: ignore[attr-defined]
    _world(store)
    for order in ("id", "risk_desc"):
        for limit in (1, 7, 100, 1000):
            # when
            got = client.get(f"/v1/accounts?order={order}&limit={limit}", headers=ADMIN)
            # then the page is the store's page rendered item by item, nothing cut
            page = store.list_accounts(order, None, None, None, limit)  # type: ignore[arg-type]
            data = b"[" + b",".join(AccountPublic.of(a).model_dump_json().encode() for a in page.data) + b"]"
            assert got.status_code == 200
            assert got.content.startswith(b'{"data":' + data + b',"next_cursor":')
            assert got.content.endswith(b',"truncated":false}')
            assert (got.json()["next_cursor"] is None) == (page.next_cursor is None)


def test_a_hub_subgraph_keeps_the_budget_and_reads_only_what_it_keeps(client: TestClient) -> None:
    # given 300 accounts sharing 100 identifiers (30,000 links: more edges than the budget)
    store: GraphStore = client.app.state.store  # type: ignore[attr-defined]
    hubs = tuple(("device", f"hub-{n:03d}") for n in range(100))
    store.upsert_accounts([acct(f"acc-{n:03d}", n, hubs) for n in range(300)])
    # when
    got = client.get("/v1/accounts/acc-000/subgraph?hops=2&limit=1000", headers=ADMIN)
    # then the centre first, every account and identifier met, at most the budget of edges, said cut
    body = got.json()
    assert got.status_code == 200 and body["truncated"] is True
    accounts = [n["id"] for n in body["nodes"] if n["kind"] == "account"]
    assert accounts[0] == "acc-000" and sorted(accounts) == [f"acc-{n:03d}" for n in range(300)]
    assert len(body["nodes"]) == 400 and len(body["edges"]) == MAX_SUBGRAPH_EDGES
    # breadth-first: the centre's own links, then each hub in order with its accounts earliest first
    kept = {(e["source"], e["target"]) for e in body["edges"]}
    assert {("acc-000", k) for _, k in hubs} <= kept
    assert {(f"acc-{n:03d}", "hub-000") for n in range(300)} <= kept
    assert ("acc-299", "hub-099") not in kept
    # paths walk the same budgeted neighbourhood, and say it was cut
    store.add_labels([LabelIn("acc-150", "fraud", "cb", None, at(400))])
    paths = client.get("/v1/accounts/acc-000/paths?max_hops=4", headers=ADMIN).json()
    assert paths["truncated"] is True and [p["target"]["account_id"] for p in paths["data"]] == ["acc-150"]
