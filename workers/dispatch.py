"""The Celery adapter of `services.dispatch.Dispatcher`: tasks sent by name to their queue.

The API uses it when `RINGFENCE_BROKER_URL` is set (`api.app`); it never imports the tasks,
only the configuration (`workers.app`). A broker that does not answer is `BrokerUnavailable`.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from ringfence.core.errors import BrokerUnavailable
from ringfence.core.settings import Settings
from ringfence.workers.app import JOBS, ONLINE, TASK_QUEUES, make_celery

log = logging.getLogger(__name__)
_RECHECK_S = 1.0


class CeleryDispatcher:
    """Sends tasks by name to their queue on the broker; never imports the tasks."""

    def __init__(self, settings: Settings) -> None:
        self._app = make_celery(settings)
        conn = self._app.connection_for_write()
        # What a dead or restarting broker raises: kombu's wrapper plus the transport's own.
        self._errors: tuple[type[BaseException], ...] = (
            OSError,
            *conn.connection_errors,
            *conn.channel_errors,
            *_kombu_errors(),
        )
        conn.release()
        # Set when a send fails: until then `ensure_available` costs nothing, afterwards it
        # answers from memory for a second, then pings (at most one ping a second).
        self._down_until: float | None = None
        self._down_lock = threading.Lock()

    def _send(self, name: str, arg: str) -> str:
        try:
            result = self._app.send_task(name, args=[arg], queue=TASK_QUEUES[name])
        except self._errors as exc:
            self._mark_down()
            raise BrokerUnavailable(f"broker unavailable: {exc}") from exc
        return str(result.id)

    def _mark_down(self) -> None:
        with self._down_lock:
            self._down_until = time.monotonic() + _RECHECK_S

    def ensure_available(self) -> None:
        with self._down_lock:
            down_until = self._down_until
            if down_until is None:
                return
            if time.monotonic() < down_until:
                raise BrokerUnavailable("broker unavailable: the message broker is not answering; retry shortly")
            self._down_until = time.monotonic() + _RECHECK_S  # one request pings; the others wait
        try:
            self.ping()
        except BrokerUnavailable:
            self._mark_down()
            raise

    def score_async(self, account_id: str) -> str:
        return self._send("ringfence.score_account", account_id)

    def start_sweep(self, job_id: str) -> str:
        return self._send("ringfence.sweep", job_id)

    def start_train(self, job_id: str) -> str:
        return self._send("ringfence.train", job_id)

    def _connect(self) -> Any:
        """A fresh broker connection, established with one quick attempt."""
        conn = self._app.connection_for_read()
        try:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0.1, timeout=2)
            conn.default_channel  # noqa: B018 - opening a channel is the round trip (Redis: PING)
        except self._errors as exc:
            conn.release()
            raise BrokerUnavailable(f"broker unavailable: {exc}") from exc
        return conn

    def ping(self) -> None:
        self._connect().release()
        # A broker that answers is up: forget a remembered failure, so that writes are accepted
        # as soon as /readyz (which pings) says so, not up to a second later.
        with self._down_lock:
            self._down_until = None

    def queue_depth(self) -> dict[str, int]:
        depth = dict.fromkeys((ONLINE, JOBS), 0)
        try:
            conn = self._connect()
        except BrokerUnavailable as exc:
            log.debug("queue depth unavailable: %s", exc)
            return depth
        try:
            for queue in depth:
                try:
                    depth[queue] = int(conn.default_channel.queue_declare(queue=queue, passive=True).message_count)
                except conn.channel_errors:
                    pass  # Redis: an empty queue is no key at all; AMQP: not declared yet
        except self._errors as exc:
            log.debug("queue depth unavailable: %s", exc)
        finally:
            conn.release()
        return depth

    def close(self) -> None:
        self._app.close()


def _kombu_errors() -> tuple[type[BaseException], ...]:
    from kombu.exceptions import OperationalError

    return (OperationalError,)
