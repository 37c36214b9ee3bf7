"""Shared fixtures: one JVM per test process, free loopback ports, and leak checks."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rfq.topology import Topology, free_port_base


@pytest.fixture(scope="session")
def jvm() -> None:
    """Start the process's JVM once (its class path cannot change afterwards)."""
    from rfq import jvm as jvm_module

    jvm_module.start()


@pytest.fixture
def topology() -> Topology:
    """A one-member loopback topology on ports nobody uses right now."""
    return Topology(port_base=free_port_base())


@dataclass(frozen=True)
class ProcessFootprint:
    """What a test could leave behind in this process and on this machine."""

    python_threads: frozenset[str]
    java_threads: frozenset[str]
    child_pids: frozenset[int]
    shm: frozenset[str]
    open_fds: int


def _children() -> frozenset[int]:
    me = str(os.getpid())
    children = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[1] == me:
                children.add(int(entry))
    return frozenset(children)


def take_footprint() -> ProcessFootprint:
    """Threads (Python and, if running, Java), child processes, this process's /dev/shm entries and
    open file descriptors."""
    from rfq import jvm

    java_threads: frozenset[str] = frozenset()
    if jvm.is_started():
        thread_class = jvm.jclass("java.lang.Thread")
        java_threads = frozenset(str(t.getName()) for t in thread_class.getAllStackTraces().keySet())
    shm = Path("/dev/shm")
    # only what this process names as its own: other processes (other test runs) may come and go
    mine = f"-{os.getpid()}-"
    return ProcessFootprint(
        python_threads=frozenset(t.name for t in threading.enumerate()),
        java_threads=java_threads,
        child_pids=_children(),
        shm=frozenset(n for n in os.listdir(shm) if mine in n) if shm.is_dir() else frozenset(),
        open_fds=len(os.listdir("/proc/self/fd")),
    )


@pytest.fixture
def footprint() -> Callable[[], ProcessFootprint]:
    """A function that records the current :class:`ProcessFootprint`."""
    return take_footprint


@pytest.fixture
def no_leftover_shm() -> Iterator[None]:
    """Fail the test if it leaves a new entry in /dev/shm (where Aeron directories live)."""
    before = take_footprint().shm
    yield
    leftover = take_footprint().shm - before
    assert not leftover, f"left behind in /dev/shm: {sorted(leftover)}"


_NO_JVM_CLI = """
import runpy, sys
sys.argv = ["rfq", *sys.argv[1:]]
code = 0
try:
    runpy.run_module("rfq", run_name="__main__")
except SystemExit as done:
    code = done.code
if "jpype" in sys.modules:
    sys.exit("the rfq command loaded JPype")
sys.exit(code)
"""


@pytest.fixture
def rfq_without_jvm() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``rfq ARGS...`` in a new process that fails (exit 1, a message) if the command loads JPype."""

    def run(*args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-c", _NO_JVM_CLI, *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)

    return run
