"""Direct (off-heap) buffers that Java and Python share without copying.

A direct ``ByteBuffer`` wrapped in an Agrona ``UnsafeBuffer``: Java copies a received frame into it or
offers from it; Python reads and writes the same bytes through a ``memoryview`` made once. The
memory lives as long as this object, so the view never dangles (unlike a view of a term buffer,
which Aeron may unmap).
"""

from __future__ import annotations

from typing import Any

from rfq import jvm


class SharedBuffer:
    """``capacity`` bytes visible to Java as :attr:`unsafe` and to Python as :attr:`view`."""

    __slots__ = ("byte_buffer", "capacity", "unsafe", "view")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.byte_buffer: Any = jvm.jclass("java.nio.ByteBuffer").allocateDirect(capacity)
        self.unsafe: Any = jvm.jclass("org.agrona.concurrent.UnsafeBuffer")(self.byte_buffer)
        self.view = memoryview(self.byte_buffer).cast("B")
