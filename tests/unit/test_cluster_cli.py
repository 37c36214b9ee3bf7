"""`rfq cluster status|snapshot` against stand-in members (stdlib HTTP servers serving canned /status):
the leader, the digest comparison position by position, the exit codes, --json. No JVM, no cluster."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from click.testing import CliRunner

from rfq.cli import main
from rfq.cluster_cli import MemberReport, assess, compare_digests, status_endpoints


def member(
    member_id: int,
    role: str = "follower",
    term: int = 2,
    snapshots: list[tuple[int, str]] | None = None,
    election: str = "CLOSED",
) -> dict[str, Any]:
    listed = [{"log_position": p, "digest": d} for p, d in snapshots or []]
    return {
        "member_id": member_id,
        "role": role,
        "leadership_term_id": term,
        "election": election,
        "log_position": 1000,
        "commit_position": 1000,
        "snapshot": listed[-1] if listed else None,
        "snapshots": listed,
        "snapshots_taken": len(listed),
    }


def reports(*statuses: dict[str, Any] | None) -> list[MemberReport]:
    return [
        MemberReport(i, f"h:{i}", status=s, error=None if s else "connection refused")
        for i, s in enumerate(statuses)
    ]


def test_digests_are_compared_at_the_same_log_position() -> None:
    agree = compare_digests(
        reports(
            member(0, snapshots=[(100, "a"), (200, "b")]),
            member(1, snapshots=[(200, "b")]),
            member(2, snapshots=[(100, "a")]),
        )
    )
    assert (agree.agree, agree.log_position, agree.members) == (True, 200, [0, 1])
    differ = compare_digests(reports(member(0, snapshots=[(100, "a")]), member(1, snapshots=[(100, "x")])))
    assert (differ.agree, differ.disagreements) == (False, [100])
    lone = compare_digests(reports(member(0, snapshots=[(100, "a")]), member(1, snapshots=[(200, "a")])))
    assert (lone.agree, lone.log_position) == (None, None)


def test_the_leader_is_the_one_leading_the_highest_term_and_exit_codes_follow() -> None:
    ok = assess(reports(member(0, "leader"), member(1), member(2)))
    assert (ok.leader, ok.leadership_term_id, ok.exit_code) == (0, 2, 0)
    stale = assess(reports(member(0, "leader", term=1), member(1, term=2), member(2, term=2)))
    assert (stale.leader, stale.exit_code) == (None, 1)
    deposed = assess(reports(member(0, "leader", term=1), member(1, "leader", term=2), member(2, term=2)))
    assert (deposed.leader, deposed.stale_leaders, deposed.exit_code) == (1, [0], 1)
    killed = assess(reports(None, member(1, "leader", term=3), member(2, term=3)))
    assert (killed.leader, killed.unreachable, killed.exit_code) == (1, [0], 3)
    differ = assess(reports(member(0, "leader", snapshots=[(5, "a")]), member(1, snapshots=[(5, "b")])))
    assert differ.exit_code == 1
    assert assess(reports(None, None, None)).exit_code == 3


def test_a_leader_whose_election_has_not_closed_is_not_named_yet() -> None:
    # Aeron sets the role counter before the term counter: mid-election the new leader says
    # "leader" in the dead leader's term
    electing = assess(reports(None, member(1, "leader", term=2, election="LEADER_REPLAY"), member(2, term=2)))
    assert (electing.leader, electing.exit_code) == (None, 1)
    elected = assess(reports(None, member(1, "leader", term=3), member(2, term=3)))
    assert (elected.leader, elected.leadership_term_id) == (1, 3)


def test_members_are_named_like_rfq_node_names_them() -> None:
    assert status_endpoints(None, "a,b", 30000) == ["a:30008", "b:30108"]
    assert status_endpoints("x:1, y:2", "ignored", 0) == ["x:1", "y:2"]


class _Member(BaseHTTPRequestHandler):
    server: Any

    def do_GET(self) -> None:
        self._answer(200, self.server.document)

    def do_POST(self) -> None:
        self.server.posts += 1
        if self.server.document["role"] != "leader":
            self._answer(409, {"error": "not the leader"})
            return
        self._answer(202, {"requested": True})
        for server in self.server.group:  # every replica snapshots at the same position
            position = 5000
            server.document["snapshots"].append({"log_position": position, "digest": server.digest})
            server.document["snapshot"] = server.document["snapshots"][-1]
            server.document["snapshots_taken"] += 1

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def members() -> Iterator[Callable[..., str]]:
    """Start stand-in members serving the given documents; returns ``--members`` for them."""
    servers: list[Any] = []

    def start(*documents: dict[str, Any], digests: tuple[str, ...] = ()) -> str:
        for i, document in enumerate(documents):
            server: Any = ThreadingHTTPServer(("127.0.0.1", 0), _Member)
            server.document, server.posts, server.group = document, 0, servers
            server.digest = digests[i] if digests else "d"
            threading.Thread(target=server.serve_forever, daemon=True).start()
            servers.append(server)
        return ",".join(f"127.0.0.1:{s.server_address[1]}" for s in servers)

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_status_prints_every_member_and_agreement(members: Callable[..., str]) -> None:
    endpoints = members(
        member(0, "leader", snapshots=[(10, "abc")]),
        member(1, snapshots=[(10, "abc")]),
        member(2, snapshots=[(10, "abc")]),
    )
    result = CliRunner().invoke(main, ["cluster", "status", "--members", endpoints])
    assert result.exit_code == 0, result.output
    assert "leader: member 0 (term 2)" in result.output
    assert "digests: agree" in result.output
    as_json = CliRunner().invoke(main, ["cluster", "status", "--json", "--members", endpoints])
    view = json.loads(as_json.output)
    assert view["leader"] == 0 and view["digests"]["agree"] is True and view["exit_code"] == 0


def test_status_exits_3_when_a_member_cannot_be_reached(members: Callable[..., str]) -> None:
    endpoints = members(member(0, "leader"), member(1)) + ",127.0.0.1:1"
    result = CliRunner().invoke(main, ["cluster", "status", "--members", endpoints, "--timeout", "1"])
    assert result.exit_code == 3, result.output
    assert "unreachable" in result.output and "leader: member 0" in result.output


def test_snapshot_asks_the_leader_and_compares_the_new_digests(members: Callable[..., str]) -> None:
    endpoints = members(member(0), member(1, "leader"), member(2), digests=("d", "d", "d"))
    result = CliRunner().invoke(main, ["cluster", "snapshot", "--members", endpoints, "--json"])
    assert result.exit_code == 0, result.output
    view = json.loads(result.output)
    assert view["digests"] == {"agree": True, "log_position": 5000, "members": [0, 1, 2], "disagreements": []}


def test_snapshot_reports_replicas_that_differ(members: Callable[..., str]) -> None:
    endpoints = members(member(0, "leader"), member(1), digests=("d", "e"))
    result = CliRunner().invoke(main, ["cluster", "snapshot", "--members", endpoints])
    assert result.exit_code == 1, result.output
    assert "DIFFER at log positions 5000" in result.output


def test_snapshot_without_a_leader_exits_1(members: Callable[..., str]) -> None:
    endpoints = members(member(0), member(1))
    result = CliRunner().invoke(main, ["cluster", "snapshot", "--members", endpoints])
    assert result.exit_code == 1
    assert "no member leads" in result.output


def test_rfq_cluster_without_a_subcommand_still_starts_local_nodes() -> None:
    result = CliRunner().invoke(main, ["cluster", "--help"])
    assert result.exit_code == 0
    assert "Start a local multi-node cluster" in result.output
    assert "status" in result.output and "snapshot" in result.output
