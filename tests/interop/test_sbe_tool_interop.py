"""Our generated codecs against sbe-tool's Java codecs: same bytes, and each decodes the other's.

For every message of schema/rfq.xml (taken from ``rfq_sbe.MESSAGE_TYPES``, so a message added to the
schema is covered without editing this file) and of the test-only features schema:

- hypothesis picks the values (200 examples a message);
- three fixed edge cases a message: every optional field null, every group and var data empty and
  every other value at its low end ("null"); the same with optional fields present ("lo"); every
  value at its high end, optional fields present, groups of several entries mixing the three kinds,
  var data longer than 255 bytes ("hi"). ``test_edge_cases_cover_every_optional_group_and_data``
  checks that these really reach both states of every optional field, group and var data;

and both ways: Python's bytes equal Java's, Python decodes Java's frame to the same value, Java decodes
Python's frame to the same value. sbe-tool's encoders and decoders run in the same process (JPype).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import jpype
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rfq.codecs import rfq_sbe
from rfq.codecs.runtime import Spec
from rfq.codecs.testing import message_strategy

RFQ_MESSAGES = [cls.__name__ for cls in rfq_sbe.MESSAGE_TYPES.values()]
FEATURE_MESSAGES = ["Everything", "Nested", "Bare", "Tick"]
EDGES = ["null", "lo", "hi"]

INTEROP = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _both_ways(module: ModuleType, java: Any, value: Any) -> None:
    ours = module.encode(value)
    theirs = java.encode(value)
    assert ours == theirs, f"bytes differ for {value!r}:\n ours   {ours.hex()}\n theirs {theirs.hex()}"
    assert module.decode(theirs, 0, len(theirs)) == value
    assert java.decode(ours) == value


# ------------------------------------------------------------------------------ edge cases
def _edge_text(length: int, encoding: str) -> str:
    """The longest text of ``length`` bytes, non-ASCII where the encoding allows it."""
    if encoding == "ascii":
        return ("Z9-" * length)[:length]
    return ("ñx" * length)[: length * 2 // 3]  # "ñ" is two bytes in UTF-8


def _edge_value(spec: Spec, edge: str) -> Any:
    if spec.optional and edge == "null":
        return None
    high = edge == "hi"
    kind = spec.kind
    if kind in ("int", "float"):
        return spec.hi if high else spec.lo
    if kind == "str":
        length, encoding = spec.extra
        return _edge_text(length, encoding) if high else ""
    if kind == "enum":
        members = list(spec.extra)
        return members[-1] if high else members[0]
    if kind == "set":
        return spec.extra(int(spec.hi) if high else 0)
    if kind == "composite":
        return edge_message(spec.extra, edge)
    if kind == "group":
        count = min(int(spec.hi), 5) if high else int(spec.lo)
        return [edge_message(spec.extra, EDGES[(2 - k) % 3]) for k in range(count)]  # hi, lo, null, ...
    if kind == "data":
        most = min(int(spec.hi), 600)
        if not high:
            return b"" if spec.extra is None else ""
        return (bytes(range(256)) * 3)[:most] if spec.extra is None else _edge_text(most, spec.extra)
    raise ValueError(f"unknown spec kind {kind!r}")


def edge_message(cls: type[Any], edge: str) -> Any:
    """``cls`` (a message, group entry or composite class) with every value at the ``edge`` case."""
    return cls(**{spec.attr: _edge_value(spec, edge) for spec in cls._SPEC})


def _states(cls: type[Any], values: list[Any], path: str) -> Iterator[tuple[str, set[str], set[str]]]:
    """(attribute path, states needed, states seen) of each optional field, group and var data of
    ``cls`` in ``values``, recursively through group entries and composites."""
    for spec in cls._SPEC:
        name = f"{path}.{spec.attr}"
        seen = [getattr(v, spec.attr) for v in values]
        if spec.optional:
            yield name, {"null", "present"}, {"null" if s is None else "present" for s in seen}
        if spec.kind == "group":
            needed = {"several"} if spec.lo > 0 else {"empty", "several"}
            yield name, needed, {"empty" if not s else "several" if len(s) > 1 else "one" for s in seen}
            yield from _states(spec.extra, [entry for s in seen for entry in s], name)
        elif spec.kind == "data":
            yield name, {"empty", "present"}, {"empty" if not s else "present" for s in seen}
        elif spec.kind == "composite":
            yield from _states(spec.extra, [s for s in seen if s is not None], name)


def _assert_edges_cover(cls: type[Any]) -> None:
    for path, needed, seen in _states(cls, [edge_message(cls, edge) for edge in EDGES], cls.__name__):
        assert needed <= seen, f"{path}: the edge cases reach {sorted(seen)}, not {sorted(needed)}"


# ------------------------------------------------------------------------------ rfq.xml
@pytest.mark.parametrize("name", RFQ_MESSAGES)
@INTEROP
@given(data=st.data())
def test_rfq_message_matches_sbe_tool(java_rfq: Any, name: str, data: st.DataObject) -> None:
    cls = getattr(rfq_sbe, name)
    _both_ways(rfq_sbe, java_rfq, data.draw(message_strategy(cls)))


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("name", RFQ_MESSAGES)
def test_rfq_message_edges_match_sbe_tool(java_rfq: Any, name: str, edge: str) -> None:
    _both_ways(rfq_sbe, java_rfq, edge_message(getattr(rfq_sbe, name), edge))


def test_every_rfq_message_is_covered(java_rfq: Any) -> None:
    """Every message of the schema is a message of our module and of sbe-tool's, with the same constants."""
    ir = java_rfq.schema  # parsed from schema/rfq.xml, as sbe-tool's codecs were generated
    ours = {tid: cls.__name__ for tid, cls in rfq_sbe.MESSAGE_TYPES.items()}
    assert ours == {m.id: m.name for m in ir.messages}, "codecs/rfq_sbe.py is stale: run `make codecs`"
    assert list(ours.values()) == RFQ_MESSAGES
    pkg = ir.package
    for tid, cls in rfq_sbe.MESSAGE_TYPES.items():
        for side in ("Encoder", "Decoder"):
            java = jpype.JClass(f"{pkg}.{cls.__name__}{side}")
            assert (
                int(java.TEMPLATE_ID),
                int(java.BLOCK_LENGTH),
                int(java.SCHEMA_ID),
                int(java.SCHEMA_VERSION),
            ) == (tid, cls.BLOCK_LENGTH, rfq_sbe.SCHEMA_ID, rfq_sbe.SCHEMA_VERSION), f"{cls.__name__}{side}"
    # the three ranges of the schema are all there (commands, events, snapshot records)
    assert {tid // 20 for tid in ours} == {0, 1, 2}


@pytest.mark.parametrize("name", RFQ_MESSAGES)
def test_edge_cases_cover_every_optional_group_and_data(name: str) -> None:
    _assert_edges_cover(getattr(rfq_sbe, name))


def test_enums_of_the_schema_match_sbe_tool(java_rfq: Any) -> None:
    """Every member of every enum has the same name and value in sbe-tool's Java enum."""
    for name, java_enum in java_rfq.enums.items():
        ours = getattr(rfq_sbe, name)
        assert issubclass(ours, enum.IntEnum)
        theirs = {str(v.name()): int(v.value()) for v in java_enum.values() if str(v.name()) != "NULL_VAL"}
        assert theirs == {m.name: int(m) for m in ours}, name


# ------------------------------------------------------------------------------ features.xml
@pytest.mark.parametrize("name", FEATURE_MESSAGES)
@INTEROP
@given(data=st.data())
def test_feature_message_matches_sbe_tool(
    java_features: Any, features_module: ModuleType, name: str, data: st.DataObject
) -> None:
    cls = getattr(features_module, name)
    _both_ways(features_module, java_features, data.draw(message_strategy(cls)))


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("name", FEATURE_MESSAGES)
def test_feature_message_edges_match_sbe_tool(
    java_features: Any, features_module: ModuleType, name: str, edge: str
) -> None:
    _both_ways(features_module, java_features, edge_message(getattr(features_module, name), edge))


def test_every_feature_message_is_covered(features_module: ModuleType) -> None:
    assert [cls.__name__ for cls in features_module.MESSAGE_TYPES.values()] == FEATURE_MESSAGES
    for cls in features_module.MESSAGE_TYPES.values():
        _assert_edges_cover(cls)
