"""``rfq cluster status`` and ``rfq cluster snapshot``: the cluster as its members tell it, over HTTP.

Why HTTP: every node serves its own ``/status`` (``rfq.cluster.status``); these commands only read it
(and ask the leader for a snapshot), so they start no JVM, import no JPype, and work from any machine
that reaches the members' status ports.

Contract: members are named like ``rfq node`` names them (``--hosts`` and ``--port-base``: member i's
status port is ``port_base + 100 i + 8``) or explicitly (``--members host:port,...``, in member-id
order). Replicas are compared by the SHA-256 digests of the snapshots they took *at the same log
position* (every replica snapshots at the position where the leader appended the request). Exit codes
are :data:`STATUS_EXIT_CODES`; ``--json`` prints one JSON document for programs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

import click
import httpx

from rfq.topology import DEFAULT_PORT_BASE, Topology

EXIT_OK = 0
EXIT_DISAGREE = 1
EXIT_UNREACHABLE = 3
STATUS_EXIT_CODES = """\b
Exit codes:
  0  every member answered, one leader, the replicas' digests agree
  1  the replicas' digests differ at a snapshot position, no member leads, or a
     member says it leads an older term (snapshot: the request was refused)
  3  a member cannot be reached (snapshot: the snapshot was not seen in time)"""


@dataclass(frozen=True)
class MemberReport:
    """One member's ``/status`` document, or why it could not be read."""

    member_id: int
    endpoint: str
    status: dict[str, Any] | None = None
    error: str | None = None

    @property
    def reachable(self) -> bool:
        return self.status is not None


@dataclass(frozen=True)
class DigestCheck:
    """How the replicas' snapshot digests compare, position by position."""

    agree: bool | None
    """None when no two members took a snapshot at the same log position (nothing to compare)."""
    log_position: int | None
    """The latest log position at which at least two members have a digest."""
    members: list[int] = field(default_factory=list)
    """The members with a digest at ``log_position``."""
    disagreements: list[int] = field(default_factory=list)
    """Log positions at which members' digests differ."""


@dataclass(frozen=True)
class ClusterView:
    """What ``rfq cluster status`` concludes from the members' reports."""

    members: list[MemberReport]
    leader: int | None
    leadership_term_id: int | None
    digests: DigestCheck

    @property
    def unreachable(self) -> list[int]:
        return [m.member_id for m in self.members if not m.reachable]

    @property
    def stale_leaders(self) -> list[int]:
        """Members that say they lead a term older than the cluster's: deposed without knowing it."""
        return [
            m.member_id
            for m in self.members
            if m.status is not None
            and m.status.get("role") == "leader"
            and self.leadership_term_id is not None
            and int(m.status["leadership_term_id"]) < self.leadership_term_id
        ]

    @property
    def exit_code(self) -> int:
        if not any(m.reachable for m in self.members):
            return EXIT_UNREACHABLE
        if self.digests.agree is False or self.leader is None or self.stale_leaders:
            return EXIT_DISAGREE
        return EXIT_UNREACHABLE if self.unreachable else EXIT_OK

    def as_json(self) -> dict[str, Any]:
        return {
            "members": [
                {"member_id": m.member_id, "endpoint": m.endpoint, "reachable": m.reachable, "error": m.error}
                | (m.status or {})
                for m in self.members
            ],
            "leader": self.leader,
            "leadership_term_id": self.leadership_term_id,
            "digests": {
                "agree": self.digests.agree,
                "log_position": self.digests.log_position,
                "members": self.digests.members,
                "disagreements": self.digests.disagreements,
            },
            "unreachable": self.unreachable,
            "stale_leaders": self.stale_leaders,
            "exit_code": self.exit_code,
        }


def status_endpoints(members: str | None, hosts: str, port_base: int) -> list[str]:
    """``host:port`` of every member's status endpoint, in member-id order."""
    if members:
        return [member.strip() for member in members.split(",") if member.strip()]
    topology = Topology(hosts=tuple(h.strip() for h in hosts.split(",")), port_base=port_base)
    return topology.status_endpoints()


def fetch_reports(endpoints: Sequence[str], timeout_s: float) -> list[MemberReport]:
    """Every member's ``/status`` (an unreachable member's report says why)."""
    reports = []
    with httpx.Client(timeout=timeout_s) as client:
        for member_id, endpoint in enumerate(endpoints):
            try:
                response = client.get(f"http://{endpoint}/status")
                response.raise_for_status()
                reports.append(MemberReport(member_id, endpoint, status=response.json()))
            except (httpx.HTTPError, ValueError) as error:
                reports.append(MemberReport(member_id, endpoint, error=_reason(error)))
    return reports


def _reason(error: Exception) -> str:
    if isinstance(error, httpx.ConnectError):
        return "connection refused or no route"
    if isinstance(error, httpx.TimeoutException):
        return "timed out"
    return str(error) or type(error).__name__


def compare_digests(reports: Sequence[MemberReport]) -> DigestCheck:
    """Compare the members' snapshot digests at every log position two or more of them share."""
    by_position: dict[int, dict[int, str]] = {}
    for report in reports:
        for snapshot in (report.status or {}).get("snapshots") or []:
            by_position.setdefault(int(snapshot["log_position"]), {})[report.member_id] = snapshot["digest"]
    shared = sorted(position for position, digests in by_position.items() if len(digests) >= 2)
    disagreements = [position for position in shared if len(set(by_position[position].values())) > 1]
    if not shared:
        return DigestCheck(agree=None, log_position=None)
    latest = shared[-1]
    return DigestCheck(
        agree=not disagreements,
        log_position=latest,
        members=sorted(by_position[latest]),
        disagreements=disagreements,
    )


def assess(reports: list[MemberReport]) -> ClusterView:
    """The leader (a member that says so, its election closed, in the highest term any member
    reports) and the digests. During an election there is none: a new leader's role says ``leader``
    before its election closes and its term counter moves, so it would be named with the old term."""
    statuses = [r for r in reports if r.status is not None]
    terms = [int(r.status["leadership_term_id"]) for r in statuses if r.status is not None]
    current = max(terms, default=None)
    leaders = [
        r.member_id
        for r in statuses
        if r.status is not None
        and r.status.get("role") == "leader"
        and r.status.get("election", "CLOSED") == "CLOSED"
        and int(r.status["leadership_term_id"]) == current
    ]
    return ClusterView(
        members=reports,
        leader=leaders[0] if len(leaders) == 1 else None,
        leadership_term_id=current,
        digests=compare_digests(reports),
    )


def _render(view: ClusterView) -> None:
    header = f"{'member':<7}{'endpoint':<22}{'role':<10}{'term':>5}{'log pos':>13}{'commit pos':>13}"
    click.echo(f"{header}{'snapshot at':>13}  digest")
    for member in view.members:
        head = f"{member.member_id:<7}{member.endpoint:<22}"
        status = member.status
        if status is None:
            click.echo(f"{head}unreachable: {member.error}")
            continue
        snapshot = status.get("snapshot") or {}
        click.echo(
            f"{head}{status['role']:<10}{status['leadership_term_id']:>5}{status['log_position']:>13}"
            f"{status['commit_position']:>13}{snapshot.get('log_position', '-'):>13}"
            f"  {snapshot.get('digest', '-')[:16]}"
        )
    if view.leader is None:
        click.echo("leader: none")
    else:
        click.echo(f"leader: member {view.leader} (term {view.leadership_term_id})")
    for stale in view.stale_leaders:
        click.echo(f"member {stale} says it leads an older term: it was deposed and does not know it")
    digests = view.digests
    if digests.agree is None:
        click.echo("digests: nothing to compare (no two members have a snapshot at the same log position)")
    elif digests.agree:
        members = ", ".join(map(str, digests.members))
        click.echo(f"digests: agree (latest shared log position {digests.log_position}: members {members})")
    else:
        click.echo(f"digests: DIFFER at log positions {', '.join(map(str, digests.disagreements))}")


member_options = [
    click.option(
        "--hosts",
        default="localhost,localhost,localhost",
        show_default=True,
        help="Comma-separated host of every member, in member-id order (as for `rfq node`).",
    ),
    click.option(
        "--port-base",
        type=int,
        default=DEFAULT_PORT_BASE,
        show_default=True,
        help="The cluster's port base (member i's status port is port-base + 100 i + 8).",
    ),
    click.option(
        "--members",
        "members",
        default=None,
        help="Status endpoints host:port,... in member-id order (instead of --hosts/--port-base).",
    ),
    click.option(
        "--timeout",
        type=click.FloatRange(0.1, 60),
        default=2.0,
        show_default=True,
        help="Seconds per request.",
    ),
    click.option("--json", "as_json", is_flag=True, help="Print one JSON document."),
]


def _with_member_options(command: Any) -> Any:
    for option in reversed(member_options):
        command = option(command)
    return command


@click.command("status", epilog=STATUS_EXIT_CODES)
@_with_member_options
def status(hosts: str, port_base: int, members: str | None, timeout: float, as_json: bool) -> None:
    """Every member's role, term, log and commit positions and latest snapshot, and whether the
    replicas' snapshot digests agree (read from each node's status endpoint; no JVM)."""
    view = assess(fetch_reports(status_endpoints(members, hosts, port_base), timeout))
    if as_json:
        click.echo(json.dumps(view.as_json(), indent=2))
    else:
        _render(view)
    raise SystemExit(view.exit_code)


@click.command("snapshot", epilog=STATUS_EXIT_CODES)
@_with_member_options
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Wait until every reachable member has taken the snapshot, then compare their digests.",
)
@click.option(
    "--wait-timeout", type=click.FloatRange(1, 600), default=30.0, show_default=True, help="Seconds to wait."
)
def snapshot(
    hosts: str,
    port_base: int,
    members: str | None,
    timeout: float,
    as_json: bool,
    wait: bool,
    wait_timeout: float,
) -> None:
    """Ask the cluster for a snapshot now (through the leader's status endpoint; every replica
    snapshots at the same log position), and compare the replicas' digests."""
    endpoints = status_endpoints(members, hosts, port_base)
    before = assess(fetch_reports(endpoints, timeout))
    if not any(m.reachable for m in before.members):
        _fail("no member can be reached", EXIT_UNREACHABLE, as_json, before)
    if before.leader is None:
        _fail("no member leads the cluster now", EXIT_DISAGREE, as_json, before)
    leader = before.members[before.leader]
    try:
        answer = _post_snapshot(leader.endpoint, timeout, wait_timeout)
    except httpx.HTTPError as error:
        _fail(f"the leader {leader.endpoint}: {_reason(error)}", EXIT_UNREACHABLE, as_json, before)
    if answer.status_code != 202:
        _fail(f"the leader refused: {answer.text}", EXIT_DISAGREE, as_json, before)
    if not as_json:
        click.echo(f"snapshot requested from member {before.leader} ({leader.endpoint})")
    if not wait:
        return
    view = _await_snapshot(endpoints, before, timeout, wait_timeout)
    if view is None:
        _fail(
            f"the snapshot was not seen on every member within {wait_timeout} s",
            EXIT_UNREACHABLE,
            as_json,
            before,
        )
    if as_json:
        click.echo(json.dumps(view.as_json(), indent=2))
    else:
        _render(view)
    raise SystemExit(view.exit_code)


def _post_snapshot(endpoint: str, timeout: float, patience: float) -> httpx.Response:
    """POST /snapshot, asking again while the leader answers 503 (its election is completing)."""
    deadline = time.monotonic() + patience
    while True:
        answer = httpx.post(f"http://{endpoint}/snapshot", timeout=timeout)
        if answer.status_code != 503 or time.monotonic() >= deadline:
            return answer
        time.sleep(float(answer.headers.get("Retry-After", "1")))


def _snapshot_count(report: MemberReport) -> int:
    return int((report.status or {}).get("snapshots_taken", 0))


def _await_snapshot(
    endpoints: list[str], before: ClusterView, timeout_s: float, wait_s: float
) -> ClusterView | None:
    """The cluster once every member reachable before has counted one more snapshot; None on timeout."""
    counts = {m.member_id: _snapshot_count(m) for m in before.members if m.reachable}
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        view = assess(fetch_reports(endpoints, timeout_s))
        if all(
            view.members[member].reachable and _snapshot_count(view.members[member]) > count
            for member, count in counts.items()
        ):
            return view
        time.sleep(0.2)
    return None


def _fail(message: str, code: int, as_json: bool, view: ClusterView) -> NoReturn:
    if as_json:
        click.echo(json.dumps({"error": message, **view.as_json(), "exit_code": code}, indent=2))
    click.echo(f"rfq: {message}", err=True)
    raise SystemExit(code)


def register(group: click.Group) -> None:
    """Add ``status`` and ``snapshot`` to the ``rfq cluster`` group."""
    group.add_command(status)
    group.add_command(snapshot)
