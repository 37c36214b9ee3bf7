"""The codec's own errors: every refusal of bad input by ``rfq.codecs`` is a :class:`CodecError`.

Why a hierarchy: the cluster turns a refused frame into a ``CommandRejected`` with a reason, so the
caller must tell a frame it cannot route (wrong schema, unknown template) from a frame whose fields
are bad, without parsing messages. Contract: encoders and decoders raise only these (never a bare
``struct.error``, ``IndexError``, ``UnicodeError`` or ``ValueError``); each error says what and where,
and carries ``template_id`` when the header was read far enough to know it.
"""

from __future__ import annotations

__all__ = [
    "BadBufferError",
    "BadStringError",
    "BadValueError",
    "BlockLengthError",
    "CodecError",
    "GroupCountError",
    "NullValueError",
    "ShortBufferError",
    "TrailingBytesError",
    "UnknownEnumValueError",
    "UnknownSetBitsError",
    "UnknownTemplateError",
    "UnsupportedVersionError",
    "VarDataTooLongError",
    "WrongSchemaError",
]


class CodecError(Exception):
    """Base of every error the codecs raise; ``template_id`` is the frame's template when known."""

    def __init__(self, message: str, *, template_id: int | None = None) -> None:
        super().__init__(message)
        self.template_id = template_id


class ShortBufferError(CodecError):
    """The buffer (or the frame ``length``) ends before what the header, block, group or var data needs."""


class BadBufferError(CodecError):
    """The buffer is not a usable bytes-like object (read-only, for encoding) or the offset is negative."""


class WrongSchemaError(CodecError):
    """The header's schemaId is not this schema's id: the frame belongs to another protocol."""


class UnknownTemplateError(CodecError):
    """The header's templateId names no message of this schema."""


class UnsupportedVersionError(CodecError):
    """The acting version cannot be decoded (older than the message itself)."""


class BlockLengthError(CodecError):
    """The acting blockLength (message or group) is shorter than the fields its version must hold."""


class BadValueError(CodecError):
    """A field value is of the wrong type or outside the range the schema allows."""


class NullValueError(BadValueError):
    """A required field holds (or was given) its null value / ``None``."""


class UnknownEnumValueError(BadValueError):
    """An enum field's value is none of the enum's valid values."""


class UnknownSetBitsError(BadValueError):
    """A set (bit field) has bits that name no choice."""


class BadStringError(BadValueError):
    """A fixed-length char array is too long, holds a non-ASCII character, or an embedded NUL."""


class GroupCountError(CodecError):
    """A repeating group has more (or fewer) entries than its numInGroup encoding allows."""


class VarDataTooLongError(CodecError):
    """Variable-length data is longer than its length encoding's maxValue."""


class TrailingBytesError(CodecError):
    """The frame ``length`` given to the decoder holds bytes after a message of a known version."""
