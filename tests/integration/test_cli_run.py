"""`rfq run` (what `make run` starts): the platform comes up with the demo loaded through the web
gateway, answers /readyz, prints what a newcomer needs, and stops cleanly on Ctrl-C; a second run on
the same base dir has the same users and tokens, and its commands never collide with the first's.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from rfq.testing import Platform, start_platform

pytestmark = pytest.mark.integration


def demo_lines(platform: Platform) -> list[str]:
    return [line.removeprefix("rfq: demo: ") for line in platform.lines if line.startswith("rfq: demo: ")]


def test_rfq_run_loads_the_demo_through_the_gateway_and_stops_cleanly_on_sigint() -> None:
    platform = start_platform(None)
    try:
        output = platform.output()
        assert platform.ready_after_s < 60, output
        assert httpx.get(f"{platform.url}/readyz").json()["ready"] is True
        demo = demo_lines(platform)
        assert [line for line in demo if line.startswith("user ")] == [
            "user 1: ops (operator)",
            "user 101: alice (trader)",
            "user 201: dealer-a (dealer)",
            "user 202: dealer-b (dealer)",
            "user 203: dealer-c (dealer)",
        ]
        assert sum(line.startswith("instrument ") for line in demo) == 6, output
        assert "instrument 1: 912828YK0 US Treasury note, min 1,000,000" in demo
        # the traded RFQ: three dealers asked, two quote (one twice), one passes, a counter, then the hit
        assert (
            "rfq 1: alice asks dealer-a, dealer-b, dealer-c for a price to buy 5,000,000 912828YK0, "
            "open for 10 minutes"
        ) in demo
        assert "rfq 1: dealer-a quotes 99.53125 (quote 1)" in demo
        assert "rfq 1: dealer-b quotes 99.515625 (quote 2)" in demo
        assert "rfq 1: dealer-a quotes 99.5 again, replacing quote 1 (quote 3)" in demo
        assert "rfq 1: dealer-c passes" in demo
        assert "rfq 1: alice counters dealer-a's 99.5 with 99.484375 (counter 4)" in demo
        assert (
            "rfq 1: alice hits dealer-a's 99.5: trade 1, alice buys 5,000,000 912828YK0 from dealer-a "
            "at 99.5 (cover 99.515625)"
        ) in demo
        # the live one and the open one
        assert "rfq 2: alice counters dealer-b's 101.25 with 101.4 (counter 7)" in demo
        assert demo[-1].startswith("rfq 3: alice asks dealer-a, dealer-b, dealer-c for a price to buy"), (
            output
        )
        assert not any("demo stopped" in line or "skipped" in line for line in demo), output

        # what a newcomer gets: the URLs, one export line per user, FIX logins, a first curl
        assert f"web gateway  {platform.url}" in output and f"{platform.url}/docs" in output
        assert set(platform.tokens) == {"ops", "alice", "dealer-a", "dealer-b", "dealer-c"}
        assert "# dealer-b: dealer 202; FIX DEALER-B / dealer-b-fix" in output
        assert '  curl -s "$RFQ_URL/v1/rfqs" -H "Authorization: Bearer $RFQ_TOKEN"' in platform.lines
        for name, token in platform.tokens.items():
            me = httpx.get(f"{platform.url}/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
            assert me["name"] == name
        ops = {"Authorization": f"Bearer {platform.tokens['ops']}"}
        statuses = [rfq["status"] for rfq in httpx.get(f"{platform.url}/v1/rfqs", headers=ops).json()]
        assert statuses == ["traded", "live", "live"]
        base_dir = Path(
            next(line for line in platform.lines if line.startswith("rfq: log and archive in "))[24:]
        )
        assert (base_dir / "demo-tokens.json").stat().st_mode & 0o077 == 0
    finally:
        code = platform.stop()
    assert code == 0, platform.output()
    assert platform.lines[-1] == "rfq: stopped"
    assert not platform.leftovers()
    assert not base_dir.exists(), "the temporary base folder outlived the run"


def test_a_second_run_keeps_users_and_tokens_and_its_commands_never_collide(tmp_path: Path) -> None:
    base_dir = tmp_path / "run"
    first = start_platform(base_dir)
    try:
        assert any("trade 1" in line for line in demo_lines(first)), first.output()
        alice = {"Authorization": f"Bearer {first.tokens['alice']}"}
        for rfq in httpx.get(f"{first.url}/v1/rfqs", params={"status": "live"}, headers=alice).json():
            cancelled = httpx.post(f"{first.url}/v1/rfqs/{rfq['rfq_id']}/cancel", headers=alice)
            assert cancelled.status_code == 200, cancelled.text
    finally:
        assert first.stop() == 0, first.output()

    # alice has no live RFQ left: the second run negotiates the demo again, with commands from a new
    # gateway epoch (an id of the first run would be refused as CORRELATION_ID_REUSED, or answered
    # with the first run's outcome)
    second = start_platform(base_dir)
    try:
        demo = demo_lines(second)
        output = second.output()
        assert second.tokens == first.tokens, "the same demo users print the same tokens"
        assert not any(line.startswith("user ") for line in demo), output  # they were there already
        assert sum(line.endswith(" is there already") for line in demo) == 6, output
        assert (
            "rfq 4: alice asks dealer-a, dealer-b, dealer-c for a price to buy 5,000,000 912828YK0, "
            in output
        )
        assert any(re.match(r"rfq 4: alice hits dealer-a's 99.5: trade 2,", line) for line in demo), output
        assert demo[-1].startswith("rfq 6: alice asks"), output
        assert not any("demo stopped" in line or "refused" in line for line in demo), output
    finally:
        assert second.stop() == 0, second.output()

    # a third run while alice's RFQs are live skips them, and still claims nothing
    third = start_platform(base_dir)
    try:
        assert demo_lines(third)[-1] == "demo RFQs skipped: alice has 2 live RFQs already", third.output()
    finally:
        assert third.stop() == 0, third.output()
    assert base_dir.is_dir() and not (third.leftovers() or second.leftovers()), "a given base folder is kept"
