"""Read an SBE XML schema (``xml.etree``) into the IR, resolving offsets and checking the SBE rules.

Why our own parser: sbe-tool has no Python target, and its IR file is itself SBE-encoded; the XML is
small and the rules we need (notes/sbe-rules.md) are few. ``make codecs`` also runs sbe-tool's own
validator on the same file, so this parser may assume a schema sbe-tool accepts, but it still refuses
clearly what it cannot generate (``GeneratorError``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from .ir import (
    PRIMITIVES,
    Composite,
    Data,
    EnumType,
    Field,
    GeneratorError,
    Group,
    Member,
    Message,
    Primitive,
    Schema,
    SetType,
    SimpleType,
    TypeDef,
)

__all__ = ["parse_schema"]

_TYPE_TAGS = ("type", "composite", "enum", "set")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _number(text: str, primitive_name: str, where: str) -> int | float:
    try:
        if primitive_name in ("float", "double"):
            return float(text)
        if primitive_name == "char" and len(text.strip()) == 1 and not text.strip().isdigit():
            return ord(text.strip())
        return int(text.strip(), 0)
    except ValueError:
        raise GeneratorError(f"{where}: {text!r} is not a {primitive_name}") from None


def _int_attr(el: ET.Element, name: str, default: int, where: str) -> int:
    text = el.get(name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise GeneratorError(f"{where}: attribute {name}={text!r} is not an integer") from None


class _Parser:
    def __init__(self, root: ET.Element) -> None:
        self.root = root
        self.raw: dict[str, ET.Element] = {}
        self.types: dict[str, TypeDef] = {}
        self.resolving: set[str] = set()
        for types_el in (c for c in root if _local(c.tag) == "types"):
            for el in types_el:
                if _local(el.tag) in _TYPE_TAGS:
                    self._register(el)

    def _register(self, el: ET.Element) -> None:
        name = el.get("name")
        if not name:
            raise GeneratorError(f"a <{_local(el.tag)}> without a name")
        if name in self.raw:
            raise GeneratorError(f"type {name!r} is defined twice")
        self.raw[name] = el

    # ---------------------------------------------------------------- types
    def type(self, name: str, where: str) -> TypeDef:
        if name in self.types:
            return self.types[name]
        if name in PRIMITIVES:  # a field may name a primitive directly
            return self._simple_from(name, PRIMITIVES[name].name, ET.Element("type"), where)
        el = self.raw.get(name)
        if el is None:
            raise GeneratorError(f"{where}: unknown type {name!r}")
        if name in self.resolving:
            raise GeneratorError(f"type {name!r} refers to itself")
        self.resolving.add(name)
        kind = _local(el.tag)
        t: TypeDef
        if kind == "type":
            t = self._simple(el)
        elif kind == "enum":
            t = self._enum(el)
        elif kind == "set":
            t = self._set(el)
        else:
            t = self._composite(el)
        self.resolving.discard(name)
        self.types[name] = t
        return t

    def _simple(self, el: ET.Element) -> SimpleType:
        name = el.get("name", "")
        prim = el.get("primitiveType")
        if prim not in PRIMITIVES:
            raise GeneratorError(f"type {name}: unknown primitiveType {prim!r}")
        return self._simple_from(name, prim, el, f"type {name}")

    def _simple_from(self, name: str, prim_name: str, el: ET.Element, where: str) -> SimpleType:
        prim = PRIMITIVES[prim_name]
        length = _int_attr(el, "length", 1, where)
        presence = el.get("presence", "required")
        if presence not in ("required", "optional", "constant"):
            raise GeneratorError(f"{where}: unknown presence {presence!r}")
        if length > 1 and prim.name != "char" and el.get("characterEncoding") is None:
            raise GeneratorError(
                f"{where}: arrays of {prim.name} are not supported by this generator (only char arrays)"
            )
        null_value = prim.null
        if el.get("nullValue") is not None:
            null_value = _number(el.get("nullValue", ""), prim.name, where)
        lo = _number(el.get("minValue", ""), prim.name, where) if el.get("minValue") else prim.min
        hi = _number(el.get("maxValue", ""), prim.name, where) if el.get("maxValue") else prim.max
        constant = None
        if presence == "constant":
            constant = (el.text or "").strip()
            if not constant:
                raise GeneratorError(f"{where}: a constant type needs its value as text")
        encoding = el.get("characterEncoding")
        if prim.name == "char" and encoding is None:
            encoding = "US-ASCII"
        return SimpleType(
            name=name,
            primitive=prim,
            length=length,
            presence=presence,
            null_value=null_value,
            min_value=lo,
            max_value=hi,
            character_encoding=encoding,
            constant=constant,
            description=el.get("description", ""),
        )

    def _encoding_primitive(
        self, el: ET.Element, where: str, allowed: tuple[str, ...]
    ) -> tuple[Primitive, int]:
        enc = el.get("encodingType", "")
        if enc in PRIMITIVES:
            prim = PRIMITIVES[enc]
            null = prim.null
        else:
            named = self.type(enc, where)
            if not isinstance(named, SimpleType) or named.length != 1:
                raise GeneratorError(f"{where}: encodingType {enc!r} is not a primitive type of length 1")
            prim = named.primitive
            null = named.null_value
        if prim.name not in allowed:
            raise GeneratorError(f"{where}: encodingType {prim.name} is not one of {', '.join(allowed)}")
        return prim, int(null)

    def _enum(self, el: ET.Element) -> EnumType:
        name = el.get("name", "")
        where = f"enum {name}"
        prim, null = self._encoding_primitive(
            el, where, ("char", "int8", "uint8", "int16", "uint16", "int32", "uint32")
        )
        values: list[tuple[str, int, int]] = []
        for v in el:
            if _local(v.tag) != "validValue":
                continue
            vname = v.get("name", "")
            value = int(_number(v.text or "", prim.name, f"{where}.{vname}"))
            if not prim.type_min <= value <= prim.type_max or value == null:
                raise GeneratorError(f"{where}.{vname}: {value} is out of range or the null value")
            values.append((vname, value, _int_attr(v, "sinceVersion", 0, where)))
        if not values:
            raise GeneratorError(f"{where}: no validValue")
        if len({v for _, v, _ in values}) != len(values) or len({n for n, _, _ in values}) != len(values):
            raise GeneratorError(f"{where}: duplicate names or values")
        return EnumType(name, prim, tuple(values), null, el.get("description", ""))

    def _set(self, el: ET.Element) -> SetType:
        name = el.get("name", "")
        where = f"set {name}"
        prim, _ = self._encoding_primitive(el, where, ("uint8", "uint16", "uint32", "uint64"))
        choices: list[tuple[str, int, int]] = []
        for c in el:
            if _local(c.tag) != "choice":
                continue
            cname = c.get("name", "")
            bit = int(_number(c.text or "", "uint8", f"{where}.{cname}"))
            if not 0 <= bit < 8 * prim.size:
                raise GeneratorError(f"{where}.{cname}: bit {bit} does not fit {prim.name}")
            choices.append((cname, bit, _int_attr(c, "sinceVersion", 0, where)))
        if len({b for _, b, _ in choices}) != len(choices):
            raise GeneratorError(f"{where}: two choices share a bit")
        return SetType(name, prim, tuple(choices), el.get("description", ""))

    def _composite(self, el: ET.Element) -> Composite:
        name = el.get("name", "")
        where = f"composite {name}"
        members: list[Member] = []
        pos = 0
        for child in el:
            kind = _local(child.tag)
            if kind not in (*_TYPE_TAGS, "ref"):
                continue
            mname = child.get("name", "")
            t: TypeDef
            if kind == "ref":
                t = self.type(child.get("type", ""), f"{where}.{mname}")
            elif kind == "type":
                t = self._simple(child)
            elif kind == "enum":
                t = self._enum(child)
            elif kind == "set":
                t = self._set(child)
            else:
                t = self._composite(child)
            offset = _int_attr(child, "offset", pos, f"{where}.{mname}")
            if offset < pos:
                raise GeneratorError(f"{where}.{mname}: offset {offset} overlaps the previous member")
            members.append(Member(mname, t, offset))
            pos = offset + t.size
        return Composite(name, tuple(members), pos, el.get("description", ""))

    # ---------------------------------------------------------------- messages
    def fields(
        self, el: ET.Element, where: str
    ) -> tuple[tuple[Field, ...], tuple[Group, ...], tuple[Data, ...], int]:
        fields: list[Field] = []
        groups: list[Group] = []
        datas: list[Data] = []
        pos = 0
        for child in el:
            kind = _local(child.tag)
            name = child.get("name", "")
            at = f"{where}.{name}"
            if kind == "field":
                if groups or datas:
                    raise GeneratorError(f"{at}: fields must come before groups and var data")
                fields.append(self._field(child, at, pos))
                last = fields[-1]
                if last.presence != "constant":
                    pos = last.offset + last.size
            elif kind == "group":
                if datas:
                    raise GeneratorError(f"{at}: groups must come before var data")
                groups.append(self._group(child, at))
            elif kind == "data":
                datas.append(self._data(child, at))
        for i, f in enumerate(fields):
            for g in fields[i + 1 :]:
                if f.name == g.name:
                    raise GeneratorError(f"{where}: field {f.name!r} declared twice")
        return tuple(fields), tuple(groups), tuple(datas), pos

    def _field(self, el: ET.Element, where: str, pos: int) -> Field:
        t = self.type(el.get("type", ""), where)
        presence = el.get("presence") or (t.presence if isinstance(t, SimpleType) else "required")
        constant = None
        if presence == "constant":
            ref = el.get("valueRef")
            if ref:
                constant = ref
            elif isinstance(t, SimpleType) and t.constant is not None:
                constant = t.constant
            else:
                raise GeneratorError(f"{where}: a constant field needs valueRef or a constant type")
            if isinstance(t, SimpleType) and t.presence != "constant" and not ref:
                raise GeneratorError(f"{where}: constant presence without a value")
        offset = _int_attr(el, "offset", pos, where)
        if offset < pos:
            raise GeneratorError(f"{where}: offset {offset} overlaps the previous field (ends at {pos})")
        return Field(
            name=el.get("name", ""),
            id=_int_attr(el, "id", 0, where),
            type=t,
            offset=offset,
            presence=presence,
            since_version=_int_attr(el, "sinceVersion", 0, where),
            constant_value=constant,
            description=el.get("description", ""),
        )

    def _group(self, el: ET.Element, where: str) -> Group:
        dim = self.type(el.get("dimensionType", "groupSizeEncoding"), where)
        if not isinstance(dim, Composite):
            raise GeneratorError(f"{where}: dimensionType must be a composite")
        for member in ("blockLength", "numInGroup"):
            mt = dim.member(member).type
            if not isinstance(mt, SimpleType) or mt.primitive.is_signed or mt.primitive.is_float:
                raise GeneratorError(f"{where}: {dim.name}.{member} must be an unsigned integer")
        fields, groups, datas, end = self.fields(el, where)
        block_length = _int_attr(el, "blockLength", end, where)
        if block_length < end:
            raise GeneratorError(f"{where}: blockLength {block_length} is shorter than its fields ({end})")
        return Group(
            name=el.get("name", ""),
            id=_int_attr(el, "id", 0, where),
            dimension=dim,
            block_length=block_length,
            fields=fields,
            groups=groups,
            data=datas,
            since_version=_int_attr(el, "sinceVersion", 0, where),
            description=el.get("description", ""),
        )

    def _data(self, el: ET.Element, where: str) -> Data:
        t = self.type(el.get("type", ""), where)
        if not isinstance(t, Composite) or [m.name for m in t.members] != ["length", "varData"]:
            raise GeneratorError(f"{where}: var data type must be a composite of length and varData")
        length = t.members[0].type
        var = t.members[1].type
        if not isinstance(length, SimpleType) or length.primitive.is_signed or length.primitive.is_float:
            raise GeneratorError(f"{where}: {t.name}.length must be an unsigned integer")
        if length.primitive.name == "uint32" and int(length.max_value) > 2**31 - 1:
            raise GeneratorError(f"{where}: a uint32 length needs maxValue <= 2^31-1")
        assert isinstance(var, SimpleType)
        encoding = var.character_encoding if var.primitive.name == "char" or var.character_encoding else None
        return Data(
            name=el.get("name", ""),
            id=_int_attr(el, "id", 0, where),
            type=t,
            since_version=_int_attr(el, "sinceVersion", 0, where),
            character_encoding=encoding,
            description=el.get("description", ""),
        )

    def message(self, el: ET.Element) -> Message:
        name = el.get("name", "")
        where = f"message {name}"
        fields, groups, datas, end = self.fields(el, where)
        block_length = _int_attr(el, "blockLength", end, where)
        if block_length < end:
            raise GeneratorError(f"{where}: blockLength {block_length} is shorter than its fields ({end})")
        return Message(
            name=name,
            id=_int_attr(el, "id", 0, where),
            block_length=block_length,
            fields=fields,
            groups=groups,
            data=datas,
            since_version=_int_attr(el, "sinceVersion", 0, where),
            description=el.get("description", ""),
        )


def _check_header(header: Composite) -> None:
    names = [m.name for m in header.members]
    if sorted(names) != sorted(["blockLength", "templateId", "schemaId", "version"]):
        raise GeneratorError(
            f"header {header.name} must hold exactly blockLength, templateId, schemaId, version"
        )
    for m in header.members:
        if not isinstance(m.type, SimpleType) or m.type.primitive.is_signed or m.type.primitive.is_float:
            raise GeneratorError(f"header {header.name}.{m.name} must be an unsigned integer")


def parse_schema(path: str | Path) -> Schema:
    """Parse ``path`` into a :class:`Schema`; raise :class:`GeneratorError` on anything unsupported."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise GeneratorError(f"{path}: {exc}") from None
    if _local(root.tag) != "messageSchema":
        raise GeneratorError(f"{path}: the root element is not messageSchema")
    p = _Parser(root)
    byte_order = root.get("byteOrder", "littleEndian")
    if byte_order not in ("littleEndian", "bigEndian"):
        raise GeneratorError(f"unknown byteOrder {byte_order!r}")
    header = p.type(root.get("headerType", "messageHeader"), "headerType")
    if not isinstance(header, Composite):
        raise GeneratorError("the header type must be a composite")
    _check_header(header)
    messages = [p.message(el) for el in root if _local(el.tag) == "message"]
    ids = [m.id for m in messages]
    if len(set(ids)) != len(ids):
        raise GeneratorError("two messages share a template id")
    for name in p.raw:
        p.type(name, "types")
    schema = Schema(
        package=root.get("package", ""),
        id=_int_attr(root, "id", 0, "messageSchema"),
        version=_int_attr(root, "version", 0, "messageSchema"),
        byte_order="<" if byte_order == "littleEndian" else ">",
        description=root.get("description", ""),
        header=header,
        types=dict(p.types),
        messages=tuple(messages),
    )
    return schema
