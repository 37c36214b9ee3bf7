"""CUSIP check digits, and the in-memory timer port's ordering."""

from __future__ import annotations

import pytest

from rfq.cluster.domain import InMemoryTimers
from rfq.cluster.domain.cusip import check_digit, is_valid_cusip

# Published CUSIPs: Apple, Alphabet (class A), Microsoft, JPMorgan, a US Treasury note, Cisco.
KNOWN = ["037833100", "38259P508", "594918104", "46625H100", "912828U24", "17275R102"]


@pytest.mark.parametrize("cusip", KNOWN)
def test_published_cusips_are_valid(cusip: str) -> None:
    assert is_valid_cusip(cusip)
    assert check_digit(cusip[:8]) == int(cusip[8])


@pytest.mark.parametrize("cusip", KNOWN)
def test_every_other_check_digit_is_refused(cusip: str) -> None:
    for digit in "0123456789":
        if digit != cusip[8]:
            assert not is_valid_cusip(cusip[:8] + digit)


@pytest.mark.parametrize(
    "cusip",
    ["", "03783310", "0378331000", "03783310A", "o37833100", "38259p508", "0378\u00b3100", "0378 3100"],
)
def test_malformed_cusips_are_refused(cusip: str) -> None:
    assert not is_valid_cusip(cusip)


def test_special_characters_have_values() -> None:
    assert check_digit("ABC*@#12") == check_digit("ABC*@#12")
    assert is_valid_cusip("ABC*@#12" + str(check_digit("ABC*@#12")))
    with pytest.raises(ValueError, match="8 characters"):
        check_digit("1234567")


def test_timers_come_due_by_deadline_then_id() -> None:
    timers = InMemoryTimers()
    timers.schedule(3, 100)
    timers.schedule(1, 200)
    timers.schedule(2, 100)
    timers.schedule(4, 50)
    timers.cancel(4)
    timers.schedule(5, 300)
    timers.schedule(5, 150)  # re-scheduling replaces the deadline
    assert timers.next_deadline() == 100
    assert timers.pop_due(99) == []
    assert timers.pop_due(150) == [(2, 100), (3, 100), (5, 150)]
    assert timers.pending() == {1: 200}
    assert len(timers) == 1
    timers.cancel(1)
    timers.cancel(42)
    assert timers.next_deadline() is None
    assert timers.pop_due(10**9) == []
