"""The generator refuses what it cannot generate, names things as the contract says, and has a CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from rfq.codecs.generator import GeneratorError, generate, parse_schema
from rfq.codecs.generator.__main__ import main
from rfq.codecs.generator.naming import class_name, constant_name, snake

HEADER = """
    <composite name="messageHeader">
      <type name="blockLength" primitiveType="uint16"/>
      <type name="templateId" primitiveType="uint16"/>
      <type name="schemaId" primitiveType="uint16"/>
      <type name="version" primitiveType="uint16"/>
    </composite>
    <composite name="groupSizeEncoding">
      <type name="blockLength" primitiveType="uint16"/>
      <type name="numInGroup" primitiveType="uint16"/>
    </composite>
"""


def schema(tmp_path: Path, types: str, messages: str) -> Path:
    path = tmp_path / "schema.xml"
    path.write_text(
        f"""<?xml version="1.0" encoding="UTF-8"?>
<sbe:messageSchema xmlns:sbe="http://fixprotocol.io/2016/sbe" package="t" id="9" version="0">
  <types>{HEADER}{types}</types>
  {messages}
</sbe:messageSchema>""",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(
    ("types", "messages", "error"),
    [
        (
            "",
            '<sbe:message name="M" id="1"><field name="a" id="1" type="Nope"/></sbe:message>',
            "unknown type 'Nope'",
        ),
        (
            "",
            '<sbe:message name="M" id="1"><field name="a" id="1" type="int64"/>'
            '<field name="b" id="2" type="int32" offset="4"/></sbe:message>',
            "offset 4 overlaps the previous field",
        ),
        (
            "",
            '<sbe:message name="M" id="1" blockLength="4">'
            '<field name="a" id="1" type="int64"/></sbe:message>',
            "blockLength 4 is shorter than its fields (8)",
        ),
        (
            "",
            '<sbe:message name="M" id="1"><group name="g" id="1"><field name="x" id="2" type="int8"/></group>'
            '<field name="a" id="3" type="int64"/></sbe:message>',
            "fields must come before groups and var data",
        ),
        (
            '<type name="Arr" primitiveType="int32" length="4"/>',
            '<sbe:message name="M" id="1"><field name="a" id="1" type="Arr"/></sbe:message>',
            "arrays of int32 are not supported",
        ),
        (
            "",
            '<sbe:message name="M" id="1"/><sbe:message name="N" id="1"/>',
            "two messages share a template id",
        ),
        (
            '<enum name="E" encodingType="uint8"><validValue name="X">255</validValue></enum>',
            '<sbe:message name="M" id="1"><field name="a" id="1" type="E"/></sbe:message>',
            "out of range or the null value",
        ),
        (
            '<composite name="Big"><type name="length" primitiveType="uint32"/>'
            '<type name="varData" primitiveType="uint8" length="0"/></composite>',
            '<sbe:message name="M" id="1"><data name="d" id="1" type="Big"/></sbe:message>',
            "a uint32 length needs maxValue <= 2^31-1",
        ),
    ],
)
def test_refuses_what_it_cannot_generate(tmp_path: Path, types: str, messages: str, error: str) -> None:
    with pytest.raises(
        GeneratorError, match=error.replace("(", r"\(").replace(")", r"\)").replace("^", r"\^")
    ):
        generate(schema(tmp_path, types, messages))


def test_ir_of_rfq_schema() -> None:
    ir = parse_schema(Path(__file__).resolve().parents[3] / "schema" / "rfq.xml")
    assert (ir.id, ir.version, ir.byte_order, ir.package) == (701, 1, "<", "rfq.sbe")
    create = next(m for m in ir.messages if m.name == "CreateRfq")
    assert create.block_length == 53
    assert [(f.name, f.offset) for f in create.fields][-2:] == [("expireTimeMs", 25), ("clOrdId", 33)]
    assert [(g.name, g.id, g.block_length) for g in create.groups] == [("dealers", 8, 4)]
    record = next(m for m in ir.messages if m.name == "RfqRecord")
    dealers = record.groups[0]
    assert dealers.block_length == 4 + 1 + 5 * 8  # packed, as sbe-tool lays it out: no alignment padding
    assert [(f.name, f.offset) for f in dealers.fields][:3] == [
        ("dealerUserId", 0),
        ("state", 4),
        ("quoteId", 5),
    ]
    dedupe = next(m for m in ir.messages if m.name == "DedupeRecord")
    assert dedupe.block_length == 24
    assert dedupe.groups[0].block_length == 2
    assert dedupe.groups[0].data[0].max_length == 1048576
    commands = [m.id for m in ir.messages if m.id < 20]
    assert commands[:10] == list(range(1, 11))


def test_names() -> None:
    assert snake("expireTimeMs") == "expire_time_ms"
    assert snake("clOrdId") == "cl_ord_id"
    assert snake("HTTPCode") == "http_code"
    assert snake("from") == "from_"
    assert constant_name("OptionalPrice") == "OPTIONAL_PRICE"
    assert class_name("outcomes") == "Outcomes"


def test_cli_writes_and_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = schema(
        tmp_path, "", '<sbe:message name="M" id="1"><field name="a" id="1" type="int64"/></sbe:message>'
    )
    out = tmp_path / "m_sbe.py"
    assert main([str(source), "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith('"""GENERATED by `make codecs` from')
    assert main([str(source), "-o", str(out), "--check"]) == 0
    out.write_text("# edited\n", encoding="utf-8")
    assert main([str(source), "-o", str(out), "--check"]) == 1
    assert "differs" in capsys.readouterr().err
    assert main([str(tmp_path / "missing.xml"), "-o", str(out)]) == 1
