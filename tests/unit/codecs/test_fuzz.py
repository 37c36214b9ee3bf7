"""100,000 mutated and truncated frames through the decoders raise only the codec's own errors.

Deterministic (a seeded ``random.Random``): the corpus is a few valid frames of every message of
rfq.xml and of the features schema (nested groups, sets, floats, string var data); each case
mutates one of them. Whatever a decoder accepts must also re-encode and round-trip: the decoders
accept nothing the encoders would refuse.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from types import ModuleType

from rfq.codecs import rfq_sbe
from rfq.codecs.errors import CodecError
from rfq.codecs.testing import random_message

CASES = 100_000
SEED = 20_240_601

Mutation = Callable[[random.Random, bytearray, list[bytes]], bytearray]


def _flip_bits(rng: random.Random, frame: bytearray, corpus: list[bytes]) -> bytearray:
    for _ in range(rng.randint(1, 3)):
        if frame:
            frame[rng.randrange(len(frame))] ^= 1 << rng.randrange(8)
    return frame


def _random_bytes(rng: random.Random, frame: bytearray, corpus: list[bytes]) -> bytearray:
    for _ in range(rng.randint(1, 4)):
        if frame:
            frame[rng.randrange(len(frame))] = rng.choice([0, 0x7F, 0x80, 0xFF, rng.randrange(256)])
    return frame


def _truncate(rng: random.Random, frame: bytearray, corpus: list[bytes]) -> bytearray:
    return frame[: rng.randrange(len(frame) + 1)]


def _extend(rng: random.Random, frame: bytearray, corpus: list[bytes]) -> bytearray:
    return frame + bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))


def _header(rng: random.Random, frame: bytearray, corpus: list[bytes]) -> bytearray:
    if len(frame) >= 8:
        other = rng.choice(corpus)
        field = rng.randrange(4)
        value = rng.choice(
            [0, 1, 0xFFFF, rng.randrange(0x10000), struct.unpack_from("<H", other, 2 * field)[0]]
        )
        struct.pack_into("<H", frame, 2 * field, value)
    return frame


def _big_counts(rng: random.Random, frame: bytearray, corpus: list[bytes]) -> bytearray:
    if len(frame) > 10:
        at = rng.randrange(8, len(frame) - 1)
        struct.pack_into("<H", frame, at, rng.choice([0xFFFF, 0xFFFE, 0x8000, 1000, 21]))
    return frame


def _splice(rng: random.Random, frame: bytearray, corpus: list[bytes]) -> bytearray:
    other = rng.choice(corpus)
    cut = rng.randrange(len(frame) + 1)
    return frame[:cut] + other[rng.randrange(len(other) + 1) :]


MUTATIONS: list[Mutation] = [_flip_bits, _random_bytes, _truncate, _extend, _header, _big_counts, _splice]


def _corpus(module: ModuleType, rng: random.Random) -> list[bytes]:
    return [
        module.encode(random_message(cls, rng)) for cls in module.MESSAGE_TYPES.values() for _ in range(4)
    ]


def _fuzz(module: ModuleType, rng: random.Random, cases: int) -> dict[str, int]:
    corpus = _corpus(module, rng)
    outcome: dict[str, int] = {}
    for _ in range(cases):
        frame = bytes(rng.choice(MUTATIONS)(rng, bytearray(rng.choice(corpus)), corpus))
        length = len(frame) if rng.random() < 0.5 else None
        try:
            msg = module.decode(frame, 0, length)
        except CodecError as exc:
            outcome[type(exc).__name__] = outcome.get(type(exc).__name__, 0) + 1
            continue
        again = module.encode(msg)
        assert module.decode(again) == msg, f"{frame.hex()} decoded to {msg!r}, which does not round-trip"
        outcome["decoded"] = outcome.get("decoded", 0) + 1
    return outcome


def test_fuzzed_frames_raise_only_codec_errors(features: ModuleType) -> None:
    rng = random.Random(SEED)
    outcome = _fuzz(rfq_sbe, rng, CASES * 3 // 4)
    for name, count in _fuzz(features, rng, CASES // 4).items():
        outcome[name] = outcome.get(name, 0) + count
    assert sum(outcome.values()) == CASES
    # the mutations reach every kind of refusal, and some mutants are still valid frames
    for expected in (
        "decoded",
        "ShortBufferError",
        "WrongSchemaError",
        "UnknownTemplateError",
        "BlockLengthError",
        "BadValueError",
        "NullValueError",
        "UnknownEnumValueError",
        "UnknownSetBitsError",
        "BadStringError",
        "GroupCountError",
        "VarDataTooLongError",
        "TrailingBytesError",
    ):
        assert outcome.get(expected, 0) > 0, f"no {expected} in {outcome}"
