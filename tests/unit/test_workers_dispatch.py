"""Celery configuration, the job and score use cases and both dispatchers, on a real SQLite store.

The broker-facing tests use a real redis-server; worker processes are in test_workers_faults.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest

from ringfence.api.app import make_dispatcher
from ringfence.core.clock import utcnow
from ringfence.core.errors import BrokerUnavailable
from ringfence.core.settings import Settings
from ringfence.graph.model import Score
from ringfence.graph.sqlite_store import SQLiteStore
from ringfence.services.dispatch import Dispatcher, InProcessDispatcher, job_limit
from ringfence.services.scoring import rescore_due, score_one
from ringfence.services.sweeps import run_sweep_job
from ringfence.services.training import run_train_job
from ringfence.workers.app import JOBS, ONLINE, WorkerLimits, celery_config, make_celery
from ringfence.workers.dispatch import CeleryDispatcher
from tests.support.builders import account_in, own_cards, ring_world
from tests.support.launchers import RedisServer, free_port, wait_for

# gnn/graphdata.py builds sparse CSR tensors, which torch announces with UserWarnings; they are
# gnn's to silence (reported to its owner), not something these tests are about.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta state:UserWarning"),
    pytest.mark.filterwarnings("ignore:Sparse invariant checks are implicitly disabled:UserWarning"),
]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", graph_url=f"sqlite:///{tmp_path / 'graph.db'}")


@pytest.fixture
def store(settings: Settings) -> SQLiteStore:
    s = SQLiteStore(settings.sqlite_path)
    s.migrate()
    yield s  # type: ignore[misc]
    s.close()


# -- configuration -----------------------------------------------------------------------


def test_reliability_settings_are_the_chosen_ones() -> None:
    conf = celery_config(Settings(broker_url="redis://127.0.0.1:1/0", sweep_lock_ttl_s=3600, sweep_interval_s=3600))

    assert conf["task_acks_late"] and conf["task_reject_on_worker_lost"]
    assert conf["worker_prefetch_multiplier"] == 1
    assert conf["task_routes"]["ringfence.score_account"]["queue"] == ONLINE
    assert conf["task_routes"]["ringfence.sweep"]["queue"] == JOBS
    assert conf["task_routes"]["ringfence.train"]["queue"] == JOBS
    # a job is killed before its lock expires, and redelivered only after it was killed
    assert conf["task_soft_time_limit"] < conf["task_time_limit"] == 3600
    assert conf["broker_transport_options"]["visibility_timeout"] > conf["task_time_limit"]
    beat = conf["beat_schedule"]["sweep"]
    assert beat["schedule"] == 3600 and 0 < beat["options"]["expires"] < 3600
    # the safety net under the broker ticks on the online queue and expires while it is backed up
    rescore = conf["beat_schedule"]["rescore"]
    assert rescore["task"] == "ringfence.rescore_pending" and rescore["options"]["queue"] == ONLINE
    assert 0 < rescore["options"]["expires"] < rescore["schedule"]


def test_visibility_timeout_shorter_than_a_job_is_refused() -> None:
    with pytest.raises(ValueError, match="must exceed"):
        celery_config(Settings(), WorkerLimits(Settings(), job_time_limit_s=600, broker_visibility_timeout_s=300))


def test_rabbitmq_works_by_url_alone() -> None:
    app = make_celery(Settings(broker_url="amqp://guest:guest@127.0.0.1:5672//"))

    assert app.connection_for_write().transport_cls == "amqp"


def test_the_api_picks_its_dispatcher_by_broker_url(settings: Settings, store: SQLiteStore) -> None:
    in_process = make_dispatcher(settings, store)
    celery = make_dispatcher(settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/0"}), store)
    try:
        assert isinstance(in_process, InProcessDispatcher) and isinstance(in_process, Dispatcher)
        assert isinstance(celery, CeleryDispatcher) and isinstance(celery, Dispatcher)
    finally:
        in_process.close()
        celery.close()


# -- the task functions ------------------------------------------------------------------


def test_scoring_twice_leaves_one_score(store: SQLiteStore, settings: Settings) -> None:
    store.upsert_accounts([account_in("a1", *own_cards("a1"), channel="web")])

    first = score_one(store, settings, "a1")
    second = score_one(store, settings, "a1")

    assert first["written"] == second["written"] == 1
    assert store.get_score("a1") is not None


def test_a_score_from_an_older_view_never_replaces_a_newer_one(store: SQLiteStore, settings: Settings) -> None:
    # given a score computed from a later view of the graph than any worker will have now
    store.upsert_accounts([account_in("a1", *own_cards("a1"), channel="web")])
    future = utcnow() + timedelta(hours=1)
    store.write_scores([Score("a1", 0.42, "later", future, future)])

    # when a worker scores the account from the current view
    out = score_one(store, settings, "a1")

    # then the later score stays
    assert out["written"] == 0
    kept = store.get_score("a1")
    assert kept is not None and kept.model_version == "later" and kept.risk == 0.42


def test_unknown_account_is_dropped_not_retried(store: SQLiteStore, settings: Settings) -> None:
    assert score_one(store, settings, "nobody")["written"] == 0


def test_a_finished_sweep_job_is_not_run_again(store: SQLiteStore, settings: Settings) -> None:
    store.upsert_accounts(ring_world(rings=3, size=4, singles=5))
    job = store.create_job("sweep")

    first = run_sweep_job(store, settings, job.id, job_limit(settings))
    again = run_sweep_job(store, settings, job.id, job_limit(settings))

    assert store.get_job(job.id).status == "succeeded"  # type: ignore[union-attr]
    assert again == {"job_id": job.id, "skipped": True}
    current = store.current_sweep()
    assert current is not None and current.sweep_id == first["sweep_id"]
    assert len(store.current_rings()) == 3


def test_sweep_lock_held_by_another_job_fails_the_job_with_sweep_running(
    store: SQLiteStore, settings: Settings
) -> None:
    store.upsert_accounts(ring_world(rings=2, size=3, singles=0))
    assert store.acquire_lock("sweep", "some-other-job", 60)
    job = store.create_job("sweep")

    out = run_sweep_job(store, settings, job.id, job_limit(settings))

    assert out["error"] == "sweep_running"
    failed = store.get_job(job.id)
    assert failed is not None and failed.status == "failed"
    assert failed.error is not None and failed.error.startswith("sweep_running")


def test_a_job_running_elsewhere_is_not_started_twice(store: SQLiteStore, settings: Settings) -> None:
    job = store.create_job("sweep")
    assert store.acquire_lock(f"job:{job.id}", "another-worker", 60)

    assert run_sweep_job(store, settings, job.id, job_limit(settings))["skipped"] is True
    assert store.get_job(job.id).status == "queued"  # type: ignore[union-attr]


def test_training_without_labels_fails_the_job_cleanly(store: SQLiteStore, settings: Settings) -> None:
    store.upsert_accounts(ring_world(rings=2, size=3, singles=4))
    job = store.create_job("train")

    out = run_train_job(store, settings, job.id, job_limit(settings))

    assert out["error"] == "invalid_input"
    failed = store.get_job(job.id)
    assert failed is not None and failed.status == "failed" and "label" in (failed.error or "")


# -- the in-process dispatcher -----------------------------------------------------------


def test_in_process_dispatcher_scores_and_sweeps(store: SQLiteStore, settings: Settings) -> None:
    world = ring_world(rings=4, size=3, singles=20)
    store.upsert_accounts(world)
    dispatcher = InProcessDispatcher(settings, store)
    try:
        for a in world:
            dispatcher.score_async(a.id)
        job = store.create_job("sweep")
        dispatcher.start_sweep(job.id)

        wait_for(lambda: all(store.get_score(a.id) for a in world), 60, "every account scored")
        wait_for(lambda: store.get_job(job.id).status == "succeeded", 60, "the sweep")  # type: ignore[union-attr]
        assert dispatcher.queue_depth() == {ONLINE: 0, JOBS: 0}
        assert len(store.current_rings()) == 4
    finally:
        dispatcher.close()


# -- the Celery dispatcher against a real broker -----------------------------------------


def test_celery_dispatcher_sends_to_the_right_queues(tmp_path: Path, settings: Settings) -> None:
    with RedisServer(directory=tmp_path / "redis", persist=True) as redis:
        dispatcher = CeleryDispatcher(settings.model_copy(update={"broker_url": redis.url}))
        try:
            dispatcher.ping()
            assert dispatcher.queue_depth() == {ONLINE: 0, JOBS: 0}

            ids = [dispatcher.score_async(f"a{i}") for i in range(3)]
            dispatcher.start_sweep("job1")
            dispatcher.start_train("job2")

            assert len(set(ids)) == 3
            assert dispatcher.queue_depth() == {ONLINE: 3, JOBS: 2}
        finally:
            dispatcher.close()


def test_a_dead_broker_is_broker_unavailable_after_bounded_tries(settings: Settings) -> None:
    dispatcher = CeleryDispatcher(settings.model_copy(update={"broker_url": f"redis://127.0.0.1:{free_port()}/0"}))
    conf = dispatcher._app.conf
    # a producer gives up within about a second: one connect timeout and a few short retries
    assert conf.broker_connection_timeout == 2
    assert conf.task_publish_retry_policy == {"max_retries": 3, "interval_start": 0, "interval_step": 0.2,
                                              "interval_max": 0.5}
    try:
        for call in (dispatcher.ping, lambda: dispatcher.score_async("a1"), lambda: dispatcher.start_sweep("j")):
            with pytest.raises(BrokerUnavailable, match="^broker unavailable: "):
                call()
        assert dispatcher.queue_depth() == {ONLINE: 0, JOBS: 0}  # best effort, never raises
    finally:
        dispatcher.close()


def test_after_a_failed_send_the_broker_is_refused_until_it_answers_again(tmp_path: Path, settings: Settings) -> None:
    redis = RedisServer(directory=tmp_path / "redis", persist=True)
    dispatcher = CeleryDispatcher(settings.model_copy(update={"broker_url": redis.url}))
    try:
        # given a broker that is down: the first send fails, and later callers are refused at once
        round_trips = []
        connect = dispatcher._connect
        dispatcher._connect = lambda: round_trips.append(1) or connect()  # type: ignore[method-assign]
        dispatcher.ensure_available()  # nothing known against it yet: no round trip
        assert round_trips == []
        with pytest.raises(BrokerUnavailable):
            dispatcher.score_async("a1")
        with pytest.raises(BrokerUnavailable, match="^broker unavailable: "):
            dispatcher.ensure_available()
        assert round_trips == [], "refused from memory, without asking the broker"
        # when it comes back, the next check (a second later at most) pings and admits again
        redis.start()
        wait_for(lambda: _admits(dispatcher), 10, "the dispatcher to admit again", every=0.2)
        dispatcher.score_async("a1")
        assert dispatcher.queue_depth()[ONLINE] == 1
    finally:
        dispatcher.close()
        redis.stop()


def _admits(dispatcher: CeleryDispatcher) -> bool:
    try:
        dispatcher.ensure_available()
    except BrokerUnavailable:
        return False
    return True


def test_rescore_requeues_only_old_unsettled_requests(tmp_path: Path, store: SQLiteStore, settings: Settings) -> None:
    # given two accounts whose score was requested, one of them already scored, and one without a request
    asked, done = (account_in(i, *own_cards(i), channel="web") for i in ("asked", "done"))
    store.upsert_accounts([asked, done], request_scores=True)
    store.upsert_accounts([account_in("bulk", *own_cards("bulk"), channel="web")])
    score_one(store, settings, "done")
    with RedisServer(directory=tmp_path / "redis", persist=True) as redis:
        local = settings.model_copy(update={"broker_url": redis.url, "rescore_after_s": 0.001})
        dispatcher = CeleryDispatcher(local)
        try:
            time.sleep(0.01)
            # when the beat's task runs, nothing is younger than the grace
            assert rescore_due(store, settings, dispatcher.score_async) == 0
            # then only the unscored request is queued again, on the online queue
            assert rescore_due(store, local, dispatcher.score_async) == 1
            assert dispatcher.queue_depth() == {ONLINE: 1, JOBS: 0}
        finally:
            dispatcher.close()
