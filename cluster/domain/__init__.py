"""The pure RFQ domain: a deterministic state machine with no I/O.

It imports only the standard library and the generated codec's value types (``rfq.codecs``); no Aeron,
JVM, HTTP, FIX, clock or randomness (``tests/unit/test_layering.py`` checks). The Aeron adapter decodes
a command, calls ``StateMachine.apply``, then encodes and sends the ``Outcome``'s events to its audience.

Modules: ``state_machine`` (the rules), ``rfqs`` (RFQ entity, lifecycle, book), ``instruments``,
``cusip``, ``dedupe`` (exactly-once window), ``outcome`` (events + audience), ``timers`` (the timer
port), ``snapshot`` (records out and in), ``messages`` (the wire types grouped).
"""

from rfq.cluster.domain.dedupe import DEFAULT_DEDUPE_CAPACITY, DedupeWindow
from rfq.cluster.domain.messages import Command, Event, SnapshotRecord
from rfq.cluster.domain.outcome import Audience, Outcome
from rfq.cluster.domain.rfqs import ACTIVE_STATES, TERMINAL_STATES, TRANSITIONS
from rfq.cluster.domain.snapshot import SnapshotError
from rfq.cluster.domain.state_machine import StateMachine
from rfq.cluster.domain.timers import InMemoryTimers, NullTimers, TimerPort

__all__ = [
    "ACTIVE_STATES",
    "DEFAULT_DEDUPE_CAPACITY",
    "TERMINAL_STATES",
    "TRANSITIONS",
    "Audience",
    "Command",
    "DedupeWindow",
    "Event",
    "InMemoryTimers",
    "NullTimers",
    "Outcome",
    "SnapshotError",
    "SnapshotRecord",
    "StateMachine",
    "TimerPort",
]
