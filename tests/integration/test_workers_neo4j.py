"""Neo4j stopped during writes through the API, then started again on the same port.

A dedicated real Neo4j server (not the session's: this one is stopped), with a home kept on
disk so its data survive the restart; the API under uvicorn, a real online worker and beat
on a real redis-server. Prints what it counted; `lost` and `half_written` must be 0.
"""

from __future__ import annotations

import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from devservices.services import LAUNCHER_DIR, Neo4jServer, _home_template, _home_template_valid, free_port
from ringfence.core.clock import utcnow
from ringfence.core.settings import Settings
from ringfence.graph.factory import neo4j_config
from ringfence.graph.neo4j_store import Neo4jStore
from tests.conftest import _skip_neo4j
from tests.integration.test_workers_faults import FAST_RESCORE, post_account
from tests.support.launchers import ApiServer, Beat, RedisServer, Worker, wait_for
from tests.support.settings import SCORE_KEY, worker_env

LINKS = 3


def start_neo4j(home: Path, port: int) -> Neo4jServer:
    # Small heap and C1-only JIT: this server holds a few hundred accounts and starts twice.
    return Neo4jServer(port=port, home=home, heap="512m", page_cache="64m", quick_start=True).start()


@pytest.fixture
def neo4j_home(tmp_path: Path) -> Path:
    if _skip_neo4j():
        pytest.skip("RINGFENCE_SKIP_NEO4J=1 (never honoured in CI)")
    home = tmp_path / "neo4j"
    if _home_template_valid(LAUNCHER_DIR):  # skip the system-database setup, as temporary homes do
        shutil.copytree(_home_template(LAUNCHER_DIR), home, ignore=shutil.ignore_patterns(".complete"))
    return home


def test_neo4j_stopped_during_writes_answers_503_writes_nothing_half_and_recovers_by_itself(
    tmp_path: Path, neo4j_home: Path
) -> None:
    port = free_port()
    server = start_neo4j(neo4j_home, port)
    graph_url = server.graph_url
    store = Neo4jStore(neo4j_config(Settings(graph_url=graph_url, neo4j_retry_time_s=1.0)))
    processes: list[Worker] = []
    clients: list[httpx.Client] = []
    try:
        store.migrate()
        with RedisServer(directory=tmp_path / "redis", persist=True) as redis:
            env = worker_env(redis.url, tmp_path, RINGFENCE_GRAPH_URL=graph_url, RINGFENCE_NEO4J_RETRY_TIME_S="1",
                             **FAST_RESCORE)
            processes += [Worker("online", "online", env, tmp_path), Beat(env, tmp_path), ApiServer(env, tmp_path)]
            for p in processes:
                p.wait_ready()
            api = processes[2]
            assert isinstance(api, ApiServer)

            def client() -> httpx.Client:
                c = httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {SCORE_KEY}"}, timeout=60)
                clients.append(c)
                return c

            # given writes flowing from 4 clients
            outcomes: dict[str, httpx.Response] = {}
            local = threading.local()
            stop = threading.Event()
            counter = iter(range(10**6))
            lock = threading.Lock()

            def writer() -> None:
                local.client = client()
                while not stop.is_set():
                    with lock:
                        account_id = f"w_{next(counter):05d}"
                    outcomes[account_id] = post_account(local.client, account_id)
                    time.sleep(0.01)

            with ThreadPoolExecutor(4) as pool:
                writers = [pool.submit(writer) for _ in range(4)]
                try:
                    wait_for(lambda: len(outcomes) >= 100, 60, "100 writes")

                    # when Neo4j stops in the middle of them
                    server.stop()
                    probe = client()
                    ready_while_down = probe.get("/readyz")
                    wait_for(lambda: sum(r.status_code == 503 for r in list(outcomes.values())) >= 10, 60, "503s")
                    # and starts again on the same port, with the same data
                    server = start_neo4j(neo4j_home, port)
                    wait_for(lambda: probe.get("/readyz").status_code == 200, 60, "readyz 200 again")
                    ready_after = len(outcomes)
                    wait_for(lambda: len(outcomes) >= ready_after + 100, 60, "100 writes after the restart")
                finally:
                    stop.set()
                for f in writers:
                    f.result()

            # then the API said 503 with the contract's error shape, and readiness followed the store
            assert ready_while_down.status_code == 503
            assert ready_while_down.json()["error"]["code"] == "store_unavailable"
            statuses = {i: r.status_code for i, r in outcomes.items()}
            refused = sorted(i for i, s in statuses.items() if s == 503)
            accepted = sorted(i for i, s in statuses.items() if s == 201)
            assert set(statuses.values()) <= {201, 503}
            for i in refused:
                error = outcomes[i].json()["error"]
                assert error["code"] == "store_unavailable" and "unavailable" in error["message"], error
            # and nothing is half-written: every account is whole or absent
            stored = {i: a for i in statuses if (a := store.get_account(i)) is not None}
            half_written = [i for i, a in stored.items() if len(a.links) != LINKS]
            missing_accepted = [i for i in accepted if i not in stored]
            refused_absent = sum(i not in stored for i in refused)

            # and with no manual step, clients that got 503 retry and every account gets its score
            with client() as c:
                retried = [post_account(c, i).status_code for i in refused]
            ids = list(statuses)
            unscored = lambda: [i for i in ids if store.get_score(i) is None]  # noqa: E731
            try:
                wait_for(lambda: not unscored(), 120, "every account scored", every=1)
            finally:
                left = unscored()
                requeued = processes[0].text().count("rescore_pending: queued")
                retries = processes[0].text().count("Retry in")
                print(f"\n[neo4j stop] requests={len(statuses)} accepted={len(accepted)} answered_503={len(refused)} "
                      f"(absent={refused_absent}, whole={len(refused) - refused_absent}) "
                      f"retried_ok={retried.count(201)} half_written={len(half_written)} "
                      f"succeeded={len(ids) - len(left)} task_retries={retries} rescore_ticks_requeueing={requeued} "
                      f"lost={len(missing_accepted) + len(left)}")
            assert refused and accepted
            assert not half_written and not missing_accepted
            assert retried == [201] * len(refused)
            assert all(len(store.get_account(i).links) == LINKS for i in ids)  # type: ignore[union-attr]
            assert store.pending_scores(utcnow() + timedelta(seconds=1), 10) == []
    finally:
        for c in clients:
            c.close()
        for p in processes:
            p.stop()
        store.close()
        server.stop()
