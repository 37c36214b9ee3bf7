"""How one field's value is checked, packed and unpacked: a plan per kind of SBE type.

Each plan knows the struct codes of its wire slots ("leaves"), and writes the few lines of Python
that validate a value before ``pack_into`` (``encode``) and turn raw unpacked values into the Python
value after ``unpack_from`` (``decode``). The checks are one comparison each on the happy path; the
error message is built in ``rfq.codecs.runtime`` only when a check fails.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .ir import Composite, EnumType, GeneratorError, SetType, SimpleType, TypeDef
from .naming import class_name, constant_name, snake

LINE = 110
"""The line length of ruff format in pyproject.toml, which the generated module keeps."""

__all__ = [
    "LINE",
    "Leaf",
    "Plan",
    "assign_lines",
    "call_lines",
    "codec_name",
    "collapsed_member",
    "plan_for",
    "py_literal",
    "q",
    "raise_lines",
]

_CODECS = {
    "US-ASCII": "ascii",
    "ASCII": "ascii",
    "UTF-8": "utf-8",
    "ISO-8859-1": "latin-1",
    "UTF-16LE": "utf-16-le",
}


def codec_name(encoding: str) -> str:
    """The Python codec of an SBE ``characterEncoding``."""
    try:
        return _CODECS[encoding.upper()]
    except KeyError:
        raise GeneratorError(f"characterEncoding {encoding!r} is not supported") from None


def call_lines(ind: str, head: str, args: list[str], tail: str = ")", tuple_: bool = False) -> list[str]:
    """``head`` + args + ``tail`` laid out as ruff format does.

    One line if it fits; else (a call or def) the arguments on one indented line; else one a line
    with a magic trailing comma. ``tuple_``: the brackets make a collection literal, which ruff
    never hugs, and whose single element keeps its comma.
    """
    single = "," if tuple_ and len(args) == 1 else ""
    one = f"{ind}{head}{', '.join(args)}{single}{tail}"
    if len(one) <= LINE:
        return [one]
    middle = f"{ind}    {', '.join(args)}"
    if not tuple_ and len(middle) <= LINE:
        return [f"{ind}{head}", middle, f"{ind}{tail}"]
    return [f"{ind}{head}", *(f"{ind}    {a}," for a in args), f"{ind}{tail}"]


def assign_lines(ind: str, targets: list[str], head: str, args: list[str]) -> list[str]:
    """``targets = head(args)`` laid out as ruff format does (an unpacking of a call's result)."""
    lhs = ", ".join(targets) if len(targets) > 1 else f"({targets[0]},)"
    call = f"{head}{', '.join(args)})"
    if len(f"{ind}{lhs} = {call}") <= LINE:
        return [f"{ind}{lhs} = {call}"]
    if len(f"{ind}{lhs} = {head}") <= LINE:
        return call_lines(ind, f"{lhs} = {head}", args)
    if len(f"{ind}{lhs} = (") <= LINE and len(f"{ind}    {call}") <= LINE:
        return [f"{ind}{lhs} = (", f"{ind}    {call}", f"{ind})"]
    return [f"{ind}(", *(f"{ind}    {t}," for t in targets), *call_lines(ind, f") = {head}", args)]


def raise_lines(ind: str, fn: str, args: list[str], suffix: str = "") -> list[str]:
    """``raise _rt.fn(args)`` (plus ``suffix``, e.g. `` from None``) laid out as ruff format does."""
    return call_lines(ind, f"raise _rt.{fn}(", args, ")" + suffix)


def q(text: str) -> str:
    """``text`` as a double-quoted Python string literal (the quote style ruff format keeps)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def py_literal(value: int | float) -> str:
    """A Python literal for a numeric bound or null value (NaN and infinities included)."""
    if isinstance(value, float):
        if math.isnan(value):
            return "_NAN"
        if math.isinf(value):
            return "_INF" if value > 0 else "-_INF"
        return repr(value).replace("e+", "e")
    return str(value)


@dataclass(frozen=True)
class Leaf:
    """One ``struct`` slot: its code (``q``, ``20s``), offset from the field's start, size and raw null."""

    code: str
    offset: int
    size: int
    null: str


@dataclass
class Plan:
    """Base plan; subclasses fill ``leaves`` and implement ``encode``/``decode``."""

    label: str
    optional: bool
    leaves: list[Leaf] = field(default_factory=list)

    annotation: str = "int"
    spec_kind: str = "int"
    spec_lo: str = "0"
    spec_hi: str = "0"
    spec_extra: str = "None"

    def encode(self, src: str, var: str, out: list[str], ind: str) -> list[str]:
        """Append lines that validate ``src`` into locals; return the pack arguments."""
        raise NotImplementedError

    def decode(self, raws: list[str], var: str, out: list[str], ind: str, fail: str = "") -> str:
        """Append lines that turn ``raws`` (this plan's leaves) into the value; return its expression.

        ``fail``: the statement run instead of raising the precise error when a check fails (the fast
        path of ``decode`` hands such a frame to the general path, which raises it).
        """
        raise NotImplementedError


def _fail_lines(ind: str, fail: str, fn: str, args: list[str], suffix: str = "") -> list[str]:
    """``raise _rt.fn(args)`` (laid out as ruff format does), or the ``fail`` statement instead."""
    return [f"{ind}{fail}"] if fail else raise_lines(ind, fn, args, suffix)


_COMPACT = 2**30
"""CPython's "compact" ints (one 30-bit digit): comparisons of two of them are specialised (fast)."""


def _range_cond(
    var: str, lo: int | float, hi: int | float, type_lo: int | float, type_hi: int | float
) -> str:
    """The cheapest comparison that fails outside [lo, hi]; struct itself refuses beyond the type."""
    need_lo, need_hi = lo > type_lo, hi < type_hi
    if need_lo and need_hi:
        return f"not {py_literal(lo)} <= {var} <= {py_literal(hi)}"
    if need_lo:
        if isinstance(lo, int) and lo < -_COMPACT:
            # a non-negative value (the usual one) is told by one compare with a small int, which CPython
            # specialises for small values; the full compare with a big bound only runs for negatives
            return f"{var} < 0 and {var} < {lo}"
        return f"{var} < {py_literal(lo)}"
    if need_hi:
        return f"{var} > {py_literal(hi)}"
    return ""


@dataclass
class IntPlan(Plan):
    lo: int = 0
    hi: int = 0
    null: int = 0
    type_lo: int = 0
    type_hi: int = 0

    def _raise(self, ind: str, var: str, fail: str) -> list[str]:
        null = "None" if self.optional else str(self.null)
        return _fail_lines(ind, fail, "bad_int", [q(self.label), var, str(self.lo), str(self.hi), null])

    def _checks(self, var: str, out: list[str], ind: str, is_null: str, to_null: str, fail: str = "") -> None:
        cond = _range_cond(var, self.lo, self.hi, self.type_lo, self.type_hi)
        if self.optional:
            out += [f"{ind}if {is_null}:", f"{ind}    {to_null}"]
            if cond:
                out += [f"{ind}elif {cond}:", *self._raise(ind + "    ", var, fail)]
        elif cond:
            out += [f"{ind}if {cond}:", *self._raise(ind + "    ", var, fail)]

    def encode(self, src: str, var: str, out: list[str], ind: str) -> list[str]:
        out.append(f"{ind}{var} = {src}")
        self._checks(var, out, ind, f"{var} is None", f"{var} = {self.null}")
        return [var]

    def decode(self, raws: list[str], var: str, out: list[str], ind: str, fail: str = "") -> str:
        (raw,) = raws
        self._checks(raw, out, ind, f"{raw} == {self.null}", f"{raw} = None", fail)
        return raw


@dataclass
class FloatPlan(Plan):
    lo: float = 0.0
    hi: float = 0.0

    def _checks(self, var: str, out: list[str], ind: str, is_null: str, to_null: str, fail: str = "") -> None:
        cond = f"not {py_literal(self.lo)} <= {var} <= {py_literal(self.hi)}"
        error = _fail_lines(
            ind + "    ", fail, "bad_float", [q(self.label), var, py_literal(self.lo), py_literal(self.hi)]
        )
        if self.optional:
            out += [f"{ind}if {is_null}:", f"{ind}    {to_null}", f"{ind}elif {cond}:", *error]
        else:
            out += [f"{ind}if {cond}:", *error]

    def encode(self, src: str, var: str, out: list[str], ind: str) -> list[str]:
        out.append(f"{ind}{var} = {src}")
        self._checks(var, out, ind, f"{var} is None", f"{var} = _NAN")
        return [var]

    def decode(self, raws: list[str], var: str, out: list[str], ind: str, fail: str = "") -> str:
        (raw,) = raws
        self._checks(raw, out, ind, f"_rt.isnan({raw})", f"{raw} = None", fail)
        return raw


@dataclass
class CharsPlan(Plan):
    length: int = 0
    codec: str = "ascii"

    def encode(self, src: str, var: str, out: list[str], ind: str) -> list[str]:
        args = [q(self.label), src, str(self.length), q(self.codec)]
        out.append(f"{ind}try:")
        if self.optional:
            out.append(f'{ind}    {var} = b"" if {src} is None else {src}.encode({q(self.codec)})')
        else:
            out.append(f"{ind}    {var} = {src}.encode({q(self.codec)})")
        out.append(f"{ind}except UnicodeEncodeError:")
        out += raise_lines(ind + "    ", "bad_chars", args, " from None")
        out.append(f"{ind}if len({var}) > {self.length} or 0 in {var}:")
        out += raise_lines(ind + "    ", "bad_chars", args)
        return [var]

    def decode(self, raws: list[str], var: str, out: list[str], ind: str, fail: str = "") -> str:
        (raw,) = raws
        tail = " or None" if self.optional else ""
        # the bytes before the first NUL (a NUL ends the string, as in sbe-tool), in one partition
        out.append(f"{ind}try:")
        head = f'{ind}    {var} = {raw}.partition(b"\\x00")[0]'
        decode = f".decode({q(self.codec)}){tail}"
        if len(head + decode) <= LINE:
            out.append(head + decode)
        else:
            out += [head, f"{ind}    {var} = {var}{decode}"]
        out.append(f"{ind}except UnicodeDecodeError:")
        args = [q(self.label), raw, q(self.codec)]
        out += _fail_lines(ind + "    ", fail, "bad_chars_bytes", args, " from None")
        return var


@dataclass
class EnumPlan(Plan):
    enum: str = ""
    null: int = 0
    size: int = 1

    def encode(self, src: str, var: str, out: list[str], ind: str) -> list[str]:
        # a dict lookup both checks the value and gives a plain int, which struct packs faster than an IntEnum
        raw = f"_{constant_name(self.enum)}_RAW"
        error = raise_lines(ind + "    ", "bad_enum", [q(self.label), src, self.enum], " from None")
        out.append(f"{ind}try:")
        if self.optional:
            out.append(f"{ind}    {var} = {self.null} if {src} is None else {raw}[{src}]")
        else:
            out.append(f"{ind}    {var} = {raw}[{src}]")
        out += [f"{ind}except KeyError:", *error]
        return [var]

    def decode(self, raws: list[str], var: str, out: list[str], ind: str, fail: str = "") -> str:
        (raw,) = raws
        lookup = f"_{constant_name(self.enum)}_BY_VALUE"
        if self.optional:
            out += [f"{ind}if {raw} == {self.null}:", f"{ind}    {var} = None", f"{ind}else:"]
            ind += "    "
        out.append(f"{ind}{var} = {lookup}[{raw}]" if self.size == 1 else f"{ind}{var} = {lookup}({raw})")
        out.append(f"{ind}if {var} is None:")
        out += _fail_lines(ind + "    ", fail, "bad_enum", [q(self.label), raw, self.enum])
        return var


@dataclass
class SetPlan(Plan):
    flags: str = ""
    mask: int = 0

    def encode(self, src: str, var: str, out: list[str], ind: str) -> list[str]:
        out.append(f"{ind}{var} = {src}")
        out.append(f"{ind}if {var} & {~self.mask}:")
        out += raise_lines(ind + "    ", "bad_set", [q(self.label), var, self.flags, str(self.mask)])
        return [var]

    def decode(self, raws: list[str], var: str, out: list[str], ind: str, fail: str = "") -> str:
        (raw,) = raws
        out.append(f"{ind}if {raw} & {~self.mask}:")
        out += _fail_lines(ind + "    ", fail, "bad_set", [q(self.label), raw, self.flags, str(self.mask)])
        out.append(f"{ind}{var} = {self.flags}({raw})")
        return var


@dataclass
class CompositePlan(Plan):
    cls: str = ""
    members: list[tuple[str, Plan]] = field(default_factory=list)

    def encode(self, src: str, var: str, out: list[str], ind: str) -> list[str]:
        out.append(f"{ind}{var} = {src}")
        args: list[str] = []
        for attr, plan in self.members:
            args += plan.encode(f"{var}.{attr}", f"{var}_{attr}", out, ind)
        return args

    def decode(self, raws: list[str], var: str, out: list[str], ind: str, fail: str = "") -> str:
        values: list[tuple[str, str]] = []
        i = 0
        for attr, plan in self.members:
            n = len(plan.leaves)
            values.append((attr, plan.decode(raws[i : i + n], f"{var}_{attr}", out, ind, fail)))
            i += n
        out.append(f"{ind}{var} = _new({self.cls})")
        for attr, expr in values:
            out.append(f"{ind}{var}.{attr} = {expr}")
        return var


def _shift(leaves: list[Leaf], offset: int) -> list[Leaf]:
    return [Leaf(lf.code, lf.offset + offset, lf.size, lf.null) for lf in leaves]


def _simple_plan(t: SimpleType, label: str, optional: bool) -> Plan:
    prim = t.primitive
    if t.is_chars:
        codec = codec_name(t.character_encoding or "US-ASCII")
        return CharsPlan(
            label=label,
            optional=optional,
            leaves=[Leaf(f"{t.length}s", 0, t.size, f'b"\\x00" * {t.length}')],
            annotation="str | None" if optional else "str",
            spec_kind="str",
            spec_extra=f"({t.length}, {q(codec)})",
            length=t.length,
            codec=codec,
        )
    if prim.is_float:
        lo, hi = float(t.min_value), float(t.max_value)
        return FloatPlan(
            label=label,
            optional=optional,
            leaves=[Leaf(prim.code, 0, prim.size, "_NAN")],
            annotation="float | None" if optional else "float",
            spec_kind="float",
            spec_lo=py_literal(lo),
            spec_hi=py_literal(hi),
            lo=lo,
            hi=hi,
        )
    null = int(t.null_value)
    lo, hi = int(t.min_value), int(t.max_value)
    return IntPlan(
        label=label,
        optional=optional,
        leaves=[Leaf(prim.code, 0, prim.size, str(null))],
        annotation="int | None" if optional else "int",
        spec_kind="int",
        spec_lo=str(lo),
        spec_hi=str(hi),
        lo=lo,
        hi=hi,
        null=null,
        type_lo=prim.type_min,
        type_hi=prim.type_max,
    )


def collapsed_member(t: Composite) -> SimpleType | None:
    """The one non-constant member of a decimal-like composite (``Price``), which stands for it."""
    live = [m for m in t.members if not (isinstance(m.type, SimpleType) and m.type.presence == "constant")]
    if len(live) == 1 and isinstance(live[0].type, SimpleType) and not live[0].type.is_chars:
        return live[0].type
    return None


def plan_for(t: TypeDef, label: str, presence: str, since_version: int) -> Plan:
    """The plan of a field (or composite member) of type ``t``.

    A field added after version 0 is optional to Python: frames of older versions lack it.
    """
    optional = presence == "optional" or since_version > 0
    if isinstance(t, SimpleType):
        return _simple_plan(t, label, optional or t.presence == "optional")
    if isinstance(t, EnumType):
        return EnumPlan(
            label=label,
            optional=optional,
            leaves=[Leaf(t.encoding.code, 0, t.size, str(t.null_value))],
            annotation=f"{t.name} | None" if optional else t.name,
            spec_kind="enum",
            spec_extra=t.name,
            enum=t.name,
            null=t.null_value,
            size=t.size,
        )
    if isinstance(t, SetType):
        return SetPlan(
            label=label,
            optional=False,
            leaves=[Leaf(t.encoding.code, 0, t.size, "0")],
            annotation=t.name,
            spec_kind="set",
            spec_hi=str(t.mask),
            spec_extra=t.name,
            flags=t.name,
            mask=t.mask,
        )
    single = collapsed_member(t)
    if single is not None:
        member = next(m for m in t.members if m.type is single)
        plan = _simple_plan(single, label, optional or single.presence == "optional")
        plan.leaves = _shift(plan.leaves, member.offset)
        return plan
    cls = class_name(t.name)
    members: list[tuple[str, Plan]] = []
    leaves: list[Leaf] = []
    for m in t.members:
        if isinstance(m.type, SimpleType) and m.type.presence == "constant":
            continue
        sub = plan_for(m.type, f"{label}.{snake(m.name)}", "required", 0)
        members.append((snake(m.name), sub))
        leaves += _shift(sub.leaves, m.offset)
    return CompositePlan(
        label=label,
        optional=False,
        leaves=leaves,
        annotation=cls,
        spec_kind="composite",
        spec_extra=cls,
        cls=cls,
        members=members,
    )
