"""The graceful drain: what `finder serve` does between SIGTERM and its exit.

uvicorn answers SIGTERM by closing its listening socket at once and then running the app's
lifespan shutdown, so a drain hooked into the shutdown could answer no request. The lifespan
therefore puts `DrainOnSigterm` in front of uvicorn's own SIGTERM handler. On the first
SIGTERM:

1. the process starts draining: job submissions (`POST /find-lr`, `POST /tune`) answer 503
   with `Retry-After` and `limit: "draining"`; `/healthz` answers 503 `draining` (so a load
   balancer stops sending traffic); every other route keeps working;
2. the dispatcher claims no more jobs, and lets the jobs it runs go on for up to
   `FINDER_DRAIN_GRACE_S`, recording those that finish;
3. once none is left running, or the grace is over, the `/events` streams end (uvicorn waits
   for every open response before its shutdown goes on, and a stream lasts as long as its
   job), and uvicorn's handler is called: uvicorn stops, and the lifespan's shutdown hands the
   jobs still running back to the queue
   (`Dispatcher.stop`, `service.store.lifecycle.release`: the attempt is not counted, it was
   not the job's fault), before the process exits on SIGTERM as uvicorn always does.

A second SIGTERM ends the grace at once. SIGINT (Ctrl-C) is left to uvicorn: it stops at once,
handing the running jobs back the same way. `finder worker` drains the same way on SIGTERM
(`service.cli`). Under a server other than uvicorn, or off the main thread (a TestClient),
no handler is installed; `Drain.begin` starts a drain by hand.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from types import FrameType
from typing import Any

from service.core.errors import DrainingError
from service.jobs.dispatch import Dispatcher

logger = logging.getLogger(__name__)
WAIT_POLL_S = 0.05


class Drain:
    """Whether this API process is draining; see the module docstring."""

    def __init__(self, grace_s: float, retry_after_s: int) -> None:
        self.grace_s = grace_s
        self.retry_after_s = retry_after_s
        self._started = threading.Event()
        self._over = threading.Event()

    @property
    def active(self) -> bool:
        return self._started.is_set()

    @property
    def over(self) -> bool:
        """The drain is over: the process is stopping, and long responses should end."""
        return self._over.is_set()

    def end(self) -> None:
        self._started.set()
        self._over.set()

    def begin(self) -> bool:
        """Start draining; True the first time, False when already draining."""
        first = not self._started.is_set()
        self._started.set()
        return first

    def refuse_jobs(self) -> None:
        """Raises DrainingError (503) while draining; nothing otherwise."""
        if self.active:
            raise DrainingError(
                "The service is draining: it is shutting down and takes no new jobs "
                f"(running jobs get up to FINDER_DRAIN_GRACE_S={self.grace_s:g} s to finish). "
                f"Retry after {self.retry_after_s} s; nothing was created.",
                grace_s=self.grace_s,
                retry_after_s=self.retry_after_s,
            )


class DrainOnSigterm:
    """The SIGTERM handler of an API process: drain, then hand the signal on to the handler
    it replaced (uvicorn's). `install()` is a no-op off the main thread."""

    def __init__(
        self, drain: Drain, dispatcher: Dispatcher | None, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.drain = drain
        self.dispatcher = dispatcher
        self.loop = loop
        self.previous: Any = None
        self.installed = False
        self._tasks: set[asyncio.Task[None]] = set()

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        previous = signal.getsignal(signal.SIGTERM)
        if previous == signal.SIG_IGN:
            return
        self.previous = previous
        signal.signal(signal.SIGTERM, self.handle)
        self.installed = True

    def uninstall(self) -> None:
        if self.installed and signal.getsignal(signal.SIGTERM) == self.handle:
            signal.signal(signal.SIGTERM, self.previous)
        self.installed = False

    def handle(self, signum: int, frame: FrameType | None) -> None:
        """The signal handler (main thread): only flags and a thread-safe call into the loop."""
        if not self.drain.begin():
            if self.dispatcher is not None:
                self.dispatcher.request_stop()  # a second SIGTERM: the grace ends now
            return
        grace = self.drain.grace_s if self.dispatcher is not None else 0.0
        logger.warning(
            "SIGTERM: draining (no new jobs; running jobs get up to %g s, then go back to "
            "the queue)",
            grace,
        )
        if self.dispatcher is not None:
            self.dispatcher.drain(self.drain.grace_s)
        self.loop.call_soon_threadsafe(self._start_waiting, signum, frame)

    def _start_waiting(self, signum: int, frame: FrameType | None) -> None:
        task = self.loop.create_task(self._wait_then_stop(signum, frame))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _wait_then_stop(self, signum: int, frame: FrameType | None) -> None:
        if self.dispatcher is not None:
            while not self.dispatcher.drained.is_set():
                await asyncio.sleep(WAIT_POLL_S)
        logger.warning("drained: stopping")
        self.drain.end()  # ends the /events streams, which uvicorn's shutdown waits for
        previous = self.previous
        if callable(previous):
            previous(signum, frame)  # uvicorn's handle_exit: it stops, then the lifespan's end
        else:  # SIG_DFL (or a handler set outside Python): what SIGTERM would have done
            self.uninstall()
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.raise_signal(signal.SIGTERM)
