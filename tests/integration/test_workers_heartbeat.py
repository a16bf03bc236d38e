"""Heartbeats (issue #14): a worker killed -9 mid-sweep and mid-training leaves no job `running`
for ever and no sweep lock for an hour: its jobs are marked failed (`worker_lost`) and a new
sweep is accepted and succeeds within 90 s. Real redis-server, real worker processes, the API
in-process on the same SQLite store."""

from __future__ import annotations

import time
from pathlib import Path

from ringfence.graph.sqlite_store import SQLiteStore
from tests.support.builders import ring_world
from tests.support.clients import TORCH_SPARSE, TestClient, running_app
from tests.support.launchers import RedisServer, SweepHold, Worker, wait_for
from tests.support.settings import ADMIN, worker_env

pytestmark = TORCH_SPARSE
LOCK_TTL_S = 9


def test_jobs_of_a_killed_worker_fail_as_worker_lost_and_the_next_sweep_runs(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "graph.db")
    store.migrate()
    store.upsert_accounts(ring_world(rings=5, size=4, singles=50))
    store.close()
    hold = SweepHold(tmp_path / "hold")
    workers: list[Worker] = []
    with RedisServer(directory=tmp_path / "redis", persist=True) as redis:
        # a 9 s lock TTL (30 s in production; renewed every 3 s) so the expiry shows within the test's 90 s
        env = worker_env(redis.url, tmp_path, RINGFENCE_SWEEP_LOCK_TTL_S=str(LOCK_TTL_S))
        try:
            # given a jobs worker (two processes) whose sweep and training stop at a barrier
            workers.append(Worker("held", "jobs", {**env, **hold.env}, tmp_path, concurrency=2).wait_ready())
            with running_app(tmp_path / "data", graph_url=env["RINGFENCE_GRAPH_URL"], broker_url=redis.url,
                             sweep_lock_ttl_s=LOCK_TTL_S) as api:
                sweep = api.post("/v1/sweeps", headers=ADMIN).json()
                train = api.post("/v1/models/train", headers=ADMIN).json()
                hold.wait_reached(1)
                hold.wait_training_reached(1)
                assert api.get(f"/v1/jobs/{sweep['id']}", headers=ADMIN).json()["status"] == "running"
                assert api.post("/v1/sweeps", headers=ADMIN).status_code == 409

                # when the worker is killed -9 with its pool, mid-sweep and mid-training
                workers[0].kill9()
                killed = time.monotonic()
                workers.append(Worker("fresh", "jobs", env, tmp_path).wait_ready())

                # then a new sweep is accepted and succeeds within 90 s of the kill
                accepted = wait_for(lambda: _start_sweep(api), 90, "a new sweep to be accepted")
                wait_for(lambda: api.get(f"/v1/jobs/{accepted}", headers=ADMIN).json()["status"] == "succeeded",
                         max(1.0, 90 - (time.monotonic() - killed)), "the new sweep to succeed")
                took = time.monotonic() - killed
                # and both jobs of the killed worker are failed as worker_lost
                for job in (sweep, train):
                    final = api.get(f"/v1/jobs/{job['id']}", headers=ADMIN).json()
                    assert final["status"] == "failed" and final["error"].startswith("worker_lost"), final
            print(f"\n[kill -9 mid-sweep and mid-training] new sweep succeeded {took:.1f}s after the kill; "
                  f"killed jobs failed as worker_lost: 2/2")
        finally:
            for w in workers:
                w.stop()


def _start_sweep(api: TestClient) -> str | None:
    response = api.post("/v1/sweeps", headers=ADMIN)
    if response.status_code == 409:
        time.sleep(0.5)  # polling the API for the lock's release, not a timing window
        return None
    assert response.status_code == 202, response.text
    return str(response.json()["id"])
