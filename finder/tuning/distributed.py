"""keras-tuner's distributed mode for `finder.tune`: a chief serves the oracle, workers train.

keras-tuner's contract: every process runs the same search with `KERASTUNER_TUNER_ID`
(`"chief"` for the chief, a unique id per worker), `KERASTUNER_ORACLE_IP` and
`KERASTUNER_ORACLE_PORT`; the chief serves its oracle over insecure gRPC and workers ask it for
trials. finder's chief serves with keras-tuner's own servicer, but polls for the end of the
search every fraction of a second (keras-tuner's chief sleeps 20 s between checks) and, when it
launched the workers itself as Ray tasks, stops with the worker's error if one dies (keras-tuner
would wait forever for its trial).

```
tune(..., workers=2)                      Ray task "worker0"        Ray task "worker1"
  range test -> space                     env: worker0, ip, port    env: worker1, ip, port
  OracleServer(node_ip:free port)  <----  tune(space=...)           tune(space=...)
  poll: progress, worker failures          trials ...                trials ...
  -> TuningResult (role "chief")           -> its trials             -> its trials
```
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from concurrent import futures
from typing import Any

from finder.errors import InvalidArgumentError, TuningError
from finder.tuning import compat
from finder.tuning.hypermodel import (
    ScheduleHyperModel,
    TrialProgress,
    trial_end_fields,
    trial_progress,
)

TUNER_ID = "KERASTUNER_TUNER_ID"
ORACLE_IP = "KERASTUNER_ORACLE_IP"
ORACLE_PORT = "KERASTUNER_ORACLE_PORT"
POLL_S = 0.2
# How long a chief waits for the end of the search after every Ray worker has returned.
WORKERS_GONE_GRACE_S = 10.0
# How long a chief keeps answering after the search ends. A worker that has not asked for its
# first trial yet is unknown to the oracle, and its requests to a stopped chief would block for
# keras-tuner's one-hour client timeout; within this time it is told to stop instead. 30 s:
# a worker process started when the search ends spends 10-20 s importing TensorFlow on a
# 2-core machine before its first request (10 s let such a worker hang in CI here).
LATE_WORKER_GRACE_S = 30.0


def chief_address() -> str:
    """`ip:port` from keras-tuner's variables, where a chief serves its oracle."""
    return f"{os.environ[ORACLE_IP]}:{os.environ[ORACLE_PORT]}"


class OracleServer:
    """Serves `oracle` to keras-tuner workers over gRPC (keras-tuner's servicer) on `address`.

    `address` may end in `:0` to take a free port; `port` is the port bound.

    Raises:
        TuningError: the address cannot be bound.
    """

    def __init__(self, oracle: Any, address: str) -> None:
        import grpc

        self.oracle = oracle
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
        self._servicer = compat.add_oracle_servicer(oracle, self._server)
        try:
            self.port = int(self._server.add_insecure_port(address))
        except RuntimeError as exc:
            raise TuningError(f"Cannot serve the tuning oracle on {address}: {exc}") from exc
        if self.port == 0:
            raise TuningError(f"Cannot serve the tuning oracle on {address}.")
        self._server.start()

    def finished(self) -> bool:
        """Every worker has been told to stop and no trial is running."""
        return bool(self._servicer.stop_triggered and compat.search_over(self.oracle))

    def serve(
        self,
        on_poll: Callable[[], None],
        poll_s: float = POLL_S,
        *,
        workers_done: Callable[[], bool] | None = None,
        grace_s: float = LATE_WORKER_GRACE_S,
    ) -> None:
        """Block until the search is finished, calling `on_poll` every `poll_s` seconds, then
        keep answering late workers until `workers_done()` or for `grace_s` seconds.

        `on_poll` may raise to abandon the search.
        """
        finished_at = None
        while True:
            on_poll()
            if self.finished():
                finished_at = time.monotonic() if finished_at is None else finished_at
                if workers_done is not None and workers_done():
                    return
                if time.monotonic() - finished_at >= grace_s:
                    return
            time.sleep(poll_s)

    def stop(self) -> None:
        self._server.stop(grace=1.0).wait()


class TrialWatcher:
    """Turns the trials a chief's oracle hands out and gets back into `TrialProgress` events."""

    def __init__(
        self,
        oracle: Any,
        hypermodel: ScheduleHyperModel,
        progress: Callable[[TrialProgress], None] | None,
        max_trials: int | None,
    ) -> None:
        self.oracle = oracle
        self.hypermodel = hypermodel
        self.progress = progress
        self.max_trials = max_trials
        self._seen: dict[str, int] = {}
        self._ended: set[str] = set()

    def poll(self) -> None:
        if self.progress is None:
            return
        for trial_id, trial in list(self.oracle.trials.items()):
            if trial_id not in self._seen:
                self._seen[trial_id] = len(self._seen) + 1
                self._emit(trial, "trial_begin", epoch=0)
            if trial.status not in ("RUNNING", "IDLE") and trial_id not in self._ended:
                self._ended.add(trial_id)
                self._emit(trial, "trial_end", **trial_end_fields(trial, self.hypermodel))

    def _emit(self, trial: Any, event: str, **fields: Any) -> None:
        assert self.progress is not None
        self.progress(
            trial_progress(
                self.hypermodel,
                trial,
                event,
                number=self._seen[trial.trial_id],
                max_trials=self.max_trials,
                **fields,
            )
        )


def import_ray() -> Any:
    """The `ray` module.

    Raises:
        InvalidArgumentError: Ray is not installed.
    """
    try:
        import ray
    except ImportError as exc:
        raise InvalidArgumentError(
            "finder.tune(workers=N) needs Ray: pip install 'finder[ray]'"
        ) from exc
    return ray


def search_on_ray(
    oracle: Any,
    on_poll: Callable[[], None],
    count: int,
    *,
    run_worker: Callable[..., dict[str, Any]],
    build_model: Callable[[], Any],
    data: tuple[Any, Any, Any],
    tune_kwargs: Mapping[str, Any],
    options: Mapping[str, Any] | None,
) -> dict[str, list[str]]:
    """Serve `oracle` on this Ray node and run `count` Ray tasks as its keras-tuner workers.

    Each task is a fresh process (`max_calls=1`, so TensorFlow's memory goes with it) that
    calls `run_worker(f"worker{i}", address, build_model, data, tune_kwargs)` (finder's is
    `finder.tuning.search.run_ray_worker`: `finder.tune` as keras-tuner worker `worker<i>`);
    the data go through Ray's object store once. Ray is started locally (and shut down after)
    when it is not running. Returns each worker's trial ids.

    Raises:
        TuningError: a worker failed (the others are cancelled).
    """
    ray = import_ray()
    owns_ray = not ray.is_initialized()
    if owns_ray:
        ray.init()
    try:
        server = OracleServer(oracle, f"{ray.util.get_node_ip_address()}:0")
        try:
            remote = ray.remote(max_calls=1, num_cpus=1)(run_worker)
            if options:
                remote = remote.options(**options)
            data_ref = ray.put(data)
            address = f"{ray.util.get_node_ip_address()}:{server.port}"
            refs = [
                remote.remote(f"worker{i}", address, build_model, data_ref, dict(tune_kwargs))
                for i in range(count)
            ]
            check = RayWorkerCheck(refs)

            def poll() -> None:
                on_poll()
                check()

            try:
                server.serve(poll, workers_done=check.all_returned)
            except BaseException:
                check.cancel()
                raise
            documents = check.results()
        finally:
            server.stop()
    finally:
        if owns_ray:
            ray.shutdown()
    return {
        document["config"]["tuner_id"]: [trial["trial_id"] for trial in document["trials"]]
        for document in documents
    }


class RayWorkerCheck:
    """`on_poll` for a chief serving Ray workers: raise when one failed, or when all have
    returned but the search has not ended within `WORKERS_GONE_GRACE_S`."""

    def __init__(self, refs: list[Any]) -> None:
        self._ray = import_ray()
        self.refs = refs
        self._all_done_at: float | None = None

    def __call__(self) -> None:
        ray = self._ray
        done, _ = ray.wait(self.refs, num_returns=len(self.refs), timeout=0)
        for ref in done:
            try:
                ray.get(ref)
            except Exception as exc:
                raise TuningError(f"A tuning worker failed: {_last_line(exc)}") from exc
        if len(done) < len(self.refs):
            return
        now = time.monotonic()
        self._all_done_at = self._all_done_at or now
        if now - self._all_done_at > WORKERS_GONE_GRACE_S:
            raise TuningError(
                "Every tuning worker returned, but the oracle still has trials running."
            )

    def all_returned(self) -> bool:
        done, _ = self._ray.wait(self.refs, num_returns=len(self.refs), timeout=0)
        return len(done) == len(self.refs)

    def cancel(self) -> None:
        for ref in self.refs:
            self._ray.cancel(ref, force=True)

    def results(self) -> list[dict[str, Any]]:
        """The documents of the workers that returned. Once the search is over, a worker still
        pending (no free CPU) or starting holds no trial: it is cancelled and left out."""
        done, pending = self._ray.wait(self.refs, num_returns=len(self.refs), timeout=0)
        for ref in pending:
            self._ray.cancel(ref, force=True)
        documents: list[dict[str, Any]] = self._ray.get(done)
        return documents


def _last_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(exc).__name__
