"""Shared run-time support of the generated codecs: error builders, the slow paths, error diagnosis.

Why a runtime module: the generated fast paths stay short and readable (one ``struct.Struct`` per
block, one comparison per check) and call in here only when something is wrong or unusual: building
a precise :mod:`rfq.codecs.errors` exception, decoding a block of an older version field by field,
or explaining why an encode failed. Nothing here runs on the happy path of a current-version frame.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from typing import Any, NamedTuple

from .errors import (
    BadBufferError,
    BadStringError,
    BadValueError,
    BlockLengthError,
    CodecError,
    GroupCountError,
    NullValueError,
    ShortBufferError,
    TrailingBytesError,
    UnknownEnumValueError,
    UnknownSetBitsError,
    UnknownTemplateError,
    UnsupportedVersionError,
    VarDataTooLongError,
    WrongSchemaError,
)

__all__ = [
    "FOREIGN_ERRORS",
    "BlockLayout",
    "FieldLayout",
    "Spec",
    "bad_buffer",
    "bad_chars",
    "bad_chars_bytes",
    "bad_enum",
    "bad_float",
    "bad_int",
    "bad_offset",
    "bad_set",
    "block_too_short",
    "check_value",
    "data_too_long",
    "explain_encode",
    "group_count",
    "isnan",
    "malformed",
    "no_room",
    "read_block",
    "short_frame",
    "trailing_bytes",
    "unknown_template",
    "unsupported_version",
    "wrong_schema",
]

Buffer = bytes | bytearray | memoryview

isnan = math.isnan
"""For the generated decoders of optional floats (NaN is the float null)."""

FOREIGN_ERRORS: tuple[type[Exception], ...] = (
    struct.error,
    TypeError,
    ValueError,
    AttributeError,
    IndexError,
    OverflowError,
    BufferError,
)
"""What Python itself raises on bad input; the generated code turns these into :class:`CodecError`."""


# ------------------------------------------------------------------------------------ error builders
def bad_int(label: str, value: object, lo: int, hi: int, null: int | None = None) -> CodecError:
    """A value outside ``[lo, hi]``; the null value of a required field is a :class:`NullValueError`."""
    if null is not None and value == null:
        return NullValueError(f"{label}: the null value {null} in a required field")
    return BadValueError(f"{label}: {value!r} is outside the allowed range [{lo}, {hi}]")


def bad_float(label: str, value: object, lo: float, hi: float) -> CodecError:
    """A NaN (the float null) in a required field, or a value outside ``[lo, hi]``."""
    if isinstance(value, float) and math.isnan(value):
        return NullValueError(f"{label}: NaN (the null value) in a required field")
    return BadValueError(f"{label}: {value!r} is outside the allowed range [{lo}, {hi}]")


def bad_chars(label: str, value: object, length: int, encoding: str = "ascii") -> CodecError:
    """A string that cannot go into a fixed char array of ``length`` bytes."""
    if not isinstance(value, str):
        return BadValueError(f"{label}: expected str, got {type(value).__name__}")
    try:
        raw = value.encode(encoding)
    except UnicodeEncodeError as exc:
        bad = value[exc.start : exc.end]
        return BadStringError(f"{label}: {bad!r} at index {exc.start} is not {encoding.upper()}")
    if len(raw) > length:
        return BadStringError(f"{label}: {len(raw)} bytes do not fit a char[{length}] ({value!r})")
    if 0 in raw:
        return BadStringError(f"{label}: NUL at index {raw.index(0)} (NUL ends a char array on the wire)")
    return BadValueError(f"{label}: cannot encode {value!r}")


def bad_chars_bytes(label: str, raw: bytes, encoding: str = "ascii") -> CodecError:
    """Decoded char array bytes that are not valid in the field's character encoding."""
    try:
        raw.decode(encoding)
    except UnicodeDecodeError as exc:
        return BadStringError(
            f"{label}: byte 0x{raw[exc.start]:02x} at index {exc.start} is not {encoding.upper()}"
        )
    return BadStringError(f"{label}: cannot decode {raw!r}")


def bad_enum(label: str, value: object, enum: Any) -> CodecError:
    """A value that is none of ``enum``'s members."""
    valid = ", ".join(f"{m.name}={m.value}" for m in enum)
    return UnknownEnumValueError(f"{label}: {value!r} is not a {enum.__name__} value ({valid})")


def bad_set(label: str, value: object, flags: Any, mask: int) -> CodecError:
    """A set value with bits that name no choice."""
    if not isinstance(value, int):
        return BadValueError(f"{label}: expected {flags.__name__} or int, got {type(value).__name__}")
    return UnknownSetBitsError(
        f"{label}: bits 0x{int(value) & ~mask:x} of 0x{int(value):x} name no {flags.__name__} choice"
    )


def group_count(label: str, count: int, lo: int, hi: int) -> CodecError:
    return GroupCountError(f"{label}: {count} entries is outside the allowed count [{lo}, {hi}]")


def data_too_long(label: str, length: int, most: int) -> CodecError:
    return VarDataTooLongError(f"{label}: {length} bytes is longer than the maximum {most}")


def short_frame(label: str, end: int, limit: int, what: str) -> CodecError:
    """The frame ends (``limit``) before ``what`` of ``label`` does (``end``)."""
    return ShortBufferError(f"{label}: {what} needs the frame to reach byte {end}, it ends at {limit}")


def block_too_short(label: str, block_length: int, need: int, version: int) -> CodecError:
    return BlockLengthError(
        f"{label}: acting blockLength {block_length} is shorter than the {need} bytes version {version} needs"
    )


def unsupported_version(label: str, version: int, since: int) -> CodecError:
    return UnsupportedVersionError(
        f"{label}: acting version {version} is older than the message (since {since})"
    )


def wrong_schema(schema_id: int, expected: int, template_id: int) -> CodecError:
    return WrongSchemaError(
        f"schemaId {schema_id} is not this schema's id {expected} (templateId {template_id})",
        template_id=template_id,
    )


def unknown_template(template_id: int, schema_id: int) -> CodecError:
    return UnknownTemplateError(
        f"templateId {template_id} names no message of schema {schema_id}", template_id=template_id
    )


def trailing_bytes(label: str, end: int, limit: int) -> CodecError:
    return TrailingBytesError(
        f"{label}: {limit - end} bytes after the message (ends at {end}, frame at {limit})"
    )


def bad_buffer(
    buf: object, offset: object, length: object, header_length: int, exc: Exception | None
) -> CodecError:
    """Why a frame's header cannot be read: not a buffer, a bad offset/length, or too short."""
    try:
        size = memoryview(buf).nbytes  # type: ignore[arg-type]
    except TypeError:
        return BadBufferError(f"cannot decode from {type(buf).__name__}: not a bytes-like buffer")
    if not isinstance(offset, int) or offset < 0:
        return BadBufferError(f"offset {offset!r} is not a non-negative int")
    if length is not None and (not isinstance(length, int) or length < 0):
        return BadBufferError(f"length {length!r} is not a non-negative int")
    limit = size if length is None else offset + length
    if limit > size:
        return ShortBufferError(
            f"frame of {length} bytes at offset {offset} runs past the buffer's {size} bytes"
        )
    if limit - offset < header_length:
        return ShortBufferError(
            f"{limit - offset} bytes at offset {offset} are shorter than the {header_length}-byte header"
        )
    return BadBufferError(f"cannot read a header: {exc}")


# ------------------------------------------------------------------------- older versions (slow path)
class FieldLayout(NamedTuple):
    """Where one field lies in a block, from which version, and its raw null values when absent."""

    since_version: int
    offset: int
    codec: struct.Struct
    nulls: tuple[Any, ...]


class BlockLayout(NamedTuple):
    """A block's fields, and the least acting blockLength each version needs (index: version)."""

    label: str
    fields: tuple[FieldLayout, ...]
    min_lengths: tuple[int, ...]


def read_block(
    buf: Buffer, pos: int, block_length: int, version: int, layout: BlockLayout
) -> tuple[Any, ...]:
    """Raw values of a block of another version: fields newer than ``version`` read as their nulls.

    Used when the acting version is older than the newest field or the acting blockLength is
    shorter than ours; the caller has checked that ``block_length`` bytes are in the frame.
    """
    lengths = layout.min_lengths
    need = lengths[min(version, len(lengths) - 1)]
    if block_length < need:
        raise block_too_short(layout.label, block_length, need, version)
    out: list[Any] = []
    for f in layout.fields:
        if f.since_version > version:
            out.extend(f.nulls)
        else:
            out.extend(f.codec.unpack_from(buf, pos + f.offset))
    return tuple(out)


# ------------------------------------------------------------------------------ encode diagnosis
class Spec(NamedTuple):
    """What the diagnosis needs to know about one attribute of a generated value class.

    ``kind`` is int, float, str, enum, set, composite, group or data; ``extra`` is the char array's
    (length, encoding), the enum/set/composite/entry class, or the var data's encoding (or None).
    """

    attr: str
    kind: str
    optional: bool
    lo: int | float
    hi: int | float
    extra: Any = None


def _check_one(label: str, spec: Spec, value: object) -> CodecError | None:
    kind = spec.kind
    if kind == "int":
        if not isinstance(value, int):
            return BadValueError(f"{label}: expected int, got {type(value).__name__}")
        lo, hi = int(spec.lo), int(spec.hi)
        if not lo <= value <= hi:
            return bad_int(label, value, lo, hi, None)
    elif kind == "float":
        if not isinstance(value, int | float):
            return BadValueError(f"{label}: expected float, got {type(value).__name__}")
        if math.isnan(value) or not spec.lo <= value <= spec.hi:
            return bad_float(label, value, spec.lo, spec.hi)
    elif kind == "str":
        length, encoding = spec.extra
        if not isinstance(value, str):
            return BadValueError(f"{label}: expected str, got {type(value).__name__}")
        try:
            raw = value.encode(encoding)
        except UnicodeEncodeError:
            return bad_chars(label, value, length, encoding)
        if len(raw) > length or 0 in raw:
            return bad_chars(label, value, length, encoding)
    elif kind == "enum":
        try:
            valid = value in spec.extra._value2member_map_
        except TypeError:
            valid = False
        if not valid or not isinstance(value, int):
            return bad_enum(label, value, spec.extra)
    elif kind == "set":
        if not isinstance(value, int) or int(value) & ~int(spec.hi) or int(value) < 0:
            return bad_set(label, value, spec.extra, int(spec.hi))
    elif kind == "composite":
        if not isinstance(value, spec.extra):
            return BadValueError(f"{label}: expected {spec.extra.__name__}, got {type(value).__name__}")
        return check_value(label, value)
    elif kind == "group":
        return _check_group(label, spec, value)
    elif kind == "data":
        return _check_data(label, spec, value)
    return None


def _check_group(label: str, spec: Spec, value: object) -> CodecError | None:
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        return BadValueError(f"{label}: expected a list of {spec.extra.__name__}, got {type(value).__name__}")
    if not spec.lo <= len(value) <= spec.hi:
        return group_count(label, len(value), int(spec.lo), int(spec.hi))
    for i, entry in enumerate(value):
        if not isinstance(entry, spec.extra):
            return BadValueError(f"{label}[{i}]: expected {spec.extra.__name__}, got {type(entry).__name__}")
        err = check_value(f"{label}[{i}]", entry)
        if err is not None:
            return err
    return None


def _check_data(label: str, spec: Spec, value: object) -> CodecError | None:
    encoding = spec.extra
    if encoding is not None and isinstance(value, str):
        try:
            value = value.encode(encoding)
        except UnicodeEncodeError as exc:
            return BadStringError(f"{label}: {value[exc.start : exc.end]!r} is not {encoding.upper()}")
    if not isinstance(value, bytes | bytearray | memoryview):
        return BadValueError(f"{label}: expected bytes, got {type(value).__name__}")
    n = memoryview(value).nbytes
    if n > spec.hi:
        return data_too_long(label, n, int(spec.hi))
    return None


def check_value(label: str, obj: object) -> CodecError | None:
    """The first reason ``obj`` (a generated value object) cannot be encoded, or None."""
    for spec in getattr(type(obj), "_SPEC", ()):
        at = f"{label}.{spec.attr}"
        try:
            value = getattr(obj, spec.attr)
        except AttributeError:
            return NullValueError(f"{at} is not set")
        if value is None:
            if spec.optional:
                continue
            return NullValueError(f"{at}: None in a required field")
        err = _check_one(at, spec, value)
        if err is not None:
            return err
    return None


def explain_encode(msg: object, buf: object, offset: object, exc: Exception) -> CodecError:
    """Turn whatever Python raised while encoding ``msg`` into the precise :class:`CodecError`."""
    name = type(msg).__name__
    if not hasattr(type(msg), "_SPEC"):
        return BadValueError(f"cannot encode a {name}: not a message of this schema")
    err = check_value(name, msg)
    if err is None:
        try:
            view = memoryview(buf)  # type: ignore[arg-type]
        except TypeError:
            err = BadBufferError(f"{name}: cannot encode into {type(buf).__name__}: not a bytes-like buffer")
        else:
            if view.readonly:
                err = BadBufferError(f"{name}: cannot encode into a read-only {type(buf).__name__}")
            elif not isinstance(offset, int) or offset < 0:
                err = BadBufferError(f"{name}: offset {offset!r} is not a non-negative int")
            else:
                need = msg.encoded_length()  # type: ignore[attr-defined]
                if offset + need > view.nbytes:
                    err = no_room(name, offset, need, view.nbytes)
    if err is None:
        err = BadValueError(f"{name}: cannot encode: {exc}")
    err.template_id = getattr(msg, "TEMPLATE_ID", None)
    return err


def bad_offset(label: str, offset: object) -> CodecError:
    return BadBufferError(f"{label}: offset {offset!r} is not a non-negative int")


def no_room(label: str, offset: int, need: int, size: int) -> CodecError:
    """An encode of ``need`` bytes at ``offset`` that the buffer of ``size`` bytes cannot hold."""
    if offset < 0:
        return bad_offset(label, offset)
    return ShortBufferError(f"{label}: needs {need} bytes at offset {offset}, the buffer has {size - offset}")


def malformed(template_id: int, exc: Exception) -> CodecError:
    """A last resort: Python refused the frame in a way no check above foresaw."""
    return BadBufferError(f"templateId {template_id}: malformed frame: {exc}", template_id=template_id)
