"""The finished-job cache: keyed by owner, bounded by entries and bytes."""

from __future__ import annotations

from service.store.cache import FinishedJobCache


def test_entries_are_per_owner() -> None:
    cache = FinishedJobCache(max_entries=4, max_bytes=1024)
    cache.put("alice", "job", b"{}")
    assert cache.get("alice", "job") == b"{}"
    assert cache.get("bob", "job") is None


def test_least_recently_used_is_evicted_first() -> None:
    cache = FinishedJobCache(max_entries=2, max_bytes=1024)
    cache.put("o", "a", b"1")
    cache.put("o", "b", b"2")
    assert cache.get("o", "a") == b"1"  # a is now the most recent
    cache.put("o", "c", b"3")
    assert (cache.get("o", "a"), cache.get("o", "b"), cache.get("o", "c")) == (b"1", None, b"3")


def test_byte_cap_and_zero_size() -> None:
    cache = FinishedJobCache(max_entries=10, max_bytes=10)
    cache.put("o", "big", b"x" * 11)  # larger than the whole cache: never kept
    cache.put("o", "a", b"x" * 6)
    cache.put("o", "b", b"x" * 6)  # 12 bytes > 10: a goes
    assert (cache.get("o", "big"), cache.get("o", "a"), len(cache)) == (None, None, 1)
    off = FinishedJobCache(max_entries=0, max_bytes=10)
    off.put("o", "a", b"1")
    assert len(off) == 0
