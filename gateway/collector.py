"""The garbage-collector policy of a gateway process: keep the collector's pauses out of the
requests' tail latency, without keeping anything the default collector would free.

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

- ``gc.freeze()`` once the gateway has loaded the cluster's state, after every resync, and after
  every full collection: what is alive then (the code, the libraries, the state) moves to the
  permanent generation, which no collection scans again, so a full collection scans only what was
  promoted since the previous one (115-200 ms → 46-56 ms, alone);
- young collections every 10,000 net new tracked objects instead of 700: most of a request's objects
  are freed by reference counting before one runs, so far fewer survive to be scanned again and
  promoted (at 200 creates/s: 4 young collections in 15 s instead of 95, no middle or full one;
  pauses 9 ms per second instead of 82; at 500/s 54 instead of 121). Each young collection is longer
  (~9 ms at 200/s on this machine) but rare enough to stay out of the 99th percentile.

Frozen objects are still freed by reference counting the moment their last reference goes (an RFQ
the mirror drops, a stream entry that falls out of its window: the frozen count falls as they go):
only *cyclic* garbage among them would be kept, and the gateway makes none. bench-gateway's GC table
reports the objects each run's collections freed and the frozen count after each full collection, so
a change that starts making cycles shows there. Memory stays as with the defaults (RSS +5-7 MB per
~3,000 RFQs kept, the same with or without the policy; flat over runs that keep none).
"""

from __future__ import annotations

import gc
import logging
from typing import Any

log = logging.getLogger(__name__)

FULL = 2
"""The oldest generation's number: a full collection."""
YOUNG_THRESHOLD = 10_000
"""Net new tracked objects between young collections (CPython's default: 700)."""


class CollectorPolicy:
    """Freeze the heap once the state is loaded, after each resync and after each full collection.

    :meth:`install` once in the process's serving thread (it is process-wide: one per process, as
    ``gc`` is); :meth:`state_loaded` whenever the gateway has (re)loaded the cluster's state;
    :meth:`uninstall` when the gateway stops (it thaws the heap: a process that goes on, a test run,
    collects as by default)."""

    def __init__(self, young_threshold: int = YOUNG_THRESHOLD) -> None:
        self.young_threshold = young_threshold
        self.freezes = 0
        """How many times the heap was frozen (for logs and tests)."""
        self._installed = False
        self._thresholds = gc.get_threshold()

    def install(self) -> None:
        if self._installed:
            return
        self._thresholds = gc.get_threshold()
        gc.set_threshold(self.young_threshold, *self._thresholds[1:])
        gc.callbacks.append(self._collected)
        self._installed = True

    def uninstall(self) -> None:
        if not self._installed:
            return
        gc.callbacks.remove(self._collected)
        gc.set_threshold(*self._thresholds)
        gc.unfreeze()
        self._installed = False

    def state_loaded(self, event: str) -> None:
        """The gateway has loaded (``state_loaded``) or reloaded (``resync``) the cluster's state:
        freeze what is alive now."""
        if not self._installed:
            return
        self._freeze()
        log.info(
            "collector: heap frozen after %s (%d objects frozen)",
            event.replace("_", " "),
            gc.get_freeze_count(),
            extra={"event": "gc_freeze", "frozen": gc.get_freeze_count()},
        )

    def _collected(self, phase: str, info: dict[str, Any]) -> None:
        # called by the collector, in whatever thread it ran, with the GIL held: after a full
        # collection its survivors are moved to the permanent generation (cheap: list splices)
        if phase == "stop" and info["generation"] == FULL:
            self._freeze()

    def _freeze(self) -> None:
        gc.freeze()
        self.freezes += 1
