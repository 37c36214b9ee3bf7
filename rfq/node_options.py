"""The ``rfq node`` options that tune failover and place the status endpoint, and the Aeron agents'
longest park (also on ``rfq run`` and the gateways).

Why a module of its own: ``rfq.cli`` imports it at start-up for every command, so it must not import
the node (JPype); the defaults live in one place each, :class:`rfq.cluster.node.NodeConfig` and
:data:`rfq.jvm.DEFAULT_MAX_PARK_US`, and an option left out keeps that default.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from rfq.jvm import DEFAULT_MAX_PARK_US  # no JPype: rfq.jvm imports it only to start the JVM

F = TypeVar("F", bound=Callable[..., Any])

FAILOVER_OPTIONS: dict[str, str] = {
    "leader_heartbeat_timeout_ms": "Silence from the leader that starts an election (most of a failover).",
    "leader_heartbeat_interval_ms": "How often an idle leader says it lives.",
    "election_timeout_ms": "How long a candidate waits for votes; its half bounds the nomination delay.",
    "election_status_interval_ms": "How often members in an election exchange log positions.",
    "startup_canvass_timeout_ms": "At start-up, how long to wait for every member before a quorum elects.",
    "session_timeout_ms": "A client session silent this long is closed.",
}
"""``NodeConfig`` field → help; each becomes ``--field-name`` (see docs/operations.md for trade-offs)."""


def failover_options(command: F) -> F:
    """Add one option per :data:`FAILOVER_OPTIONS`; the command receives those given as
    ``timeouts: dict[str, int]`` (NodeConfig keyword arguments)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        given = {name: kwargs.pop(name) for name in FAILOVER_OPTIONS}
        timeouts = {name: value for name, value in given.items() if value is not None}
        return command(*args, timeouts=timeouts, **kwargs)

    decorated: Any = wrapper
    for name, text in reversed(FAILOVER_OPTIONS.items()):
        flag = "--" + name.replace("_", "-")
        decorated = click.option(
            flag, name, type=click.IntRange(min=1), default=None, help=f"{text} [default: NodeConfig's]"
        )(decorated)
    return decorated  # type: ignore[no-any-return]


def status_options(command: F) -> F:
    """``--status-host`` and ``--status-port`` (None: the topology's status port; 0: no endpoint)."""
    command = click.option(
        "--status-port",
        type=click.IntRange(0, 65535),
        default=None,
        help="Port of this node's /status, /metrics and POST /snapshot endpoint "
        "[default: port-base + 100 id + 8; 0: none].",
    )(command)
    return click.option(
        "--status-host",
        default="127.0.0.1",
        show_default=True,
        help="Address the status endpoint listens on (its POST /snapshot has no authentication: "
        "keep it on loopback or a private network).",
    )(command)


IDLE_ENV = "RFQ_AERON_MAX_PARK_US"


def idle_option(command: F) -> F:
    """``--idle-max-park-us`` (or ``RFQ_AERON_MAX_PARK_US``): the longest an idle Aeron agent of this
    process parks (:func:`rfq.jvm.idle_strategy`; README, "Latency and idle CPU")."""
    return click.option(
        "--idle-max-park-us",
        type=click.IntRange(1, 1_000_000),
        default=DEFAULT_MAX_PARK_US,
        show_default=True,
        envvar=IDLE_ENV,
        help="Longest park of this process's idle Aeron agents, in µs (env "
        f"{IDLE_ENV}): shorter answers sooner after a silence, for more idle CPU.",
    )(command)
