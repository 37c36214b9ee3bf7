"""The pure RFQ domain: a deterministic multi-dealer RFQ state machine with no I/O.

It imports only the standard library and the generated codec's value types (``rfq.codecs``); no Aeron,
JVM, HTTP, FIX, clock or randomness (``tests/unit/test_layering.py`` checks). The Aeron adapter decodes
a command, calls ``StateMachine.apply``, then encodes and sends the ``Outcome``'s events to its audience;
gateways forward each event to the users ``recipients`` names. The contract is docs/state-machine.md.

Modules: ``state_machine`` (the rules), ``rfqs`` (RFQ and dealer standing, the book), ``instruments``,
``cusip``, ``dedupe`` (exactly-once window), ``outcome`` (events + audience), ``routing`` (who may
see an event), ``timers`` (the timer port), ``snapshot`` (records out and in), ``messages`` (the wire
types grouped).
"""

from rfq.cluster.domain.dedupe import (
    DEFAULT_DEDUPE_CAPACITY,
    DedupeWindow,
    command_digest,
    command_key,
    key_digest,
)
from rfq.cluster.domain.messages import Command, Event, Reply, SnapshotRecord, StateRecord
from rfq.cluster.domain.outcome import Audience, Outcome
from rfq.cluster.domain.rfqs import DEFAULT_ENDED_CAPACITY, MAX_DEALERS
from rfq.cluster.domain.routing import EVERYONE, Recipients, recipients
from rfq.cluster.domain.snapshot import SnapshotError
from rfq.cluster.domain.state_machine import StateMachine
from rfq.cluster.domain.timers import InMemoryTimers, NullTimers, TimerPort

__all__ = [
    "DEFAULT_DEDUPE_CAPACITY",
    "DEFAULT_ENDED_CAPACITY",
    "EVERYONE",
    "MAX_DEALERS",
    "Audience",
    "Command",
    "DedupeWindow",
    "Event",
    "InMemoryTimers",
    "NullTimers",
    "Outcome",
    "Recipients",
    "Reply",
    "SnapshotError",
    "SnapshotRecord",
    "StateMachine",
    "StateRecord",
    "TimerPort",
    "command_digest",
    "command_key",
    "key_digest",
    "recipients",
]
