"""The JVM side of the interop tests: sbe-tool's Java codecs driven through JPype by our schema IR.

``JavaSbe`` encodes and decodes any message of a schema with sbe-tool's generated flyweights, taking
and giving the same value objects our generated Python codecs use, so a test can compare bytes and
values both ways. The Java encoders and decoders are created once per message; bytes cross through
one direct ByteBuffer that wraps a Python bytearray (no copy on the Java side).
"""

from __future__ import annotations

import keyword
import math
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import jpype
import pytest

from rfq import jvm
from rfq.codecs import rfq_sbe
from rfq.codecs.generator import parse_schema
from rfq.codecs.generator.ir import (
    Composite,
    Data,
    EnumType,
    Field,
    Group,
    Message,
    Schema,
    SetType,
    SimpleType,
)
from rfq.codecs.generator.naming import class_name, snake
from rfq.codecs.generator.plans import collapsed_member
from rfq.codecs.testing import load_generated

ROOT = Path(__file__).resolve().parents[2]
RFQ_SCHEMA = ROOT / "schema" / "rfq.xml"
FEATURES_SCHEMA = ROOT / "tests" / "unit" / "codecs" / "schemas" / "features.xml"
BUFFER_SIZE = 1 << 20


def _cap(name: str) -> str:
    return name[:1].upper() + name[1:]


def _java(name: str) -> str:
    """JPype's name for a Java method: Python keywords get a trailing underscore (``yield_``)."""
    return name + "_" if keyword.iskeyword(name) else name


class JavaSbe:
    """sbe-tool's Java codecs of ``schema`` (package ``schema.package``) beside our ``module``."""

    def __init__(self, schema: Schema, module: ModuleType) -> None:
        self.schema = schema
        self.module = module
        pkg = schema.package
        self.buffer = bytearray(BUFFER_SIZE)
        self.direct = jpype.nio.convertToDirectBuffer(self.buffer)
        self.unsafe = jpype.JClass("org.agrona.concurrent.UnsafeBuffer")(self.direct)
        self.header_encoder = jpype.JClass(f"{pkg}.MessageHeaderEncoder")()
        self.header_decoder = jpype.JClass(f"{pkg}.MessageHeaderDecoder")()
        self.encoders = {m.name: jpype.JClass(f"{pkg}.{m.name}Encoder")() for m in schema.messages}
        self.decoders = {m.name: jpype.JClass(f"{pkg}.{m.name}Decoder")() for m in schema.messages}
        self.enums = {
            t.name: jpype.JClass(f"{pkg}.{t.name}") for t in schema.types.values() if isinstance(t, EnumType)
        }
        self.byte_array = jpype.JArray(jpype.JByte)

    def message(self, name: str) -> Message:
        return next(m for m in self.schema.messages if m.name == name)

    # ------------------------------------------------------------------------------ encode
    def encode(self, value: Any) -> bytes:
        """``value`` (one of our value objects) encoded by sbe-tool's Java encoder, header included."""
        m = self.message(type(value).__name__)
        size = value.encoded_length()
        self.buffer[: size + 64] = bytes(size + 64)  # Java leaves padding untouched; ours writes zeros
        encoder = self.encoders[m.name]
        encoder.wrapAndApplyHeader(self.unsafe, 0, self.header_encoder)
        self._put_container(encoder, m.fields, m.groups, m.data, value)
        return bytes(self.buffer[: self.schema.header.size + encoder.encodedLength()])

    def _put_container(
        self,
        target: Any,
        fields: tuple[Field, ...],
        groups: tuple[Group, ...],
        data: tuple[Data, ...],
        obj: Any,
    ) -> None:
        for f in fields:
            if f.presence != "constant":
                self._put(target, f.name, f.type, getattr(obj, snake(f.name)))
        for g in groups:
            entries = getattr(obj, snake(g.name))
            group_encoder = getattr(target, f"{g.name}Count")(len(entries))
            for entry in entries:
                group_encoder.next()
                self._put_container(group_encoder, g.fields, g.groups, g.data, entry)
        for d in data:
            value = getattr(obj, snake(d.name))
            if d.character_encoding:
                getattr(target, d.name)(jpype.JString(value))
            else:
                getattr(target, f"put{_cap(d.name)}")(self.byte_array(value), 0, len(value))

    def _put(self, target: Any, name: str, t: Any, value: Any) -> None:
        setter = getattr(target, _java(name))
        if isinstance(t, SimpleType):
            setter(self._raw_simple(t, value))
        elif isinstance(t, EnumType):
            enum = self.enums[t.name]
            setter(enum.NULL_VAL if value is None else enum.valueOf(value.name))
        elif isinstance(t, SetType):
            flags = setter()
            flags.clear()
            for choice, bit, _ in t.choices:
                getattr(flags, choice)(bool(int(value) >> bit & 1))
        elif isinstance(t, Composite):
            composite = setter()
            single = collapsed_member(t)
            if single is not None:
                member = next(mm for mm in t.members if mm.type is single)
                getattr(composite, member.name)(self._raw_simple(single, value))
                return
            for member in t.members:
                if isinstance(member.type, SimpleType) and member.type.presence == "constant":
                    continue
                self._put(composite, member.name, member.type, getattr(value, snake(member.name)))

    def _raw_simple(self, t: SimpleType, value: Any) -> Any:
        if t.is_chars:
            if t.length == 1:
                return jpype.JByte(ord(value) if value else 0)
            return jpype.JString(value or "")
        if value is None:
            value = t.null_value
        if t.primitive.is_float:
            return jpype.JFloat(value) if t.primitive.name == "float" else jpype.JDouble(value)
        value = int(value)
        kind = t.primitive.name
        if kind == "uint64" and value >= 1 << 63:
            value -= 1 << 64
        return {
            "int8": jpype.JByte,
            "uint8": jpype.JShort,
            "int16": jpype.JShort,
            "uint16": jpype.JInt,
            "int32": jpype.JInt,
            "uint32": jpype.JLong,
            "int64": jpype.JLong,
            "uint64": jpype.JLong,
        }[kind](value)

    # ------------------------------------------------------------------------------ decode
    def decode(self, frame: bytes) -> Any:
        """``frame`` decoded by sbe-tool's Java decoder into one of our value objects."""
        self.buffer[: len(frame)] = frame
        self.header_decoder.wrap(self.unsafe, 0)
        template_id = int(self.header_decoder.templateId())
        m = next(mm for mm in self.schema.messages if mm.id == template_id)
        decoder = self.decoders[m.name]
        decoder.wrapAndApplyHeader(self.unsafe, 0, self.header_decoder)
        value = self._get_container(decoder, m.name, m.fields, m.groups, m.data)
        assert self.schema.header.size + decoder.encodedLength() == len(frame), "Java read another length"
        return value

    def _get_container(
        self,
        source: Any,
        cls_name: str,
        fields: tuple[Field, ...],
        groups: tuple[Group, ...],
        data: tuple[Data, ...],
    ) -> Any:
        cls = getattr(self.module, cls_name)
        kwargs: dict[str, Any] = {}
        for f in fields:
            attr = snake(f.name)
            if f.presence == "constant":
                java = getattr(source, _java(f.name))()
                ours = getattr(cls, attr)
                assert (str(java.name()) if isinstance(f.type, EnumType) else int(java)) == (
                    ours.name if isinstance(f.type, EnumType) else ours
                ), f"constant {f.name}: Java {java} != ours {ours}"
                continue
            optional = f.presence == "optional" or f.since_version > 0
            kwargs[attr] = self._get(source, f.name, f.type, optional)
        for g in groups:
            entries = []
            group_decoder = getattr(source, g.name)()
            sub_name = cls_name + class_name(g.name)
            while group_decoder.hasNext():
                group_decoder.next()
                entries.append(self._get_container(group_decoder, sub_name, g.fields, g.groups, g.data))
            kwargs[snake(g.name)] = entries
        for d in data:
            if d.character_encoding:
                kwargs[snake(d.name)] = str(getattr(source, d.name)())
            else:
                n = int(getattr(source, f"{d.name}Length")())
                array = self.byte_array(n)
                getattr(source, f"get{_cap(d.name)}")(array, 0, n)
                kwargs[snake(d.name)] = bytes(array)
        return cls(**kwargs)

    def _get(self, source: Any, name: str, t: Any, optional: bool) -> Any:
        getter = getattr(source, _java(name))
        if isinstance(t, SimpleType):
            return self._py_simple(t, getter(), optional or t.presence == "optional")
        if isinstance(t, EnumType):
            java = getter()
            label = str(java.name())
            if label == "NULL_VAL":
                assert optional, f"{name}: Java read an unknown/null enum"
                return None
            return getattr(self.module, t.name)[label]
        if isinstance(t, SetType):
            raw = int(getter().getRaw())
            return getattr(self.module, t.name)(raw & ((1 << (8 * t.size)) - 1))
        composite = getter()
        single = collapsed_member(t)
        if single is not None:
            member = next(mm for mm in t.members if mm.type is single)
            raw = getattr(composite, member.name)()
            return self._py_simple(single, raw, optional or single.presence == "optional")
        kwargs = {}
        for member in t.members:
            if isinstance(member.type, SimpleType) and member.type.presence == "constant":
                continue
            kwargs[snake(member.name)] = self._get(composite, member.name, member.type, False)
        return getattr(self.module, class_name(t.name))(**kwargs)

    def _py_simple(self, t: SimpleType, raw: Any, optional: bool) -> Any:
        if t.is_chars:
            text = (chr(int(raw)) if int(raw) else "") if t.length == 1 else str(raw)
            return (text or None) if optional else text
        if t.primitive.is_float:
            value = float(raw)
            return None if optional and math.isnan(value) else value
        value = int(raw)
        if not t.primitive.is_signed and value < 0:
            value += 1 << (8 * t.primitive.size)
        return None if optional and value == t.null_value else value


@pytest.fixture(scope="session")
def sbe_jvm() -> Iterator[None]:
    """A JVM with sbe-tool's Java codecs on its class path (built by `make codecs-java` if missing)."""
    subprocess.run(["make", "-s", "codecs-java"], cwd=ROOT, check=True)
    jvm.start(extra_classpath=[jvm.SBE_CLASSES_DIR])
    yield


@pytest.fixture(scope="session")
def java_rfq(sbe_jvm: None) -> JavaSbe:
    """sbe-tool's codecs of schema/rfq.xml beside ``rfq.codecs.rfq_sbe``."""
    return JavaSbe(parse_schema(RFQ_SCHEMA), rfq_sbe)


@pytest.fixture(scope="session")
def features_module(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """Our codecs of the test-only features schema, generated now into a temporary folder."""
    return load_generated(FEATURES_SCHEMA, tmp_path_factory.mktemp("features"), "features_sbe")


@pytest.fixture(scope="session")
def java_features(sbe_jvm: None, features_module: ModuleType) -> JavaSbe:
    """sbe-tool's codecs of the features schema beside ours."""
    return JavaSbe(parse_schema(FEATURES_SCHEMA), features_module)
