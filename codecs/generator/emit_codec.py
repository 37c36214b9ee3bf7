"""The codec half of the emitter: block layouts, and encode/decode of blocks, groups and var data.

Split from :mod:`.emit` (which assembles the module: classes, enums, dispatch) so that each file reads
on its own. ``CodecEmitter`` is a mixin: it writes into ``self.out`` with the byte order ``self.bo``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .ir import Data, Field, GeneratorError, Group
from .naming import constant_name, snake
from .plans import Leaf, Plan, assign_lines, call_lines, codec_name, q, raise_lines

__all__ = ["CodecEmitter", "Container", "FieldInfo", "struct_format"]


def struct_format(byte_order: str, leaves: list[Leaf], size: int) -> str:
    """struct format of ``leaves`` (offsets from 0) padded to ``size`` bytes; gaps become pad bytes."""
    parts, pos = [], 0
    for lf in sorted(leaves, key=lambda x: x.offset):
        if lf.offset < pos:
            raise GeneratorError(f"overlapping fields at offset {lf.offset}")
        if lf.offset > pos:
            parts.append(f"{lf.offset - pos}x")
        parts.append(lf.code)
        pos = lf.offset + lf.size
    if size > pos:
        parts.append(f"{size - pos}x")
    return byte_order + "".join(parts)


@dataclass
class FieldInfo:
    field: Field
    attr: str
    plan: Plan | None  # None for constants


@dataclass
class Container:
    """A message or a group entry: what both need emitted."""

    name: str  # class name
    label: str  # for errors: Message or Message.group
    block_length: int
    fields: list[FieldInfo]
    groups: list[tuple[str, Group, Container]]
    data: list[tuple[str, Data]]

    @property
    def leaves(self) -> list[Leaf]:
        out: list[Leaf] = []
        for f in self.fields:
            if f.plan is not None:
                out += [Leaf(lf.code, lf.offset + f.field.offset, lf.size, lf.null) for lf in f.plan.leaves]
        return out

    @property
    def max_since(self) -> int:
        return max([f.field.since_version for f in self.fields if f.plan is not None] or [0])

    @property
    def fields_end(self) -> int:
        return max([f.field.offset + f.field.size for f in self.fields if f.plan is not None] or [0])


class CodecEmitter:
    """Encode/decode code of containers (messages and group entries) and of their groups."""

    out: list[str]
    bo: str

    def w(self, *lines: str) -> None:
        self.out.extend(lines)

    def layout(self, var: str, c: Container) -> None:
        """The BlockLayout used by the slow path (acting version older, or blockLength shorter)."""
        items = []
        for f in c.fields:
            if f.plan is None:
                continue
            fmt = struct_format(self.bo, f.plan.leaves, 0)
            nulls = ", ".join(lf.null for lf in f.plan.leaves) + ("," if len(f.plan.leaves) == 1 else "")
            codec = f"struct.Struct({q(fmt)})"
            items.append(f"_rt.FieldLayout({f.field.since_version}, {f.field.offset}, {codec}, ({nulls}))")
        mins = []
        for v in range(c.max_since + 1):
            ends = [
                f.field.offset + f.field.size
                for f in c.fields
                if f.plan is not None and f.field.since_version <= v
            ]
            mins.append(str(max(ends or [0])))
        items_src = call_lines("    ", "(", items, "),", tuple_=True)
        min_src = "(" + ", ".join(mins) + ("," if len(mins) == 1 else "") + ")"
        self.w(f"{var} = _rt.BlockLayout(", f"    {q(c.label)},", *items_src, f"    {min_src},", ")")

    def encode_fields(self, c: Container, obj: str, ind: str) -> list[str]:
        args: list[str] = []
        for f in c.fields:
            if f.plan is not None:
                args += f.plan.encode(f"{obj}.{f.attr}", f"f_{f.attr}", self.out, ind)
        return args

    def raw_names(self, c: Container) -> list[str]:
        """Locals the block's struct unpacks into, one a leaf."""
        raws: list[str] = []
        for f in c.fields:
            if f.plan is not None:
                n = len(f.plan.leaves)
                raws += [f"f_{f.attr}"] if n == 1 else [f"f_{f.attr}_{i}" for i in range(n)]
        return raws

    def convert_block(self, c: Container, ind: str, fail: str = "") -> list[tuple[str, str]]:
        """Lines that check the raw locals and make them values; (attr, expr) pairs.

        ``fail``: the statement a failed check runs instead of raising (see ``Plan.decode``).
        """
        raws = self.raw_names(c)
        values = []
        i = 0
        for f in c.fields:
            if f.plan is None:
                continue
            n = len(f.plan.leaves)
            values.append((f.attr, f.plan.decode(raws[i : i + n], f"v_{f.attr}", self.out, ind, fail)))
            i += n
        return values

    def decode_block(
        self, c: Container, struct_var: str, layout_var: str, pos: str, ind: str
    ) -> list[tuple[str, str]]:
        """Lines that unpack a group entry's block at ``pos`` (acting ``block_length``/``version``)."""
        raws = self.raw_names(c)
        if raws:
            cond = f"block_length >= {c.block_length}"
            if c.max_since > 0:
                cond += f" and version >= {c.max_since}"
            self.w(f"{ind}if {cond}:")
            self.w(*assign_lines(f"{ind}    ", raws, f"{struct_var}.unpack_from(", ["buf", pos]))
            self.w(f"{ind}else:")
            args = ["buf", pos, "block_length", "version", layout_var]
            self.w(*assign_lines(f"{ind}    ", raws, "_rt.read_block(", args))
        return self.convert_block(c, ind)

    def encode_parts(self, c: Container, obj: str, ind: str) -> None:
        """Groups and var data after a block, advancing ``pos``."""
        for attr, _, sub in c.groups:
            self.w(f"{ind}pos = _encode_{snake(sub.name)}({obj}.{attr}, buf, pos)")
        for attr, d in c.data:
            length = d.length_type
            lname = f"_{constant_name(d.type.name)}_LENGTH"
            label = f"{c.label}.{attr}"
            if d.character_encoding:
                self.w(f"{ind}data = {obj}.{attr}.encode({q(codec_name(d.character_encoding))})")
            else:
                self.w(f"{ind}data = {obj}.{attr}")
            self.w(f"{ind}size = len(data)")
            self.w(f"{ind}if size > {d.max_length}:")
            self.w(f"{ind}    raise _rt.data_too_long({q(label)}, size, {d.max_length})")
            self.w(f"{ind}{lname}.pack_into(buf, pos, size)")
            self.w(f"{ind}pos += {length.size}")
            self.w(f"{ind}buf[pos : pos + size] = data")
            self.w(f"{ind}pos += size")

    def decode_parts(self, c: Container, obj: str, ind: str) -> None:
        for attr, g, sub in c.groups:
            fn = f"_decode_{snake(sub.name)}"
            if g.since_version > 0:
                self.w(f"{ind}if version >= {g.since_version}:")
                self.w(f"{ind}    {obj}.{attr}, pos = {fn}(buf, pos, limit, version)")
                self.w(f"{ind}else:", f"{ind}    {obj}.{attr} = []")
            else:
                self.w(f"{ind}{obj}.{attr}, pos = {fn}(buf, pos, limit, version)")
        for attr, d in c.data:
            self._decode_data(c, d, f"{obj}.{attr}", attr, ind)

    def _decode_data(self, c: Container, d: Data, target: str, attr: str, ind: str) -> None:
        label = f"{c.label}.{attr}"
        empty = '""' if d.character_encoding else 'b""'
        if d.since_version > 0:
            self.w(f"{ind}if version < {d.since_version}:", f"{ind}    {target} = {empty}", f"{ind}else:")
            ind += "    "
        lsize = d.length_type.size
        lname = f"_{constant_name(d.type.name)}_LENGTH"
        self.w(f"{ind}if pos + {lsize} > limit:")
        self.w(f'{ind}    raise _rt.short_frame({q(label)}, pos + {lsize}, limit, "the var data length")')
        self.w(f"{ind}(size,) = {lname}.unpack_from(buf, pos)")
        self.w(f"{ind}pos += {lsize}")
        self.w(f"{ind}if size > {d.max_length}:")
        self.w(f"{ind}    raise _rt.data_too_long({q(label)}, size, {d.max_length})")
        self.w(f"{ind}if pos + size > limit:")
        self.w(f'{ind}    raise _rt.short_frame({q(label)}, pos + size, limit, "the var data")')
        if d.character_encoding:
            codec = codec_name(d.character_encoding)
            self.w(f"{ind}try:")
            self.w(f"{ind}    {target} = bytes(buf[pos : pos + size]).decode({q(codec)})")
            self.w(f"{ind}except UnicodeDecodeError:")
            args = [q(label), "bytes(buf[pos : pos + size])", q(codec)]
            self.w(*raise_lines(f"{ind}    ", "bad_chars_bytes", args, " from None"))
        else:
            self.w(f"{ind}{target} = bytes(buf[pos : pos + size])")
        self.w(f"{ind}pos += size")

    def length_terms(self, c: Container, obj: str) -> list[str]:
        """Terms (to add up) of the bytes after the block: group sizes, var data lengths."""
        terms = []
        for attr, _, sub in c.groups:
            terms.append(f"_length_{snake(sub.name)}({obj}.{attr})")
        for attr, d in c.data:
            terms.append(str(d.length_type.size))
            if d.character_encoding:
                terms.append(f"len({obj}.{attr}.encode({q(codec_name(d.character_encoding))}))")
            else:
                terms.append(f"len({obj}.{attr})")
        return terms

    def group_functions(self, c: Container, g: Group) -> None:
        """Length, encode and decode functions of the group whose entries are ``c``; nested first."""
        for _, sub_g, sub in c.groups:
            self.group_functions(sub, sub_g)
        fn = snake(c.name)
        cname = constant_name(c.name)
        dim = g.dimension
        count = g.count_type
        lo, hi = int(count.min_value), int(count.max_value)
        leaves = c.leaves
        # length
        self.w("", "")
        self.w(f"def _length_{fn}(entries: Sequence[{c.name}]) -> int:")
        terms = self.length_terms(c, "entry")
        if not terms:
            self.w(f"    return {dim.size} + {c.block_length} * len(entries)")
        else:
            each = " + ".join([str(c.block_length), *terms])
            self.w(*call_lines("    ", f"return {dim.size} + sum(", [f"{each} for entry in entries"]))
        # encode
        dim_args = ["pos"] + ["block_length" if m.name == "blockLength" else "count" for m in dim.members]
        self.w("", "")
        self.w(
            *call_lines(
                "",
                f"def _encode_{fn}(",
                [f"entries: Sequence[{c.name}]", "buf: WritableBuffer", "pos: int"],
                ") -> int:",
            )
        )
        self.w("    count = len(entries)")
        cond = f"count > {hi}" if lo <= 0 else f"not {lo} <= count <= {hi}"
        self.w(f"    if {cond}:", f"        raise _rt.group_count({q(c.label)}, count, {lo}, {hi})")
        self.w(f"    block_length = {c.block_length}")
        self.w(f"    _{cname}_DIMENSION.pack_into(buf, {', '.join(dim_args)})")
        self.w(f"    pos += {dim.size}")
        self.w("    for entry in entries:")
        args = self.encode_fields(c, "entry", "        ")
        if leaves:
            self.w(*call_lines("        ", f"_{cname}_BLOCK.pack_into(", ["buf", "pos", *args]))
        if c.block_length:
            self.w(f"        pos += {c.block_length}")
        self.encode_parts(c, "entry", "        ")
        if not leaves and not c.groups and not c.data and not c.block_length:
            self.w("        pass")
        self.w("    return pos")
        # decode
        self.w("", "")
        self.w(
            *call_lines(
                "",
                f"def _decode_{fn}(",
                ["buf: Buffer", "pos: int", "limit: int", "version: int"],
                f") -> tuple[list[{c.name}], int]:",
            )
        )
        self.w(f"    if pos + {dim.size} > limit:")
        self.w(f'        raise _rt.short_frame({q(c.label)}, pos + {dim.size}, limit, "the group header")')
        names = ["block_length" if m.name == "blockLength" else "count" for m in dim.members]
        self.w(f"    {', '.join(names)} = _{cname}_DIMENSION.unpack_from(buf, pos)")
        self.w(f"    pos += {dim.size}")
        cond = f"count > {hi}" if lo <= 0 else f"not {lo} <= count <= {hi}"
        self.w(f"    if {cond}:", f"        raise _rt.group_count({q(c.label)}, count, {lo}, {hi})")
        self.w(f"    entries: list[{c.name}] = []")
        self.w("    for _ in range(count):")
        self.w("        end = pos + block_length")
        self.w("        if end > limit:")
        self.w(f'            raise _rt.short_frame({q(c.label)}, end, limit, "a group entry")')
        values = self.decode_block(c, f"_{cname}_BLOCK", f"_{cname}_LAYOUT", "pos", "        ")
        if not leaves:
            self.w(f"        if block_length < {c.fields_end}:")
            self.w(
                f"            raise _rt.block_too_short({q(c.label)}, block_length, {c.fields_end}, version)"
            )
        self.w(f"        entry = _new({c.name})")
        for attr, expr in values:
            self.w(f"        entry.{attr} = {expr}")
        self.w("        pos = end")
        self.decode_parts(c, "entry", "        ")
        self.w("        entries.append(entry)")
        self.w("    return entries, pos")
