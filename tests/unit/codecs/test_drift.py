"""The checked-in codecs are exactly what `make codecs` generates from schema/rfq.xml."""

from __future__ import annotations

import difflib
from pathlib import Path

from rfq.codecs.generator import generate

ROOT = Path(__file__).resolve().parents[3]


def test_checked_in_codecs_match_the_schema(tmp_path: Path) -> None:
    fresh = tmp_path / "rfq_sbe.py"
    fresh.write_text(generate(ROOT / "schema" / "rfq.xml", "schema/rfq.xml"), encoding="utf-8")
    checked_in = (ROOT / "codecs" / "rfq_sbe.py").read_text(encoding="utf-8")
    generated = fresh.read_text(encoding="utf-8")
    if checked_in != generated:
        diff = "".join(
            difflib.unified_diff(
                checked_in.splitlines(keepends=True),
                generated.splitlines(keepends=True),
                "codecs/rfq_sbe.py (checked in)",
                "generated now",
                n=2,
            )
        )
        raise AssertionError(f"codecs/rfq_sbe.py is stale: run `make codecs`\n{diff[:4000]}")


def test_generation_is_deterministic() -> None:
    schema = ROOT / "schema" / "rfq.xml"
    assert generate(schema, "x") == generate(schema, "x")
