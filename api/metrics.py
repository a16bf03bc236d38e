"""Prometheus metrics of one app, in a registry of its own (several apps may share a process).

- `ringfence_http_requests_total{method, route, status}` and
  `ringfence_http_request_duration_seconds{method, route, status}`: the route is the template
  (`/v1/accounts/{id}`), or `unmatched`, so the label set stays small;
- `ringfence_jobs_total{kind, status}`: jobs the API created (`queued`) or refused/failed to hand
  over (`failed`);
- `ringfence_queue_depth{queue}`: messages waiting per queue, read from the dispatcher at scrape;
- `ringfence_stored_jobs{kind, status}`: every job in the store (whichever replica, worker or
  beat started it, with its outcome), read at scrape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _Gauge(Collector):
    """A gauge read from `source` at scrape; a scrape must not fail because the broker or the
    store is away (the gauge is then empty, and /readyz says why)."""

    def __init__(self, name: str, doc: str, labels: list[str], source: Callable[[], Mapping[Any, int] | None]) -> None:
        self._name, self._doc, self._labels, self._source = name, doc, labels, source

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(self._name, self._doc, labels=self._labels)
        try:
            values = self._source() or {}
        except Exception:
            values = {}
        for key, n in sorted(values.items()):
            gauge.add_metric(list(key) if isinstance(key, tuple) else [key], float(n))
        yield gauge


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "ringfence_http_requests", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "ringfence_http_request_duration_seconds", "HTTP request latency", ["method", "route", "status"],
            buckets=_BUCKETS, registry=self.registry,
        )
        self.jobs = Counter(
            "ringfence_jobs", "Jobs created through the API", ["kind", "status"], registry=self.registry
        )
        self._depth_source: Callable[[], dict[str, int] | None] = lambda: None
        self._jobs_source: Callable[[], dict[tuple[str, str], int] | None] = lambda: None
        self._model_source: Callable[[], dict[tuple[str, str], int] | None] = lambda: None
        self.registry.register(_Gauge("ringfence_queue_depth", "Messages waiting per queue", ["queue"],
                                      lambda: self._depth_source()))
        self.registry.register(_Gauge("ringfence_stored_jobs", "Jobs in the store by kind and status",
                                      ["kind", "status"], lambda: self._jobs_source()))
        self.registry.register(_Gauge("ringfence_model", "The model that scores (state: serving, fallback, broken)",
                                      ["version", "state"], lambda: self._model_source()))

    def watch_queues(self, source: Callable[[], dict[str, int] | None]) -> None:
        self._depth_source = source

    def watch_model(self, source: Callable[[], dict[tuple[str, str], int] | None]) -> None:
        self._model_source = source

    def watch_jobs(self, source: Callable[[], dict[tuple[str, str], int] | None]) -> None:
        self._jobs_source = source

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route, str(status)).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
