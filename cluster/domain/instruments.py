"""Instruments: the securities RFQs may be asked on, keyed by a cluster-assigned int32 id.

The cluster knows an instrument by its id, its CUSIP (only to refuse a second instrument for the same
security), its minimum quantity and whether it is enabled. Gateways map CUSIPs and descriptions to ids
from the ``InstrumentAdded`` events.
"""

from __future__ import annotations

from collections.abc import Iterator

FIRST_INSTRUMENT_ID = 1


class Instrument:
    """One instrument. Mutable only through ``InstrumentBook`` (``enabled``)."""

    __slots__ = ("cusip", "enabled", "instrument_id", "min_quantity")

    def __init__(self, instrument_id: int, cusip: str, min_quantity: int, enabled: bool) -> None:
        self.instrument_id = instrument_id
        self.cusip = cusip
        self.min_quantity = min_quantity
        self.enabled = enabled

    def __repr__(self) -> str:
        return (
            f"Instrument(instrument_id={self.instrument_id}, cusip={self.cusip!r}, "
            f"min_quantity={self.min_quantity}, enabled={self.enabled})"
        )


class InstrumentBook:
    """Every instrument ever added (instruments are never removed), by id and by CUSIP.

    ``next_instrument_id`` is the id sequence: ids are assigned 1, 2, 3... in apply order, so every
    replica assigns the same id to the same command.
    """

    __slots__ = ("_by_cusip", "_by_id", "next_instrument_id")

    def __init__(self) -> None:
        self._by_id: dict[int, Instrument] = {}
        self._by_cusip: dict[str, Instrument] = {}
        self.next_instrument_id = FIRST_INSTRUMENT_ID

    def get(self, instrument_id: int) -> Instrument | None:
        return self._by_id.get(instrument_id)

    def has_cusip(self, cusip: str) -> bool:
        return cusip in self._by_cusip

    def add(self, cusip: str, min_quantity: int, enabled: bool) -> Instrument:
        """Add a new instrument with the next id. The caller has validated the CUSIP and its uniqueness."""
        instrument = Instrument(self.next_instrument_id, cusip, min_quantity, enabled)
        self.next_instrument_id += 1
        self.put(instrument)
        return instrument

    def put(self, instrument: Instrument) -> None:
        """Insert an instrument as it is (restore); the id sequence is restored separately."""
        self._by_id[instrument.instrument_id] = instrument
        self._by_cusip[instrument.cusip] = instrument

    def __iter__(self) -> Iterator[Instrument]:
        """Instruments in ascending id order (a deterministic snapshot order)."""
        for instrument_id in sorted(self._by_id):
            yield self._by_id[instrument_id]

    def __len__(self) -> int:
        return len(self._by_id)
