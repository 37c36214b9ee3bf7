"""The one place that starts the JVM, and the ThreadFactory that runs Aeron agents on Python threads.

Python reaches Aeron Cluster through the Java implementation, in-process, with JPype. Two facts decide
how (measured, see shared/notes/aeron-from-python.md):

* A JVM can be started once per process, with its class path fixed at that moment: every caller goes
  through :func:`start`, which is idempotent and refuses a later, different class path loudly.
* A call from Java into Python costs 9-30 µs and leaks memory when it comes from a thread the JVM
  created, but ~3.5 µs and nothing when it comes from a thread Python created. Every Aeron agent that
  calls into Python (the clustered service container, nothing else) must therefore be started through
  :class:`PythonThreadFactory`.

Importing this module does not import JPype (each function does, when called): ``rfq.cli`` imports it,
and the operator commands (``rfq instrument ...``), which only speak HTTP, must not load the JVM bridge.
``RFQ_JVM_OPTS`` (space-separated, shell quoting) adds JVM options after the defaults, so that a later
``-Xms``/``-Xmx`` wins: it is how an operator sizes each process's heap.
"""

from __future__ import annotations

import gc
import os
import shlex
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = PROJECT_ROOT / "build"
JAR_DIR = BUILD_DIR / "jars"
CLASSES_DIR = BUILD_DIR / "maven" / "classes"
SBE_CLASSES_DIR = BUILD_DIR / "sbe-java" / "classes"
"""sbe-tool's Java codecs for schema/rfq.xml, compiled by `make codecs` (interop tests, benchmarks)."""

JVM_OPTIONS: tuple[str, ...] = (
    # Agrona reads and writes off-heap memory through jdk.internal.misc.Unsafe.
    "--add-opens=java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    # A fixed, pre-touched heap: no page faults while trading, and RSS that only a real leak can grow
    # (each JPype callback leaves a few hundred bytes of garbage that fill eden between collections).
    "-Xms512m",
    "-Xmx512m",
    "-XX:+AlwaysPreTouch",
    "-XX:+UseG1GC",
    "-XX:-RestrictContended",
    # Do not pass -Xrs: it breaks Agrona's ShutdownSignalBarrier.
)
JVM_OPTS_ENV = "RFQ_JVM_OPTS"
"""Extra JVM options, appended to :data:`JVM_OPTIONS` (e.g. ``-Xms256m -Xmx256m``: a smaller heap)."""

_lock = threading.Lock()
_classpath: tuple[str, ...] = ()


class JvmError(RuntimeError):
    """The JVM could not be started as asked (missing jars, or already started differently)."""


def default_classpath() -> list[str]:
    """The jars Maven copied into build/jars and the project's compiled Java classes (those present)."""
    if not JAR_DIR.is_dir() or not any(JAR_DIR.glob("*.jar")):
        raise JvmError(f"no jars in {JAR_DIR}: run `make install` first")
    entries = [str(jar) for jar in sorted(JAR_DIR.glob("*.jar"), key=_jar_order)]
    entries.extend(str(folder) for folder in (CLASSES_DIR, SBE_CLASSES_DIR) if folder.is_dir())
    return entries


def _jar_order(jar: Path) -> tuple[int, str]:
    # aeron-all first: both "all" jars bundle Agrona and Aeron's must win.
    return (0 if jar.name.startswith("aeron-all") else 1, jar.name)


def start(extra_classpath: Sequence[str | Path] = ()) -> None:
    """Start the JVM once for this process with the project's class path plus ``extra_classpath``.

    Calling again is a no-op when the extra entries were already on the class path; asking for an
    entry the running JVM does not have raises :class:`JvmError`, because the class path cannot grow.
    """
    global _classpath  # noqa: PLW0603 - the process has exactly one JVM
    import jpype

    extras = tuple(str(Path(entry).resolve()) for entry in extra_classpath)
    with _lock:
        if jpype.isJVMStarted():
            missing = [entry for entry in extras if entry not in _classpath]
            if missing:
                raise JvmError(f"the JVM is already running without {missing}; start it with them first")
            return
        classpath = (*default_classpath(), *extras)
        jpype.startJVM(*jvm_options(), classpath=list(classpath), convertStrings=False)
        _classpath = classpath
        _unhook_jpype_collector()


def _unhook_jpype_collector() -> None:
    """Take JPype's hook out of Python's collector: no Python collection ever stops the JVM.

    Why: JPype appends ``_jpype._collect`` to ``gc.callbacks``; after a Python collection, when the
    process's malloc'd memory has grown by 10 MB since it last looked (``mallinfo``), it calls
    ``System.gc()`` on the collecting thread, with the GIL held: a full, stop-the-world Java
    collection that also stops every Aeron agent and QuickFIX/J thread of the process. A gateway or a
    node whose state grows (live RFQs) crossed that line every few seconds under load. Measured in
    bench-fix's FIX gateway (500 QuoteRequests/s, -Xlog:gc, 2026-12-01): a ``Pause Full (System.gc())``
    of 55-113 ms every 7-10 s, each one a spike of 75-110 ms in the acknowledgement latency.

    What the hook is for does not arise here: it frees Python objects kept alive only by Java garbage
    (proxies, buffers a Java object wraps). The platform's Java-to-Python references are a handful of
    proxies made at start and kept for the process's life; Python keeps Java objects through JNI
    global references, released when the Python wrapper goes, whatever the Java heap does. The JVM
    collects its own heap as it fills, as any JVM does."""
    import _jpype

    hook = getattr(_jpype, "_collect", None)
    while hook is not None and hook in gc.callbacks:
        gc.callbacks.remove(hook)


def jvm_options() -> list[str]:
    """The options the JVM starts with: the defaults, then those of ``RFQ_JVM_OPTS``."""
    return [*JVM_OPTIONS, *shlex.split(os.environ.get(JVM_OPTS_ENV, ""))]


def is_started() -> bool:
    """True once :func:`start` has run in this process (False, importing nothing, before)."""
    return "jpype" in sys.modules and bool(sys.modules["jpype"].isJVMStarted())


DEFAULT_MAX_PARK_US = 100
"""The platform's longest park (Aeron's own default is 1 ms); see :func:`idle_strategy`."""


def idle_strategy(max_park_us: int = DEFAULT_MAX_PARK_US) -> Any:
    """The idle strategy of every Aeron agent the platform starts (drivers, archive, consensus module,
    service container, a gateway's wait for egress): spin 10 times, yield 20 times, then park from 1 µs,
    doubling up to ``max_park_us``. The longest park is the price, at worst once per hop, of the first
    message after a silence (a command crosses about eight agents on its way in and out), and every idle
    agent wakes up once per longest park (README, "Latency and idle CPU": 100 µs halves a lightly loaded
    REST create's latency against Aeron's 1 ms, for about 0.1 core of idle CPU per node)."""
    return jclass("org.agrona.concurrent.BackoffIdleStrategy")(10, 20, 1_000, max_park_us * 1_000)


def jclass(name: str) -> Any:
    """A Java class by its binary name (``io.aeron...`` cannot be imported: Python's ``io`` wins)."""
    import jpype

    return jpype.JClass(name)


class PythonThreadFactory:
    """A ``java.util.concurrent.ThreadFactory`` whose threads are Python threads.

    ``newThread(runnable)`` starts a Python ``threading.Thread`` that runs ``runnable.run()`` and
    returns an unstarted placeholder ``java.lang.Thread`` with nothing to run: Aeron's AgentRunner only
    names and starts what it is given, and binds itself to whichever thread calls ``run()``.
    Threads are detached from the JVM when their runnable returns; :meth:`join` waits for them.
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        import jpype

        self.proxy: Any = jpype.JProxy("java.util.concurrent.ThreadFactory", inst=self)

    def newThread(self, runnable: Any) -> Any:  # noqa: N802 - Java interface method
        """Start ``runnable`` on a new Python thread; return a placeholder Java thread."""
        with self._lock:
            thread = threading.Thread(
                target=self._run, args=([runnable],), name=f"{self._name}-{len(self._threads)}", daemon=True
            )
            self._threads.append(thread)
        thread.start()
        return jclass("java.lang.Thread")()

    @staticmethod
    def _run(holder: list[Any]) -> None:
        # Every reference to a Java object must be gone before detaching: releasing one later would
        # silently re-attach this thread, and a thread that ends attached stays in the JVM forever.
        runnable = holder.pop()
        thread_class = jclass("java.lang.Thread")
        try:
            runnable.run()
        finally:
            del runnable
            thread_class.detach()

    def join(self, timeout_s: float = 10.0) -> list[str]:
        """Wait for every thread this factory started; return the names of any still alive."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout_s)
        alive = [thread.name for thread in threads if thread.is_alive()]
        with self._lock:
            self._threads = [thread for thread in self._threads if thread.is_alive()]
        return alive
