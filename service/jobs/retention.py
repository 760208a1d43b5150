"""The retention sweep: a thread of the API process that deletes what is past
`FINDER_RETENTION_S` (finished jobs with their rows and files, uploads no job names) and
idempotency keys past their lifetime, every `FINDER_SWEEP_INTERVAL_S`.

Every API process sweeps; the deletes are conditional and the file removals tolerate a file
already gone, so several processes sweeping at once do no harm.
"""

from __future__ import annotations

import logging
import shutil
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine

from service.core.config import Settings
from service.core.db import Upload, utcnow
from service.store import retention
from service.store.cache import FinishedJobCache
from service.store.sessions import transaction

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Swept:
    """What one retention sweep removed."""

    job_ids: list[str]
    uploads: list[Upload]
    keys: int


def sweep(settings: Settings, engine: Engine, cache: FinishedJobCache | None = None) -> Swept:
    """One sweep: the rows (`service.store.retention`), then the files, then this process's
    cache. The uploads go in a transaction of their own, which the `submissions` lock starts."""
    now = utcnow()
    cutoff = now - timedelta(seconds=settings.retention_s)
    with transaction(engine) as session:
        job_ids = retention.remove_finished_jobs(session, cutoff)
        keys = retention.remove_expired_keys(
            session, now - timedelta(seconds=settings.idempotency_ttl_s)
        )
    with transaction(engine) as session:
        uploads = retention.remove_unused_uploads(session, cutoff)
    swept = Swept(job_ids=job_ids, uploads=uploads, keys=keys)
    for job_id in swept.job_ids:
        shutil.rmtree(settings.results_dir / job_id, ignore_errors=True)
    for upload in swept.uploads:
        Path(upload.path).unlink(missing_ok=True)
    if cache is not None and swept.job_ids:
        cache.discard_ids(set(swept.job_ids))
    if swept.job_ids or swept.uploads:
        logger.info(
            "retention sweep removed %d jobs and %d uploads",
            len(swept.job_ids),
            len(swept.uploads),
        )
    return swept


class Sweeper:
    """Runs `sweep` at start-up and then every `settings.sweep_interval_s` on a daemon
    thread, until `stop()`."""

    def __init__(self, settings: Settings, engine: Engine, cache: FinishedJobCache) -> None:
        self.settings = settings
        self.engine = engine
        self.cache = cache
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.loop, name="retention-sweep", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def loop(self) -> None:
        while not self._stop.is_set():
            try:
                sweep(self.settings, self.engine, self.cache)
            except Exception:  # A database hiccup must not end the loop; the next one retries.
                logger.exception("retention sweep failed")
            self._stop.wait(self.settings.sweep_interval_s)
