"""The Prometheus metrics of an API process, for `GET /metrics`.

Each app has its own `CollectorRegistry` holding one `JobStoreCollector`, which asks the
database on every scrape, with aggregate queries only (counts and sums by status, one `SUM` per
histogram bucket): a scrape costs the same whatever the number of jobs.

- `finder_jobs{status}` (gauge): jobs in the store, by status;
- `finder_job_duration_seconds{status}` (histogram): run time of finished jobs (last attempt);
- `finder_dispatchers` (gauge): dispatchers whose heartbeat is fresh;
- `finder_refusals_total{reason}` (counter): requests this API process refused.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from service.core.db import JOB_STATUSES
from service.store import dispatchers, stats

FINISHED_STATUSES = ("succeeded", "failed", "cancelled")
DURATION_BUCKETS_S = (1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
REFUSAL_REASONS = (
    "max_queued_jobs",
    "max_queued_per_key",
    "upload_quota_mb",
    "idempotency_conflict",
    "draining",
)


class Refusals:
    """Requests this API process refused by a bound or an idempotency conflict, by reason."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, reason: str) -> None:
        with self._lock:
            self._counts[reason] += 1

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {reason: self._counts[reason] for reason in (*REFUSAL_REASONS, *self._counts)}


class JobStoreCollector(Collector):
    """The metrics of the job store, read on each scrape, and this process's refusals."""

    def __init__(self, engine: Engine, dispatcher_timeout_s: float, refusals: Refusals) -> None:
        self.engine = engine
        self.dispatcher_timeout_s = dispatcher_timeout_s
        self.refusals = refusals

    def collect(self) -> Iterator[Metric]:
        with Session(self.engine) as session:
            counts = stats.count_by_status(session)
            durations = stats.durations_by_status(session, DURATION_BUCKETS_S)
            alive = dispatchers.alive_dispatchers(session, self.dispatcher_timeout_s)
        jobs = GaugeMetricFamily("finder_jobs", "Jobs in the store, by status.", labels=["status"])
        for status in JOB_STATUSES:
            jobs.add_metric([status], counts.get(status, 0))
        yield jobs
        histogram = HistogramMetricFamily(
            "finder_job_duration_seconds",
            "Run time of finished jobs (last attempt).",
            labels=["status"],
        )
        none = stats.Durations(within=(0,) * len(DURATION_BUCKETS_S), count=0, sum_s=0.0)
        for status in FINISHED_STATUSES:
            timed = durations.get(status, none)
            within = zip(DURATION_BUCKETS_S, timed.within, strict=True)
            buckets = [(str(bound), count) for bound, count in within]
            histogram.add_metric([status], [*buckets, ("+Inf", timed.count)], sum_value=timed.sum_s)
        yield histogram
        yield GaugeMetricFamily(
            "finder_dispatchers", "Dispatchers whose heartbeat is fresh.", value=alive
        )
        refused = CounterMetricFamily(
            "finder_refusals",
            "Requests this API process refused (429, 413 quota, 409 idempotency conflict, "
            "503 draining), by reason.",
            labels=["reason"],
        )
        for reason, count in self.refusals.counts().items():
            refused.add_metric([reason], count)
        yield refused


def metrics_registry(
    engine: Engine, dispatcher_timeout_s: float, refusals: Refusals
) -> CollectorRegistry:
    """A registry of one app's metrics (apps in one process do not share theirs)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(JobStoreCollector(engine, dispatcher_timeout_s, refusals))
    return registry
