"""What applying one command produced, and who must hear it.

Every command gets exactly one ``Outcome``:
- a change of state → its events, ``Audience.BROADCAST``: the adapter sends them to every gateway
  session; each event is addressed (``routing.recipients``) and a gateway forwards it to those users only;
- a ``QueryState`` → the state records and a closing ``StateQueried``, ``Audience.SENDER``;
- a refusal → one ``CommandRejected``, ``Audience.SENDER``: only the session that sent the command;
- a duplicate (a correlation id already applied) → the original events again, ``Audience.SENDER`` and
  ``duplicate=True``: the resending gateway gets its answer, nobody else hears the change twice.
"""

from __future__ import annotations

import enum

from rfq.cluster.domain.messages import Reply
from rfq.codecs.rfq_sbe import CommandRejected


class Audience(enum.Enum):
    """Which gateway sessions an outcome's events go to."""

    BROADCAST = "broadcast"
    """Every connected gateway session."""
    SENDER = "sender"
    """Only the session whose command produced (or re-asked for) the outcome."""


class Outcome:
    """The events one command produced (never empty), their audience, and whether it was a duplicate.

    A plain slotted class rather than a NamedTuple: one is made per command, and a NamedTuple's
    Python-level ``__new__`` costs a measurable share of ``apply``.
    """

    __slots__ = ("audience", "duplicate", "events")

    def __init__(self, events: tuple[Reply, ...], audience: Audience, duplicate: bool = False) -> None:
        self.events = events
        self.audience = audience
        self.duplicate = duplicate

    @property
    def refused(self) -> bool:
        """True when the command was refused (its only event is a ``CommandRejected``)."""
        return type(self.events[0]) is CommandRejected

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Outcome):
            return NotImplemented
        return (self.events, self.audience, self.duplicate) == (other.events, other.audience, other.duplicate)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Outcome(events={self.events!r}, audience={self.audience}, duplicate={self.duplicate})"
