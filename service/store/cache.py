"""An in-process LRU of finished jobs' JSON documents.

A job's row never changes once the job has ended, so `GET /jobs/{id}` of a finished job (what a
dashboard polls) can answer from memory. Entries are keyed by owner and id, so a hit still
needs the caller's key; each API process has its own cache. A job deleted (`DELETE /jobs/{id}`,
or the retention sweep) is dropped from the cache of the API process that deleted it; another
API process may answer it from its own cache until that entry is evicted.
"""

from __future__ import annotations

import threading
from collections import OrderedDict


class FinishedJobCache:
    """The JSON documents of up to `max_entries` (and `max_bytes`) finished jobs."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, owner: str, job_id: str) -> bytes | None:
        with self._lock:
            document = self._entries.get((owner, job_id))
            if document is not None:
                self._entries.move_to_end((owner, job_id))
            return document

    def put(self, owner: str, job_id: str, document: bytes) -> None:
        if self.max_entries == 0 or len(document) > self.max_bytes:
            return
        with self._lock:
            previous = self._entries.pop((owner, job_id), None)
            self._bytes -= len(previous) if previous is not None else 0
            self._entries[(owner, job_id)] = document
            self._bytes += len(document)
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= len(evicted)

    def discard(self, owner: str, job_id: str) -> None:
        """Forget a job (deleted)."""
        with self._lock:
            document = self._entries.pop((owner, job_id), None)
            self._bytes -= len(document) if document is not None else 0

    def discard_ids(self, job_ids: set[str]) -> None:
        """Forget these jobs, whoever owns them (swept)."""
        with self._lock:
            for entry in [entry for entry in self._entries if entry[1] in job_ids]:
                self._bytes -= len(self._entries.pop(entry))

    def __len__(self) -> int:
        return len(self._entries)
