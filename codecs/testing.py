"""Test support for anything that speaks the wire: hypothesis strategies and on-the-fly generation.

Why in the package: the codec tests, the interop tests and the state machine's property tests all
need "any valid message" and sometimes a codec module generated from a test-only schema. The
strategies are derived from the ``_SPEC`` every generated value class carries (the same table the
encoder's error diagnosis uses), so they stay in step with the schema without a second description.
Needs the dev dependency ``hypothesis``; nothing in the production code imports this module.
"""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from hypothesis import strategies as st

from .generator import generate
from .runtime import Spec

__all__ = ["load_generated", "message_strategy", "messages", "random_message"]

_DATA_CAP = 64
_GROUP_CAP = 4


def _text(length: int, encoding: str) -> st.SearchStrategy[str]:
    """Strings that fit a char array of ``length`` bytes: no NUL (it ends a char array on the wire)."""
    if encoding == "ascii":
        return st.text(st.characters(min_codepoint=1, max_codepoint=127), max_size=length)
    chars = st.characters(codec="utf-8", exclude_characters="\x00")
    return st.text(chars, max_size=length).filter(lambda s: len(s.encode(encoding)) <= length)


def _value(spec: Spec) -> st.SearchStrategy[Any]:
    kind = spec.kind
    if kind == "int":
        return st.integers(int(spec.lo), int(spec.hi))
    if kind == "float":
        width: Literal[32, 64] = 32 if spec.hi <= 3.5e38 else 64
        return st.floats(spec.lo, spec.hi, allow_nan=False, allow_infinity=False, width=width)
    if kind == "str":
        length, encoding = spec.extra
        return _text(length, encoding)
    if kind == "enum":
        return st.sampled_from(list(spec.extra))
    if kind == "set":
        mask = int(spec.hi)
        return st.integers(0, mask).map(lambda v: spec.extra(v & mask))
    if kind == "composite":
        return message_strategy(spec.extra)
    if kind == "group":
        entry = message_strategy(spec.extra)
        return st.lists(
            entry, min_size=int(spec.lo), max_size=max(int(spec.lo), min(int(spec.hi), _GROUP_CAP))
        )
    if kind == "data":
        most = min(int(spec.hi), _DATA_CAP)
        if spec.extra is None:
            return st.binary(max_size=most)
        return _text(most, spec.extra)
    raise ValueError(f"unknown spec kind {kind!r}")


def message_strategy(cls: type[Any]) -> st.SearchStrategy[Any]:
    """Any valid instance of a generated value class (message, group entry or composite)."""
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for spec in cls._SPEC:
        strategy = _value(spec)
        fields[spec.attr] = st.none() | strategy if spec.optional else strategy
    return st.builds(cls, **fields)


def messages(module: ModuleType) -> st.SearchStrategy[Any]:
    """Any valid message of a generated codec module (e.g. ``rfq.codecs.rfq_sbe``)."""
    return st.one_of([message_strategy(cls) for cls in module.MESSAGE_TYPES.values()])


def _random_value(spec: Spec, rng: random.Random) -> Any:
    kind = spec.kind
    if kind == "int":
        return rng.choice([int(spec.lo), int(spec.hi), rng.randint(int(spec.lo), int(spec.hi))])
    if kind == "float":
        return rng.uniform(-1e6, 1e6) if spec.hi > 3.5e38 else float(rng.randint(-1000, 1000)) / 4
    if kind == "str":
        length, _ = spec.extra
        return "".join(rng.choice("ABCXYZ0189-") for _ in range(rng.randint(0, length)))
    if kind == "enum":
        return rng.choice(list(spec.extra))
    if kind == "set":
        return spec.extra(rng.randint(0, int(spec.hi)) & int(spec.hi))
    if kind == "composite":
        return random_message(spec.extra, rng)
    if kind == "group":
        count = rng.randint(int(spec.lo), max(int(spec.lo), min(int(spec.hi), 3)))
        return [random_message(spec.extra, rng) for _ in range(count)]
    if kind == "data":
        raw = bytes(rng.randrange(256) for _ in range(rng.randint(0, 12)))
        return raw if spec.extra is None else raw.hex()
    raise ValueError(f"unknown spec kind {kind!r}")


def random_message(cls: type[Any], rng: random.Random) -> Any:
    """A valid instance of a generated value class from a seeded ``rng`` (deterministic corpora)."""
    fields = {}
    for spec in cls._SPEC:
        fields[spec.attr] = None if spec.optional and rng.random() < 0.3 else _random_value(spec, rng)
    return cls(**fields)


def load_generated(schema: str | Path, directory: str | Path, module_name: str) -> ModuleType:
    """Generate the codecs of ``schema`` into ``directory`` and import them as ``module_name``."""
    path = Path(directory) / f"{module_name}.py"
    path.write_text(generate(schema), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
