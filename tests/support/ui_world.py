"""The world the /ui/ page is tested and measured on: one riskiest ring (`a00`...), a hub
identifier it touches, and enough small rings that the queue pages. Seeded through the store,
then swept, so every view the page draws comes from real API answers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from ringfence.core.clock import utcnow
from ringfence.core.settings import Settings
from ringfence.graph.factory import open_store
from ringfence.graph.model import AccountIn, LabelIn, Link
from ringfence.services.sweeps import run_sweep
from tests.support.launchers import ApiServer
from tests.support.settings import API_KEYS, make_settings

MARKUP = '<img src=x onerror="window.__pwned=1">'
HUB = ("bank_account", "bank-hub")
HUB_CAP = 40
INVESTIGATOR = "invlab_k3y"  # the scopes an investigator works with: investigate+label


@dataclass(frozen=True)
class UiWorld:
    ring_members: list[str]
    small_rings: int
    hub_degree: int
    markup_account: str


def _account(account_id: str, links: list[tuple[str, str]], days: int, **attributes: object) -> AccountIn:
    at = utcnow() - timedelta(days=days)
    return AccountIn(account_id, at, attributes, tuple(Link(t, i, at) for t, i in links))  # type: ignore[arg-type]


def seed(settings: Settings, ring_size: int = 8, hub_degree: int = 60, small_rings: int = 30) -> UiWorld:
    """Write the world into the store `settings` names and sweep it (`settings.hub_cap` below
    `hub_degree`, so the hub links nobody in detection and stays a hub on the page)."""
    members = [f"a{n:02d}" for n in range(ring_size)]
    # Neighbours share a card (a chain: one group whatever its size), all share a device.
    accounts = [_account(m, [("device", "dev-ring-a"), ("card", f"card-a-{n}"), ("card", f"card-a-{n - 1}"),
                             *([HUB] if n == ring_size - 1 else [])],
                         30 - n % 5, country="GB", **({"note": MARKUP} if n == 3 else {}))
                for n, m in enumerate(members)]
    accounts += [_account(f"h{n:04d}", [HUB, ("card", f"card-h-{n}")], 20) for n in range(hub_degree - 1)]
    accounts += [_account(f"s{r:02d}_{m}", [("device", f"dev-s{r:02d}")], 10)
                 for r in range(small_rings) for m in range(3)]
    store = open_store(settings)
    try:
        store.upsert_accounts(accounts)
        store.add_labels([LabelIn(m, "fraud", "seed", None) for m in members[:3]]
                         + [LabelIn(f"s{r:02d}_0", "legit", "seed", None) for r in range(0, small_rings, 3)])
        run_sweep(store, settings)
    finally:
        store.close()
    return UiWorld(members, small_rings, hub_degree, members[3])


@contextmanager
def serving(tmp: Path, **world: int) -> Iterator[tuple[ApiServer, UiWorld]]:
    """The seeded world behind a real uvicorn server (every test key, plus `INVESTIGATOR`)."""
    graph_url = f"sqlite:///{tmp / 'graph.db'}"
    seeded = seed(make_settings(tmp / "data", hub_cap=HUB_CAP, graph_url=graph_url), **world)
    server = ApiServer({"RINGFENCE_API_KEYS": f"{API_KEYS},{INVESTIGATOR}:investigate+label",
                        "RINGFENCE_DATA_DIR": str(tmp / "data"), "RINGFENCE_GRAPH_URL": graph_url,
                        "RINGFENCE_HUB_CAP": str(HUB_CAP)}, tmp)
    try:
        server.wait_ready(60)
        yield server, seeded
    finally:
        server.stop()
