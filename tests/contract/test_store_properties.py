"""Property: random batches, in any order and repeated, leave the same state on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ringfence.graph.model import AccountIn, Link
from ringfence.graph.sqlite_store import SQLiteStore
from ringfence.graph.store import GraphStore
from tests.conftest import make_store
from tests.contract.snapshots import snapshot

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ids = st.sampled_from([f"a{i}" for i in range(6)])
keys = st.tuples(st.sampled_from(["card", "device", "bank_account"]), st.sampled_from(["k1", "k2", "k3"]))
minutes = st.integers(0, 50).map(lambda m: T0 + timedelta(minutes=m))
link = st.builds(lambda k, t: Link(k[0], k[1], t), keys, st.none() | minutes)  # type: ignore[arg-type]
account = st.builds(
    AccountIn,
    ids,
    minutes,
    st.dictionaries(
        st.sampled_from(["x", "y", "z"]), st.integers(0, 3) | st.booleans() | st.text("ab", max_size=2), max_size=2
    ),
    st.lists(link, max_size=3).map(tuple),
)
batches = st.lists(st.lists(account, min_size=1, max_size=4), min_size=1, max_size=4)


@pytest.fixture
def both(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[GraphStore, GraphStore]:
    return make_store("sqlite", tmp_path, request), make_store("neo4j", tmp_path, request)


def _dedupe(batch: list[AccountIn]) -> list[AccountIn]:
    # One account per batch: within a batch "last wins" would otherwise depend on how a
    # backend orders rows inside one statement, which the contract leaves open.
    return list({a.id: a for a in batch}.values())


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=batches, order=st.randoms(use_true_random=False))
def test_any_order_any_repeat_same_state_on_both_backends(
    both: tuple[GraphStore, GraphStore], batches: list[list[AccountIn]], order: object
) -> None:
    sqlite, neo4j = both
    batches = [_dedupe(b) for b in batches]
    shuffled = list(batches)
    order.shuffle(shuffled)  # type: ignore[attr-defined]
    for store in both:
        store.reset()
        for batch in shuffled + shuffled[:2]:  # repeats are harmless
            store.upsert_accounts(batch)
    accounts_a, links_a, _ = snapshot(sqlite)
    accounts_b, links_b, _ = snapshot(neo4j)
    assert accounts_a == accounts_b
    assert links_a == links_b
    # Links and creation times merge by min/max, so they do not depend on the order at all.
    reference = SQLiteStore(sqlite.path.with_name("reference.db"))  # type: ignore[attr-defined]
    reference.migrate()
    reference.reset()
    for batch in batches:
        reference.upsert_accounts(batch)
    accounts_r, links_r, _ = snapshot(reference)
    reference.close()
    assert links_r == links_a
    assert [(a[0], a[1]) for a in accounts_r] == [(a[0], a[1]) for a in accounts_a]
