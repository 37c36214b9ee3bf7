"""The garbage-collector policy of a serving process (a gateway, a node): keep the collector's pauses
out of the requests' tail latency, without keeping anything the default collector would free.

Used by ``rfq gateway web``, ``rfq gateway fix`` and, for the process, by the RFQ service of ``rfq
node`` and ``rfq run`` (``RfqService(tune_collector=True)``). The node's case: its service thread
holds every live RFQ, and with CPython's defaults each full collection walks them all while every
command waits. Measured in the node of bench-fix (``gc.callbacks``; 500 QuoteRequests/s, ~25,000
live RFQs, 2026-12-01): full collections of 65-104 ms and middle ones up to 12 ms, 300-600 ms of
pauses in 40 s; with the policy, young collections only, at most 3-5 ms each. In-process, a state
machine holding 25,000 five-dealer RFQs: 176,000 tracked objects, a full collection 45-55 ms.

Why: CPython's cyclic collector stops every Python thread of the process (the event loop and the
cluster thread) while it runs, and a full collection scans every tracked object. Measured in
``rfq gateway web`` by bench-gateway (its trace: ``gc.callbacks``; smoke runs, 2 shared cores, load
2.5-4) with CPython's defaults ``(700, 10, 10)``: ~170,000 tracked objects after ~6,000 creates,
~100,000 of them the code and libraries loaded at startup (functions, dicts, tuples), the rest the
mirror's and the streams' state; during 15 s of creates at 200/s, 87-95 young collections (p99
3-4 ms), 8 middle ones (7-13 ms) and a full one (115-140 ms): 80-105 ms of pauses per second; at
500/s 120-170 ms per second, full ones up to 200 ms. And none of them freed anything: the gateway
makes no cyclic garbage (its state is plain records; a request's objects die by reference counting).

The policy (:class:`CollectorPolicy`), each part measured the same way:

- ``gc.freeze()`` after every collection, once the gateway has loaded the cluster's state and after
  every resync: what survived (the code, the libraries, the state, each young collection's
  survivors) moves to the permanent generation, which no collection scans again. So only young
  collections ever run (``gc.freeze()`` also zeroes the counts that would start the older ones), each
  scanning only what was allocated since the previous one. Smoke runs, load 4.6-5.4: at 200
  creates/s 25-62 young collections in 15 s, p99 1.3-3 ms, no middle or full one: 9-10 ms of pauses
  per second instead of 82-105; at 500/s p99 3.3 ms, 52 ms per second instead of 121-171, and 414
  creates answered per second instead of 160-210 (the collector's work was the gateway's CPU).
- The young threshold stays CPython's 700: tried at 10,000 (freezing after full collections only),
  young collections were 30 times fewer but each 36-59 ms, and the middle ones 73-177 ms, at load
  9-12: pauses that long fall in the 99th percentile however rare. Freezing after full collections
  only (threshold 700) left a full collection every ~10 s at 46-56 ms and middle ones of 7-17 ms.
- Once an hour (``THAW_INTERVAL_S``) the heap is thawed and nothing is frozen until the next full
  collection has scanned it all: that bounds anything frozen that later became cyclic garbage to
  one hour's worth, at the cost of one full scan an hour (115-300 ms at 170,000-270,000 objects on
  this machine, the default collector's every ~10 s).

Frozen objects are still freed by reference counting the moment their last reference goes (an RFQ
the mirror drops, a stream entry that falls out of its window: the frozen count falls as they go):
only *cyclic* garbage among them waits for the hourly scan, and the gateway makes none: no
collection of any generation freed anything in any bench-gateway run, default or not (its GC table
reports it per run, so a change that starts making cycles shows there). Memory: the gateway's RSS
grows with the RFQs it keeps (the bench's live an hour), +5-8 MB per ~3,000 as with the defaults, and
is flat over runs that keep none (GET /v1/me).
"""

from __future__ import annotations

import gc
import logging
import time
from typing import Any

log = logging.getLogger(__name__)

FULL = 2
"""The oldest generation's number: a full collection."""
YOUNG_THRESHOLD = 700
"""Net new tracked objects between young collections (CPython's default)."""
FREEZE_AFTER = 0
"""Freeze after every collection of this generation or older (0: every collection)."""
THAW_INTERVAL_S = 3_600.0
"""At most this long between full scans of the whole heap: the bound on anything frozen that
became cyclic garbage."""


class CollectorPolicy:
    """Freeze the heap once the state is loaded, after each resync and after collections; thaw it for
    one full collection every ``thaw_interval_s``.

    :meth:`install` once in the process's serving thread (it is process-wide: one per process, as
    ``gc`` is); :meth:`state_loaded` whenever the gateway has (re)loaded the cluster's state;
    :meth:`uninstall` when the gateway stops (it thaws the heap: a process that goes on, a test run,
    collects as by default)."""

    def __init__(
        self,
        young_threshold: int = YOUNG_THRESHOLD,
        freeze_after: int = FREEZE_AFTER,
        thaw_interval_s: float = THAW_INTERVAL_S,
    ) -> None:
        self.young_threshold = young_threshold
        self.freeze_after = freeze_after
        self.thaw_interval_s = thaw_interval_s
        self.freezes = 0
        """How many times the heap was frozen (for logs and tests)."""
        self.thaws = 0
        self._installed = False
        self._thresholds = gc.get_threshold()
        self._thawed_at = time.monotonic()
        self._thawed = False
        """True from a thaw to the end of the next full collection: nothing is frozen meanwhile."""

    def install(self) -> None:
        if self._installed:
            return
        self._thresholds = gc.get_threshold()
        gc.set_threshold(self.young_threshold, *self._thresholds[1:])
        gc.callbacks.append(self._collected)
        self._thawed_at = time.monotonic()
        self._installed = True

    def uninstall(self) -> None:
        if not self._installed:
            return
        gc.callbacks.remove(self._collected)
        gc.set_threshold(*self._thresholds)
        gc.unfreeze()
        self._installed = False

    def state_loaded(self, event: str) -> None:
        """The process has loaded (``state_loaded``) or reloaded (``resync``) its state (a gateway: the
        cluster's; a node: its snapshot): freeze what is alive now."""
        if not self._installed or self._thawed:
            return
        self._freeze()
        log.info(
            "collector: heap frozen after %s (%d objects frozen)",
            event.replace("_", " "),
            gc.get_freeze_count(),
            extra={"event": "gc_freeze", "frozen": gc.get_freeze_count()},
        )

    def _collected(self, phase: str, info: dict[str, Any]) -> None:
        # called by the collector, in whatever thread it ran, with the GIL held; gc.freeze() and
        # gc.unfreeze() are list splices, O(1)
        if phase != "stop":
            return
        generation = info["generation"]
        if self._thawed:
            if generation == FULL:  # the whole heap was scanned: freeze again from now on
                self._thawed = False
                self._freeze()
            return
        if time.monotonic() - self._thawed_at > self.thaw_interval_s:
            gc.unfreeze()  # the next full collection scans everything once
            self._thawed, self._thawed_at = True, time.monotonic()
            self.thaws += 1
        elif generation >= self.freeze_after:
            self._freeze()

    def _freeze(self) -> None:
        gc.freeze()
        self.freezes += 1
