"""The README's walk-through, run exactly as written, against ``rfq run`` (what ``make run`` starts).

The fenced ``sh`` blocks that follow a ``<!-- walkthrough -->`` marker in README.md are run, as they
are, by one bash process with the environment a reader has after following the README's instructions:
the virtualenv's ``bin`` on PATH, and ``RFQ_URL`` and ``RFQ_TOKEN`` as the ``export`` lines that
``rfq run`` printed for the operator set them (here: this test's free ports). Then the outputs are
checked: the bonds, the event stream's event types in order, the trade, and the operator's view.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from rfq.testing import PROJECT, start_platform

pytestmark = pytest.mark.integration

MARKER = "<!-- walkthrough -->"


def walkthrough_blocks(readme: str) -> list[str]:
    """The ``sh`` blocks right after each walk-through marker."""
    blocks = re.findall(re.escape(MARKER) + r"\s*\n```sh\n(.*?)\n```", readme, flags=re.DOTALL)
    assert blocks, f"no ```sh block after {MARKER} in README.md"
    return blocks


def test_the_readme_walkthrough_runs_as_written(tmp_path: Path) -> None:
    script = "\n".join(walkthrough_blocks((PROJECT / "README.md").read_text(encoding="utf-8")))
    platform = start_platform(tmp_path / "run")
    try:
        assert platform.ready_after_s < 60, platform.output()
        ops_export = next(
            line.split()[1] for line in platform.lines if line.strip().endswith("# ops: operator 1")
        )
        assert ops_export == f"RFQ_TOKEN={platform.tokens['ops']}"  # what the reader pastes
        done = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", script],
            cwd=PROJECT,
            env=platform.env(platform.tokens["ops"]),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        code = platform.stop()
    assert code == 0, platform.output()
    assert not platform.leftovers()
    out = done.stdout
    assert done.returncode == 0, f"stdout:\n{out}\nstderr:\n{done.stderr}"

    assert re.search(r"^1\s+912828YK0\s+1,000,000\s+enabled\s+US Treasury note$", out, re.MULTILINE), out
    assert "a new token for alice (trader, user 101)" in done.stderr
    events = [line for line in out.splitlines() if line.startswith("event:")]
    assert events == ["event: snapshot", "event: rfq_created", "event: quote_submitted", "event: rfq_traded"]
    trade = re.search(
        r'^\{"trade_id":\d+,"price":"99.75","quantity":2000000,"buyer":"alice","seller":"dealer-a"\}$',
        out,
        re.MULTILINE,
    )
    assert trade, out
    rfq_id = re.findall(r"^rfq (\d+): live; alice asks to buy 2,000,000 912828YK0", out, re.MULTILINE)
    assert len(rfq_id) == 1, out
    assert f"rfq {rfq_id[0]}: traded; alice asks to buy 2,000,000 912828YK0" in out
    assert re.search(r"trade \d+ \(quote hit\): alice buys 2,000,000 from dealer-a at 99.75", out), out
    assert re.search(r"^dealer-a\s+quoted$", out, re.MULTILINE) and re.search(
        r"^dealer-b\s+invited$", out, re.M
    )
