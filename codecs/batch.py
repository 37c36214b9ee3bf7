"""The batch path: many fixed-size messages of one template as the rows of a numpy structured array.

Why: a Python object per message costs ~1 µs a round trip; bulk traffic of one template (a replayed
snapshot, a load generator, an analytics tap) can instead be a packed structured dtype laid out
exactly like the wire — header and block as one record — so the buffer *is* the array. Decoding
is ``np.frombuffer`` (a zero-copy view) plus vectorised validation; encoding is one header fill, the
same validation and one copy into the caller's buffer (or none: ``memoryview(records)``).

Contract: :class:`BatchCodec` works for messages without groups or var data whose fields are
integers, floats, enums, sets, char arrays or decimal-like composites (one value). Rows must carry
the acting blockLength of the generated class (the stride is fixed); validation refuses what the
scalar decoder refuses (wrong schema, other template, too old a version, out-of-range values, nulls
in required fields, unknown enum values, unknown set bits, non-ASCII chars), naming the first bad row.
Char arrays are numpy ``S<n>`` columns: bytes, NUL padded; decoders stop at the first NUL.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .errors import (
    BadBufferError,
    BadStringError,
    BadValueError,
    BlockLengthError,
    CodecError,
    NullValueError,
    ShortBufferError,
    TrailingBytesError,
    UnknownEnumValueError,
    UnknownSetBitsError,
    UnknownTemplateError,
    UnsupportedVersionError,
    WrongSchemaError,
)

__all__ = ["BatchCodec"]

_NUMPY_CODES = {"b": "i1", "B": "u1", "h": "i2", "H": "u2", "i": "i4", "I": "u4", "q": "i8", "Q": "u8"}
_NUMPY_CODES |= {"f": "f4", "d": "f8"}
_CODE = re.compile(r"(\d*)([a-zA-Z])")


@dataclass(frozen=True)
class _Column:
    """One validated column: its attribute (= dtype field) name and how to check it."""

    name: str
    kind: str
    optional: bool
    lo: Any
    hi: Any
    null: Any
    extra: Any


def _single_code(fmt: str) -> tuple[str, int]:
    """The one struct code (and its byte offset) of a field's format such as ``<q`` or ``<3xq``."""
    pos, found = 0, []
    for count, code in _CODE.findall(fmt[1:]):
        n = int(count) if count else 1
        if code == "x":
            pos += n
        else:
            found.append((f"{n}s" if code == "s" else code, pos))
            pos += n if code == "s" else n * np.dtype(_NUMPY_CODES[code]).itemsize
    if len(found) != 1:
        raise TypeError(f"field format {fmt!r} is not one value: not supported by the batch path")
    return found[0]


def _numpy_type(order: str, code: str) -> str:
    if code.endswith("s"):
        return f"S{code[:-1]}"
    return order + _NUMPY_CODES[code]


def _ascii_words(width: int) -> list[tuple[int, Any, int]]:
    """(offset, dtype, high-bit mask) words covering ``width`` bytes, to OR-reduce for an ASCII check."""
    words, offset = [], 0
    for size, dtype in ((8, np.uint64), (4, np.uint32), (2, np.uint16), (1, np.uint8)):
        while width - offset >= size:
            words.append((offset, dtype, int("80" * size, 16)))
            offset += size
    return words


class BatchCodec:
    """Encode and decode arrays of one fixed-size message class of a generated codec module.

    ``BatchCodec(rfq_sbe.CreateRfq)``; ``dtype`` is the packed wire record: the header fields first,
    named ``sbe_`` + ``HEADER_FIELDS`` (``sbe_template_id``, ...), then the message's snake_case attributes.
    """

    def __init__(self, message_cls: type[Any]) -> None:
        module = sys.modules[message_cls.__module__]
        specs = message_cls._SPEC
        layout = message_cls._LAYOUT
        if any(s.kind in ("group", "data") for s in specs):
            raise TypeError(f"{message_cls.__name__} has groups or var data: not a fixed-size message")
        self.message_cls = message_cls
        self.module = module
        self.name: str = message_cls.__name__
        self.template_id: int = message_cls.TEMPLATE_ID
        self.schema_id: int = message_cls.SCHEMA_ID
        self.version: int = message_cls.SCHEMA_VERSION
        self.block_length: int = message_cls.BLOCK_LENGTH
        self.header_length: int = module.HEADER_LENGTH
        self.min_version = len(layout.min_lengths) - 1
        order = "<" if module.BYTE_ORDER == "little" else ">"
        names, formats, offsets = [], [], []
        pos = 0
        for name, (count, code) in zip(
            module.HEADER_FIELDS, _CODE.findall(module._HEADER.format[1:]), strict=True
        ):
            assert not count
            names.append(f"sbe_{name}")
            formats.append(order + _NUMPY_CODES[code])
            offsets.append(pos)
            pos += np.dtype(_NUMPY_CODES[code]).itemsize
        self.columns: list[_Column] = []
        for spec, field in zip(specs, layout.fields, strict=True):
            if spec.kind == "composite":
                raise TypeError(f"{self.name}.{spec.attr} is a composite: not supported by the batch path")
            code, at = _single_code(field.codec.format)
            names.append(spec.attr)
            formats.append(_numpy_type(order, code))
            offsets.append(self.header_length + field.offset + at)
            self.columns.append(
                _Column(spec.attr, spec.kind, spec.optional, spec.lo, spec.hi, field.nulls[0], spec.extra)
            )
        self.dtype = np.dtype(
            {
                "names": names,
                "formats": formats,
                "offsets": offsets,
                "itemsize": self.header_length + self.block_length,
            }
        )
        self._offsets = dict(zip(names, offsets, strict=True))
        self._enum_values = {
            c.name: np.array(sorted(int(m) for m in c.extra)) for c in self.columns if c.kind == "enum"
        }
        self._bounds = {c.name: self._column_bounds(c) for c in self.columns}
        self._ascii_words = {
            c.name: _ascii_words(self.dtype[c.name].itemsize) for c in self.columns if c.kind == "str"
        }
        header = module._HEADER.pack(
            *(
                {"block_length": self.block_length, "template_id": self.template_id}.get(
                    name, {"schema_id": self.schema_id, "version": self.version}.get(name, 0)
                )
                for name in module.HEADER_FIELDS
            )
        )
        self._header_word = int(np.frombuffer(header, dtype=np.uint64)[0]) if len(header) == 8 else None

    def _column_bounds(self, column: _Column) -> tuple[Any, Any]:
        """(lo, hi) a min/max reduction can check, or (None, None) when the valid set has holes."""
        if column.kind == "enum":
            values = sorted(int(m) for m in column.extra)
            if values[-1] - values[0] + 1 != len(values):
                return None, None
            return values[0], values[-1]
        return column.lo, column.hi

    # ----------------------------------------------------------------------------------- arrays
    def empty(self, count: int) -> npt.NDArray[Any]:
        """``count`` zeroed records with the header filled in, ready for the fields to be set."""
        records = np.zeros(count, dtype=self.dtype)
        self._fill_header(records)
        return records

    def from_messages(self, messages: Sequence[Any]) -> npt.NDArray[Any]:
        """Records from value objects (through the scalar encoder: for tests and small batches)."""
        size = self.dtype.itemsize
        buf = bytearray(size * len(messages))
        for i, msg in enumerate(messages):
            if type(msg) is not self.message_cls:
                raise BadValueError(f"row {i}: expected {self.name}, got {type(msg).__name__}")
            msg.encode(buf, i * size)
        return np.frombuffer(buf, dtype=self.dtype).copy()

    def to_messages(self, records: npt.NDArray[Any]) -> list[Any]:
        """Value objects from records (through the scalar decoder: for tests and small batches)."""
        raw = np.ascontiguousarray(records).tobytes()
        size = self.dtype.itemsize
        return [self.module.decode(raw, i * size, size) for i in range(len(records))]

    # ----------------------------------------------------------------------------------- codec
    def encode_into(self, records: npt.NDArray[Any], buf: Any, offset: int = 0) -> int:
        """Fill in the headers, validate, copy the records to ``buf`` at ``offset``; return the size."""
        self._check_dtype(records)
        self._fill_header(records)
        self.validate(records, header=False)
        size = records.nbytes
        try:
            out = np.frombuffer(buf, dtype=np.uint8, count=size, offset=offset)
            out[:] = records.view(np.uint8).reshape(-1)
        except (ValueError, TypeError) as exc:
            raise self._buffer_error(buf, offset, size, exc) from None
        return size

    def encode(self, records: npt.NDArray[Any]) -> bytes:
        """Fill the headers of ``records``, validate them and return their bytes."""
        self._check_dtype(records)
        self._fill_header(records)
        self.validate(records, header=False)
        return records.tobytes()

    def decode(self, buf: Any, offset: int = 0, count: int | None = None) -> npt.NDArray[Any]:
        """A validated zero-copy view of ``count`` records (default: all the rest of ``buf``) at ``offset``.

        The view is read-only when ``buf`` is; it shares memory with ``buf``.
        """
        size = self.dtype.itemsize
        try:
            nbytes = memoryview(buf).nbytes
        except TypeError:
            raise BadBufferError(f"{self.name}: cannot decode from {type(buf).__name__}") from None
        if offset < 0 or offset > nbytes:
            raise BadBufferError(f"{self.name}: offset {offset} is outside the buffer of {nbytes} bytes")
        if count is None:
            count, rest = divmod(nbytes - offset, size)
            if rest:
                raise TrailingBytesError(
                    f"{self.name}: {nbytes - offset} bytes are not a whole number of {size}-byte records"
                )
        elif count < 0 or offset + count * size > nbytes:
            raise ShortBufferError(
                f"{self.name}: {count} records of {size} bytes at offset {offset} run past {nbytes} bytes"
            )
        records = np.frombuffer(buf, dtype=self.dtype, count=count, offset=offset)
        self.validate(records)
        return records

    # ----------------------------------------------------------------------------------- checks
    def _check_dtype(self, records: npt.NDArray[Any]) -> None:
        if not isinstance(records, np.ndarray) or records.dtype != self.dtype or records.ndim != 1:
            raise BadValueError(f"{self.name}: expected a one-dimensional array of dtype {self.dtype}")
        if not records.flags.c_contiguous:
            raise BadValueError(f"{self.name}: the records must be contiguous (they are the wire bytes)")

    def _buffer_error(self, buf: Any, offset: int, size: int, exc: Exception) -> CodecError:
        try:
            view = memoryview(buf)
        except TypeError:
            return BadBufferError(f"{self.name}: cannot encode into {type(buf).__name__}")
        if view.readonly:
            return BadBufferError(f"{self.name}: cannot encode into a read-only {type(buf).__name__}")
        if offset < 0 or offset + size > view.nbytes:
            return ShortBufferError(
                f"{self.name}: needs {size} bytes at offset {offset}, the buffer has {view.nbytes}"
            )
        return BadBufferError(f"{self.name}: {exc}")

    def _view(self, records: npt.NDArray[Any], dtype: Any, offset: int) -> npt.NDArray[Any]:
        """A strided view of ``dtype`` at byte ``offset`` of every record (no copy)."""
        return np.ndarray(records.shape, dtype=dtype, buffer=records, offset=offset, strides=records.strides)

    def _header_ok(self, records: npt.NDArray[Any]) -> bool:
        """One pass: every header is exactly ours (compared as one 8-byte word when it is 8 bytes)."""
        if self._header_word is None or not len(records):
            return False
        words = self._view(records, np.uint64, 0)
        return bool(words.min() == self._header_word == words.max())

    def validate(self, records: npt.NDArray[Any], header: bool = True) -> None:
        """Raise the :class:`CodecError` the scalar decoder would, for the first bad row; vectorised.

        Each check is one or two reductions over a strided column (no temporaries); only when one
        fails is the bad row located and the precise error built.
        """
        self._check_dtype(records)
        if header and not self._header_ok(records):
            self._validate_header(records)
        for column in self.columns:
            if not self._column_ok(records, column):
                self._explain_column(records, column)

    def _fill_header(self, records: npt.NDArray[Any]) -> None:
        if self._header_ok(records):
            return
        records["sbe_block_length"] = self.block_length
        records["sbe_template_id"] = self.template_id
        records["sbe_schema_id"] = self.schema_id
        records["sbe_version"] = self.version

    @staticmethod
    def _first(ok: npt.NDArray[np.bool_]) -> int:
        return int(np.argmin(ok))

    def _validate_header(self, records: npt.NDArray[Any]) -> None:
        schema = records["sbe_schema_id"]
        if not (schema == self.schema_id).all():
            i = self._first(schema == self.schema_id)
            raise WrongSchemaError(f"{self.name}: row {i}: schemaId {schema[i]} is not {self.schema_id}")
        template = records["sbe_template_id"]
        if not (template == self.template_id).all():
            i = self._first(template == self.template_id)
            raise UnknownTemplateError(
                f"{self.name}: row {i}: templateId {template[i]} is not {self.template_id}",
                template_id=int(template[i]),
            )
        version = records["sbe_version"]
        if not (version >= self.min_version).all():
            i = self._first(version >= self.min_version)
            raise UnsupportedVersionError(
                f"{self.name}: row {i}: version {version[i]} lacks fields the batch path needs"
                f" (it decodes versions >= {self.min_version})"
            )
        block = records["sbe_block_length"]
        if not (block == self.block_length).all():
            i = self._first(block == self.block_length)
            raise BlockLengthError(
                f"{self.name}: row {i}: blockLength {block[i]} is not {self.block_length} (the batch stride)"
            )

    def _column_ok(self, records: npt.NDArray[Any], column: _Column) -> bool:
        """Cheap whole-column check; False means "look closer" (it may still be fine)."""
        if not len(records):
            return True
        values = records[column.name]
        kind = column.kind
        if kind in ("int", "float", "enum"):
            lo, hi = self._bounds[column.name]
            if column.optional or lo is None:
                return False if lo is None else self._optional_ok(values, column, lo, hi)
            return bool((lo <= values.min()) and (values.max() <= hi))
        if kind == "set":
            return not int(np.bitwise_or.reduce(values)) & ~int(column.hi)
        if kind == "str":
            start = self._offsets[column.name]
            for offset, dtype, mask in self._ascii_words[column.name]:
                if int(np.bitwise_or.reduce(self._view(records, dtype, start + offset))) & mask:
                    return False
            return True
        return False

    def _optional_ok(self, values: npt.NDArray[Any], column: _Column, lo: Any, hi: Any) -> bool:
        # the null of a signed (unsigned) column is its lowest (highest) value: when the valid range
        # touches it from the other side, one reduction still decides.
        info = np.iinfo(values.dtype) if values.dtype.kind in "iu" else None
        if info is not None and column.null == info.min and lo == info.min + 1:
            return bool(values.max() <= hi)
        if info is not None and column.null == info.max and hi == info.max - 1:
            return bool(values.min() >= lo)
        return False

    def _explain_column(self, records: npt.NDArray[Any], column: _Column) -> None:
        values = records[column.name]
        kind = column.kind
        label = f"{self.name}.{column.name}"
        if kind in {"int", "float"}:
            ok = (values >= column.lo) & (values <= column.hi)
            if column.optional:
                ok |= np.isnan(values) if kind == "float" else values == column.null
            if not ok.all():
                i = self._first(ok)
                value = values[i]
                if not column.optional and (value == column.null or (kind == "float" and np.isnan(value))):
                    raise NullValueError(f"{label}: row {i}: the null value in a required field")
                raise BadValueError(f"{label}: row {i}: {value} is outside [{column.lo}, {column.hi}]")
        elif kind == "enum":
            ok = np.isin(values, self._enum_values[column.name])
            if column.optional:
                ok |= values == column.null
            if not ok.all():
                i = self._first(ok)
                raise UnknownEnumValueError(
                    f"{label}: row {i}: {values[i]} is not a {column.extra.__name__} value"
                )
        elif kind == "set":
            bad = (values & ~np.array(column.hi, dtype=values.dtype)) != 0
            if bad.any():
                i = int(np.argmax(bad))
                raise UnknownSetBitsError(
                    f"{label}: row {i}: bits of {values[i]:#x} name no {column.extra.__name__}"
                )
        elif kind == "str":
            width = values.dtype.itemsize
            start = self._offsets[column.name]
            rows = records.view(np.uint8).reshape(len(records), -1)[:, start : start + width]
            high = rows.max(axis=1) > 127
            if high.any():
                i = int(np.argmax(high))
                raise BadStringError(f"{label}: row {i}: {bytes(values[i])!r} is not ASCII")
