"""The process's JVM is never stopped by a Python collection (``rfq.jvm._unhook_jpype_collector``).

JPype hooks ``gc.callbacks`` and, when malloc'd memory grew past its limit between two Python
collections, runs ``System.gc()``: a full, stop-the-world collection of the whole JVM, Aeron agents
included. The control half re-installs the hook for the rest of the test to show that the same growth would
have triggered it, so the first half cannot pass by allocating too little."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.integration

_GROWTH_BYTES = 64 * 1024 * 1024
_CHUNK_BYTES = 1024
"""Above pymalloc's 512-byte limit and below malloc's mmap threshold: counted by ``mallinfo``."""


def _full_collections() -> int:
    """Full (stop-the-world, whole-heap) collections the JVM has run: G1's "old generation" bean."""
    from rfq.jvm import jclass

    beans = jclass("java.lang.management.ManagementFactory").getGarbageCollectorMXBeans()
    return sum(int(bean.getCollectionCount()) for bean in beans if "Old" in str(bean.getName()))


def _grow_malloc_heap() -> list[bytes]:
    return [bytes(_CHUNK_BYTES) for _ in range(_GROWTH_BYTES // _CHUNK_BYTES)]


@pytest.fixture
def jpype_hook(jvm: None) -> Iterator[Any]:
    import _jpype

    from rfq.jvm import _unhook_jpype_collector

    yield _jpype._collect
    _unhook_jpype_collector()


def test_python_collections_do_not_collect_the_java_heap(jpype_hook: Any) -> None:
    assert jpype_hook not in gc.callbacks

    before = _full_collections()
    kept = _grow_malloc_heap()
    gc.collect()
    assert _full_collections() == before

    gc.callbacks.append(jpype_hook)
    gc.collect()  # the hook notes where the heap is now
    kept.extend(_grow_malloc_heap())
    gc.collect()
    assert _full_collections() > before, "the control: JPype's own hook collects after this growth"
    del kept
