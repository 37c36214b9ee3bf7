"""The generator's intermediate representation: what an SBE schema means, with every offset resolved.

Why an IR between the XML and the emitted Python: offsets, block lengths, null values and version
rules are computed once, here, and checked (``GeneratorError``) before any code is written, so the
emitter only formats. Everything is immutable after parsing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "PRIMITIVES",
    "Composite",
    "Data",
    "EnumType",
    "Field",
    "GeneratorError",
    "Group",
    "Member",
    "Message",
    "Primitive",
    "Schema",
    "SetType",
    "SimpleType",
    "TypeDef",
]


class GeneratorError(Exception):
    """The schema is invalid or uses something this generator does not support; the message says where."""


@dataclass(frozen=True)
class Primitive:
    """An SBE primitive: its struct code, size and the default null/min/max of the FIX SBE standard."""

    name: str
    code: str
    size: int
    null: int | float
    min: int | float
    max: int | float
    numpy: str

    @property
    def is_float(self) -> bool:
        return self.name in ("float", "double")

    @property
    def is_signed(self) -> bool:
        return self.name.startswith("int")

    @property
    def type_min(self) -> int:
        """Lowest value the struct code can hold (the null value of signed types included)."""
        return -(1 << (8 * self.size - 1)) if self.is_signed else 0

    @property
    def type_max(self) -> int:
        """Highest value the struct code can hold (the null value of unsigned types included)."""
        bits = 8 * self.size
        return (1 << (bits - 1)) - 1 if self.is_signed else (1 << bits) - 1


def _int(name: str, code: str, size: int, signed: bool) -> Primitive:
    bits = 8 * size
    if signed:
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        return Primitive(name, code, size, lo, lo + 1, hi, f"i{size}")
    return Primitive(name, code, size, (1 << bits) - 1, 0, (1 << bits) - 2, f"u{size}")


PRIMITIVES: dict[str, Primitive] = {
    "char": Primitive("char", "B", 1, 0, 0x20, 0x7E, "u1"),
    "int8": _int("int8", "b", 1, True),
    "uint8": _int("uint8", "B", 1, False),
    "int16": _int("int16", "h", 2, True),
    "uint16": _int("uint16", "H", 2, False),
    "int32": _int("int32", "i", 4, True),
    "uint32": _int("uint32", "I", 4, False),
    "int64": _int("int64", "q", 8, True),
    "uint64": _int("uint64", "Q", 8, False),
    "float": Primitive("float", "f", 4, float("nan"), -3.4028234663852886e38, 3.4028234663852886e38, "f4"),
    "double": Primitive(
        "double", "d", 8, float("nan"), -1.7976931348623157e308, 1.7976931348623157e308, "f8"
    ),
}


@dataclass(frozen=True)
class SimpleType:
    """An SBE ``<type>``: a primitive, a fixed array of it (``length``), or a constant."""

    name: str
    primitive: Primitive
    length: int
    presence: str  # required | optional | constant
    null_value: int | float
    min_value: int | float
    max_value: int | float
    character_encoding: str | None
    constant: str | None
    description: str = ""

    @property
    def size(self) -> int:
        return 0 if self.presence == "constant" else self.primitive.size * self.length

    @property
    def is_chars(self) -> bool:
        """A char array (any length, ``length=1`` included) is a Python ``str``."""
        return self.primitive.name == "char" or (
            self.character_encoding is not None and self.primitive.name in ("uint8", "int8")
        )


@dataclass(frozen=True)
class EnumType:
    """An SBE ``<enum>``: named values of an integer or char encoding."""

    name: str
    encoding: Primitive
    values: tuple[tuple[str, int, int], ...]  # (name, value, sinceVersion)
    null_value: int
    description: str = ""

    @property
    def size(self) -> int:
        return self.encoding.size


@dataclass(frozen=True)
class SetType:
    """An SBE ``<set>``: named bits of an unsigned integer, bit 0 the least significant."""

    name: str
    encoding: Primitive
    choices: tuple[tuple[str, int, int], ...]  # (name, bit, sinceVersion)
    description: str = ""

    @property
    def size(self) -> int:
        return self.encoding.size

    @property
    def mask(self) -> int:
        result = 0
        for _, bit, _ in self.choices:
            result |= 1 << bit
        return result


@dataclass(frozen=True)
class Member:
    """One member of a composite at its resolved offset."""

    name: str
    type: TypeDef
    offset: int


@dataclass(frozen=True)
class Composite:
    """An SBE ``<composite>``: members at fixed offsets (constants take no bytes)."""

    name: str
    members: tuple[Member, ...]
    size: int
    description: str = ""

    def member(self, name: str) -> Member:
        for m in self.members:
            if m.name == name:
                return m
        raise GeneratorError(f"composite {self.name} has no member {name!r}")


TypeDef = SimpleType | EnumType | SetType | Composite


@dataclass(frozen=True)
class Field:
    """A fixed field of a message or group entry, at its resolved offset in the block."""

    name: str
    id: int
    type: TypeDef
    offset: int
    presence: str  # required | optional | constant (the field's own, or its type's)
    since_version: int
    constant_value: str | None  # valueRef or the type's constant text
    description: str = ""

    @property
    def size(self) -> int:
        return 0 if self.presence == "constant" else self.type.size


@dataclass(frozen=True)
class Data:
    """Variable-length data: a length prefix composite and the bytes."""

    name: str
    id: int
    type: Composite
    since_version: int
    character_encoding: str | None
    description: str = ""

    @property
    def length_type(self) -> SimpleType:
        member = self.type.member("length").type
        assert isinstance(member, SimpleType)
        return member

    @property
    def max_length(self) -> int:
        return int(self.length_type.max_value)


@dataclass(frozen=True)
class Group:
    """A repeating group: a dimension header, then entries of ``block_length`` bytes plus their own parts."""

    name: str
    id: int
    dimension: Composite
    block_length: int
    fields: tuple[Field, ...]
    groups: tuple[Group, ...]
    data: tuple[Data, ...]
    since_version: int
    description: str = ""

    @property
    def count_type(self) -> SimpleType:
        member = self.dimension.member("numInGroup").type
        assert isinstance(member, SimpleType)
        return member


@dataclass(frozen=True)
class Message:
    """An SBE message: a fixed block of ``block_length`` bytes, then groups, then var data."""

    name: str
    id: int
    block_length: int
    fields: tuple[Field, ...]
    groups: tuple[Group, ...]
    data: tuple[Data, ...]
    since_version: int
    description: str = ""


@dataclass(frozen=True)
class Schema:
    """A whole schema: header, types by name, messages in declaration order."""

    package: str
    id: int
    version: int
    byte_order: str  # "<" or ">"
    description: str
    header: Composite
    types: dict[str, TypeDef] = field(default_factory=dict)
    messages: tuple[Message, ...] = ()
