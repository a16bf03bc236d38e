"""A `train` job through a real Celery worker, and an online worker picking up the new model.

Real redis-server, real worker processes (one per queue, as `ringfence worker` starts them),
the real SQLite store with a small generated world, the real training code.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ringfence.core.settings import Settings
from ringfence.gnn.registry import Registry
from ringfence.gnn.testing import load_world
from ringfence.graph.sqlite_store import SQLiteStore
from ringfence.workers.dispatch import CeleryDispatcher
from tests.support.launchers import RedisServer, Worker, wait_for
from tests.support.settings import worker_env

pytestmark = [
    pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta state:UserWarning"),
    pytest.mark.filterwarnings("ignore:Sparse invariant checks are implicitly disabled:UserWarning"),
]


def test_a_train_job_activates_a_model_that_the_running_online_worker_then_scores_with(tmp_path: Path) -> None:
    # given a small generated world with labels, and an online and a jobs worker already running
    store = SQLiteStore(tmp_path / "graph.db")
    store.migrate()
    records = load_world(store, 3000, seed=3)
    account_id = next(r["id"] for r in records if r["label"] is None)
    settings = Settings(data_dir=tmp_path / "data", graph_url=f"sqlite:///{tmp_path / 'graph.db'}")
    workers: list[Worker] = []
    with RedisServer(directory=tmp_path / "redis", persist=True) as redis:
        settings = settings.model_copy(update={"broker_url": redis.url})
        env = worker_env(redis.url, tmp_path)
        workers += [Worker("online", "online", env, tmp_path), Worker("jobs", "jobs", env, tmp_path)]
        dispatcher = CeleryDispatcher(settings)
        try:
            for w in workers:
                w.wait_ready()
            # and the online worker has scored with the cold-start heuristic (no model yet)
            dispatcher.score_async(account_id)
            before = wait_for(lambda: store.get_score(account_id), 60, "the first score")
            assert Registry(settings.models_dir).active_version() is None

            # when a train job runs on the jobs worker
            job = store.create_job("train")
            dispatcher.start_train(job.id)
            done = wait_for(lambda: (j := store.get_job(job.id)) and j.status in ("succeeded", "failed") and j,
                            120, "the train job")

            # then it succeeded, recorded its metrics and activated the new version
            assert done.status == "succeeded", done.error
            assert done.result is not None and done.result["metrics"]
            version = done.result["version"]
            assert Registry(settings.models_dir).active_version() == version != before.model_version

            # and the next score from the same, still running online worker uses it
            dispatcher.score_async(account_id)
            after = wait_for(lambda: (s := store.get_score(account_id)) and s.model_version == version and s,
                             60, "a score with the new model")
            assert workers[0].proc.poll() is None and after.as_of > before.as_of
            print(f"\n[train] job={done.status} version={version} metrics={sorted(done.result['metrics'])} "
                  f"score {before.model_version}:{before.risk:.3f} -> {after.model_version}:{after.risk:.3f}")
        finally:
            dispatcher.close()
            for w in workers:
                w.stop()
            store.close()
