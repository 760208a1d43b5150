"""The dispatcher: claims queued jobs, runs each as a Ray task, and makes sure every job ends.

One loop, every `poll_interval_s`:

1. heartbeat: the dispatcher's row says it is alive;
2. reconcile: running jobs whose dispatcher is dead (stale heartbeat, or a process on this host
   that no longer exists) are requeued, or failed once their attempts are used up;
3. collect: finished tasks are read; a task whose process died (SIGKILL, OOM, lost node) is
   retried the same way; cancellations asked for through the API are carried out with
   `ray.cancel(force=True)`, which kills the job's process; overdue jobs are stopped;
4. claim: queued jobs are moved to running and submitted, up to `max_running_jobs`; a key
   running `max_running_per_key` jobs has its queued jobs skipped, so other keys' go first.

Draining (`drain(grace_s)`, on SIGTERM) skips step 4; the loop ends once none of this
dispatcher's tasks is left, or after `grace_s`, and `stop()` hands what still runs back.

`finder serve` runs it on a thread inside the API process; `finder worker` runs it alone, and
any number of them can share one database (`service.store.claims`).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import ray
from ray import exceptions as ray_errors
from sqlalchemy import Engine

from service.core.config import Settings
from service.core.db import Dispatcher as DispatcherRow
from service.core.db import utcnow
from service.jobs.reaper import start_reaper
from service.jobs.tasks import run_job_remote
from service.store import claims, dispatchers, jobs, lifecycle
from service.store.locks import new_id
from service.store.sessions import transaction

logger = logging.getLogger(__name__)

RECONCILE_EVERY_S = 1.0
CANCELLED_REASON = "Cancelled by the caller."


def connect_ray(settings: Settings) -> None:
    """Join the cluster at `settings.ray_address`, or start a local Ray, watched by a
    `service.jobs.reaper` that ends its processes when this process ends; no-op if connected."""
    if ray.is_initialized():
        return
    in_main_thread = threading.current_thread() is threading.main_thread()
    # ray.init replaces SIGTERM's handler with one that exits at once; uvicorn's (and
    # `finder worker`'s) handlers must stay, so that a stop releases the running jobs.
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    if settings.ray_address:
        ray.init(address=settings.ray_address, include_dashboard=False, log_to_driver=False)
    else:
        # Its processes must not outlive this one, however this one ends.
        start_reaper()
        # "local": a new Ray of our own, never one a `ray start` on this machine left running.
        ray.init(
            address="local",
            num_cpus=settings.ray_num_cpus,
            include_dashboard=False,
            log_to_driver=False,
        )
    if in_main_thread:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def describe_loss(exc: BaseException) -> str:
    """Why a job's process ended without reporting, in words."""
    if isinstance(exc, ray_errors.OutOfMemoryError):
        return "the job's process ran out of memory and was killed"
    if isinstance(exc, ray_errors.WorkerCrashedError):
        return "the job's process died (killed or crashed) before it finished"
    if isinstance(exc, ray_errors.NodeDiedError):
        return "the Ray node running the job died"
    if isinstance(exc, ray_errors.RayTaskError):
        cause = exc.cause if exc.cause is not None else exc
        text = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
        return f"the job raised {type(cause).__name__}: {text}".rstrip(": ")
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}".rstrip(": ")


@dataclass
class InFlight:
    """A job attempt this dispatcher submitted and has not seen end yet."""

    job_id: str
    attempt: int
    ref: Any
    submitted: float
    stop_reason: str | None = None
    stop_status: str = "cancelled"


class Dispatcher:
    """Runs the jobs of one database on Ray; see the module docstring for the loop."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.id = new_id()
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.inflight: dict[str, InFlight] = {}
        self._stop = threading.Event()
        self._draining = threading.Event()
        self._drain_deadline = float("inf")
        # Set once the loop has ended (stopped, or drained: no task left or the grace over).
        self.drained = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_reconcile = -float("inf")

    # --- lifecycle --------------------------------------------------------------------------

    def open(self) -> None:
        """Connect to Ray, register, and reconcile what dead dispatchers left running."""
        connect_ray(self.settings)
        with transaction(self.engine) as session:
            dispatchers.register_dispatcher(session, self.id, self.host, self.pid)
        self.reconcile()

    def start(self) -> None:
        """Open, then run the loop on a daemon thread."""
        self.open()
        self._thread = threading.Thread(target=self.loop, name=f"dispatcher-{self.id[:8]}")
        self._thread.daemon = True
        self._thread.start()

    def run_forever(self) -> None:
        """Open, then run the loop on this thread until `stop()`."""
        self.open()
        self.loop()

    def request_stop(self) -> None:
        """Ask the loop to end after its current tick (safe from a signal handler)."""
        self._stop.set()

    def drain(self, grace_s: float) -> None:
        """Claim no more jobs, and end the loop once this dispatcher runs none, or after
        `grace_s` (safe from a signal handler); `stop()` then hands back what still runs."""
        self._drain_deadline = time.monotonic() + grace_s
        self._draining.set()

    @property
    def draining(self) -> bool:
        return self._draining.is_set()

    def drain_over(self) -> bool:
        """Draining, and no task left or the grace over."""
        return self._draining.is_set() and (
            not self.inflight or time.monotonic() >= self._drain_deadline
        )

    def stop(self, *, release: bool = True) -> None:
        """Stop the loop; with `release`, stop this dispatcher's tasks and requeue their jobs
        without charging an attempt, so another dispatcher can run them."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)
        if release:
            for entry in list(self.inflight.values()):
                ray.cancel(entry.ref, force=True)
                with transaction(self.engine) as session:
                    lifecycle.release(session, entry.job_id, entry.attempt)
            self.inflight.clear()
        with transaction(self.engine) as session:
            dispatchers.heartbeat(session, self.id, stopped=True)

    def loop(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self.tick()
                except Exception:  # Outlive a database hiccup; the next tick retries.
                    logger.exception("dispatcher tick failed")
                if self.drain_over():
                    return
                self._stop.wait(self.settings.poll_interval_s)
        finally:
            self.drained.set()

    # --- one tick ---------------------------------------------------------------------------

    def tick(self) -> None:
        with transaction(self.engine) as session:
            dispatchers.heartbeat(session, self.id)
        if time.monotonic() - self._last_reconcile >= RECONCILE_EVERY_S:
            self.reconcile()
        self.collect()
        self.stop_requested()
        self.claim()

    def is_alive(self, row: DispatcherRow) -> bool:
        if row.id == self.id:
            return True
        if row.stopped:
            return False
        if row.host == self.host and not process_exists(row.pid):
            return False
        age = utcnow() - row.heartbeat_at
        return age < timedelta(seconds=self.settings.dispatcher_timeout_s)

    def reconcile(self) -> None:
        """Requeue (or fail) running jobs that no live dispatcher is running."""
        self._last_reconcile = time.monotonic()
        with transaction(self.engine) as session:
            rows = dispatchers.list_dispatchers(session)
            running = jobs.running_jobs(session)
        live = {row.id for row in rows if self.is_alive(row)}
        for job in running:
            if job.dispatcher_id == self.id:
                if job.id not in self.inflight:
                    self.retry_or_fail(job.id, job.attempts, "its task was lost")
            elif job.dispatcher_id not in live:
                self.retry_or_fail(
                    job.id, job.attempts, f"the dispatcher running it ({job.dispatcher_id}) stopped"
                )

    def retry_or_fail(self, job_id: str, attempt: int, reason: str) -> None:
        """Requeue the lost attempt's job, or fail it (`lifecycle.retry_or_fail`)."""
        with transaction(self.engine) as session:
            lifecycle.retry_or_fail(session, job_id, attempt, reason)

    def collect(self) -> None:
        """Read the outcome of every finished task."""
        if not self.inflight:
            return
        refs = [entry.ref for entry in self.inflight.values()]
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        ready_set = set(ready)
        for entry in [e for e in self.inflight.values() if e.ref in ready_set]:
            del self.inflight[entry.job_id]
            self.finish(entry)

    def finish(self, entry: InFlight) -> None:
        """Record the end of a finished task from its `Outcome` (plain data, see
        `service.jobs.failures`); a task that raised was lost (its process died or was
        cancelled)."""
        try:
            ended = ray.get(entry.ref)
        except ray_errors.RayError as exc:
            if entry.stop_reason is not None:
                with transaction(self.engine) as session:
                    if entry.stop_status == "failed":
                        lifecycle.record_failure(
                            session, entry.job_id, entry.attempt, entry.stop_reason, "timeout"
                        )
                    else:
                        lifecycle.record_cancelled(
                            session, entry.job_id, entry.attempt, entry.stop_reason
                        )
                return
            self.retry_or_fail(entry.job_id, entry.attempt, describe_loss(exc))
            return
        status = ended.get("status") if isinstance(ended, dict) else None
        reason = str(ended.get("reason")) if isinstance(ended, dict) else None
        if status == "failed":
            # Usually recorded by the task already; this records it when the task could not.
            with transaction(self.engine) as session:
                lifecycle.record_failure(
                    session, entry.job_id, entry.attempt, str(reason), ended["kind"]
                )
        elif status == "retry":
            self.retry_or_fail(entry.job_id, entry.attempt, str(reason))
        else:
            # The task recorded its own outcome; this only catches a row it left running.
            self.retry_or_fail(
                entry.job_id,
                entry.attempt,
                f"the job's process ended ({status}) without recording a result",
            )

    def stop_requested(self) -> None:
        """Carry out cancellations and stop jobs past `job_timeout_s`."""
        if not self.inflight:
            return
        with transaction(self.engine) as session:
            rows = jobs.jobs_by_id(session, list(self.inflight))
        now = time.monotonic()
        for job_id, entry in self.inflight.items():
            if entry.stop_reason is not None:
                continue
            row = rows.get(job_id)
            if row is None or row.cancel_requested:  # cancelled, or deleted (DELETE /jobs/{id})
                entry.stop_reason, entry.stop_status = CANCELLED_REASON, "cancelled"
            elif now - entry.submitted > self.settings.job_timeout_s:
                entry.stop_reason = (
                    f"Stopped after {self.settings.job_timeout_s:g} s (the job time limit)."
                )
                entry.stop_status = "failed"
            else:
                continue
            ray.cancel(entry.ref, force=True)

    def claim(self) -> None:
        while (
            len(self.inflight) < self.settings.max_running_jobs
            and not self._stop.is_set()
            and not self._draining.is_set()
        ):
            with transaction(self.engine) as session:
                job = claims.claim_next(session, self.id, self.settings.max_running_per_key)
            if job is None:
                return
            ref = run_job_remote.options(
                num_cpus=self.settings.job_num_cpus,
                num_gpus=self.settings.job_num_gpus,
                name=f"finder-job-{job.id}-{job.attempts}",
            ).remote(
                job.id,
                job.attempts,
                self.settings.database_url,
                job.kind,
                job.spec,
                self.settings.progress_interval_s,
            )
            self.inflight[job.id] = InFlight(
                job_id=job.id, attempt=job.attempts, ref=ref, submitted=time.monotonic()
            )
