"""Operator commands: ``rfq instrument``, ``rfq user`` and ``rfq rfqs``, over the web gateway's API.

Why HTTP: an operator's command is one request to a running gateway, which already holds the
cluster session, the directory and the mirror. So these commands start no JVM and import no JPype
(``tests/unit/test_admin_cli.py`` checks), and they work from any machine that reaches the gateway.

Contract: configuration by options or environment (``--url``/``RFQ_URL``, ``--token``/``RFQ_TOKEN``,
an operator's token); people get tables (``rich``), programs get ``--json`` (the API's own bodies);
errors go to stderr in words; exit codes are :data:`EXIT_CODES`. CUSIPs are checked here with the
domain's own rule before anything is sent, and the platform's INVALID_CUSIP refusal says the same.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

import click

from rfq.client import (
    DEFAULT_URL,
    EXIT_BAD_INPUT,
    EXIT_REFUSED,
    TOKEN_ENV,
    URL_ENV,
    ApiError,
    GatewayClient,
)

EXIT_CODES = """\b
Exit codes:
  0  done
  1  refused by the platform (not allowed, unknown, or in conflict with its state)
  2  usage error or bad input (e.g. a CUSIP whose check digit is wrong)
  3  cannot reach the platform (no gateway at the URL, or its cluster did not answer)"""

P = ParamSpec("P")
R = TypeVar("R")


class CommandFailed(click.ClickException):
    """An operator command that did not succeed, with the exit code of :data:`EXIT_CODES`."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class Session:
    """What every operator command gets: the gateway client and how to print."""

    api: GatewayClient
    as_json: bool

    def emit(self, data: Any, human: Callable[[], None]) -> None:
        """Print ``data`` as JSON for programs, or call ``human`` for people."""
        if self.as_json:
            click.echo(json.dumps(data, indent=2))
        else:
            human()


def operator_command(
    command: Callable[Concatenate[Session, P], R],
) -> Callable[P, R]:
    """Add ``--url``, ``--token`` and ``--json`` to a command, hand it a :class:`Session`, and turn
    :class:`ApiError` into its exit code with a message on stderr."""

    @click.option(
        "--url",
        envvar=URL_ENV,
        default=DEFAULT_URL,
        show_default=True,
        show_envvar=True,
        help="The web gateway's base URL.",
    )
    @click.option("--token", envvar=TOKEN_ENV, show_envvar=True, help="An operator's API token.")
    @click.option("--json", "as_json", is_flag=True, help="Print the API's JSON (for programs).")
    @click.option("--timeout", type=float, default=10.0, show_default=True, help="Seconds to wait per call.")
    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        url = str(kwargs.pop("url"))
        token = kwargs.pop("token")
        as_json = bool(kwargs.pop("as_json"))
        timeout = float(kwargs.pop("timeout"))  # type: ignore[arg-type]
        if not token:
            raise click.UsageError(f"no API token: set {TOKEN_ENV} or pass --token")
        with GatewayClient(url, str(token), timeout) as api:
            try:
                return command(Session(api, as_json), *args, **kwargs)
            except ApiError as error:
                raise CommandFailed(str(error), error.exit_code) from error

    return run


# --- output helpers -------------------------------------------------------------------------------
@contextmanager
def _table(*columns: str) -> Iterator[Any]:
    """A rich table, printed when the block ends; rows are never wrapped when the output is not a
    terminal (a pipe, a file), so that ``grep`` sees one line per row."""
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns, box=None, header_style="bold", pad_edge=False)
    yield table
    if sys.stdout.isatty():
        Console().print(table)
        return
    console = Console(width=1_000, no_color=True)
    with console.capture() as captured:
        console.print(table)
    click.echo("\n".join(line.rstrip() for line in captured.get().splitlines()))


def _quantity(value: int) -> str:
    return f"{value:,}"


def _name(ref: dict[str, Any] | None) -> str:
    if not ref:
        return ""
    return str(ref.get("name") or f"user {ref.get('user_id')}")


def _when(stamp: str | None) -> str:
    """An RFC 3339 time as ``YYYY-MM-DD HH:MM:SS`` (UTC)."""
    return "" if not stamp else stamp.replace("T", " ")[:19]


# --- CUSIPs ---------------------------------------------------------------------------------------
def checked_cusip(text: str) -> str:
    """``text`` as a CUSIP (upper-cased), or a usage error (exit 2) that says what is wrong with it:
    its length, a character, or its check digit, with the digit it should have."""
    from rfq.cluster.domain.cusip import CUSIP_LENGTH, check_digit

    cusip = text.strip().upper()
    if len(cusip) != CUSIP_LENGTH:
        raise click.BadParameter(f"{text!r} has {len(cusip)} characters; a CUSIP has {CUSIP_LENGTH}")
    try:
        expected = check_digit(cusip[:8])
    except ValueError as error:
        raise click.BadParameter(f"{text!r} is not a CUSIP: {error}") from error
    if cusip[8] != str(expected):
        raise click.BadParameter(
            f"{cusip} has the wrong check digit: its last character is {cusip[8]!r}, "
            f"but the check digit of {cusip[:8]} is {expected} (did you mean {cusip[:8]}{expected}?)"
        )
    return cusip


def _cusip_refused(error: ApiError, cusip: str) -> ApiError:
    """The platform's INVALID_CUSIP refusal, said as the local check says it."""
    if error.reason == "INVALID_CUSIP":
        return ApiError(
            f"the platform refused CUSIP {cusip}: its check digit or characters are not valid "
            f"(INVALID_CUSIP)",
            EXIT_BAD_INPUT,
            error.status,
            error.problem,
        )
    return error


# --- instruments ----------------------------------------------------------------------------------
@click.group(epilog=EXIT_CODES)
def instrument() -> None:
    """Add, enable, disable and list instruments (operators)."""


def _instrument_line(view: dict[str, Any]) -> str:
    state = "enabled" if view["enabled"] else "disabled"
    description = f" {view['description']}" if view.get("description") else ""
    return (
        f"instrument {view['instrument_id']}: {view['cusip']}{description}, "
        f"min {_quantity(view['min_quantity'])}, {state}"
    )


@instrument.command("add", epilog=EXIT_CODES)
@click.argument("cusip", callback=lambda _ctx, _param, value: checked_cusip(value))
@click.option(
    "--min-quantity",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="The smallest quantity an RFQ may ask for.",
)
@click.option("--description", default="", help="The gateway's words for it (the cluster keeps none).")
@click.option("--disabled", is_flag=True, help="Add it disabled (no RFQs until enabled).")
@operator_command
def instrument_add(session: Session, cusip: str, min_quantity: int, description: str, disabled: bool) -> None:
    """Add the instrument CUSIP (nine characters, check digit included); the cluster assigns its id."""
    body = {
        "cusip": cusip,
        "min_quantity": min_quantity,
        "enabled": not disabled,
        "description": description,
    }
    try:
        view = session.api.post("/v1/instruments", body)
    except ApiError as error:
        raise _cusip_refused(error, cusip) from error
    session.emit(view, lambda: click.echo(f"added {_instrument_line(view)}"))


def _resolve_instrument(session: Session, ref: str) -> dict[str, Any]:
    """The instrument named by an id or a CUSIP."""
    if ref.isdigit() and len(ref) < 9:
        view: dict[str, Any] = session.api.get(f"/v1/instruments/{int(ref)}")
        return view
    cusip = checked_cusip(ref)
    for view in session.api.get("/v1/instruments"):
        if view["cusip"] == cusip:
            return view
    raise ApiError(f"no instrument with CUSIP {cusip}", EXIT_REFUSED, 404)


def _set_enabled(session: Session, ref: str, enabled: bool) -> None:
    known = _resolve_instrument(session, ref)
    instrument_id = known["instrument_id"]
    live_before = set()
    if not enabled:
        live_before = {
            rfq["rfq_id"]
            for rfq in session.api.get("/v1/rfqs", status="live")
            if rfq["instrument"]["instrument_id"] == instrument_id
        }
    view = session.api.post(f"/v1/instruments/{instrument_id}/{'enable' if enabled else 'disable'}")
    cancelled: list[int] = []
    if live_before:
        cancelled = sorted(
            rfq["rfq_id"]
            for rfq in session.api.get("/v1/rfqs", status="all")
            if rfq["rfq_id"] in live_before and rfq["status"] == "instrument_disabled"
        )

    def human() -> None:
        click.echo(_instrument_line(view))
        if cancelled:
            click.echo(f"its live RFQs were cancelled: {', '.join(str(i) for i in cancelled)}")

    session.emit({**view, "cancelled_rfqs": cancelled} if not enabled else view, human)


@instrument.command("enable", epilog=EXIT_CODES)
@click.argument("ref", metavar="ID|CUSIP")
@operator_command
def instrument_enable(session: Session, ref: str) -> None:
    """Enable an instrument: RFQs may ask for it again."""
    _set_enabled(session, ref, True)


@instrument.command("disable", epilog=EXIT_CODES)
@click.argument("ref", metavar="ID|CUSIP")
@operator_command
def instrument_disable(session: Session, ref: str) -> None:
    """Disable an instrument: the cluster cancels its live RFQs, and refuses new ones."""
    _set_enabled(session, ref, False)


@instrument.command("list", epilog=EXIT_CODES)
@operator_command
def instrument_list(session: Session) -> None:
    """Every instrument, as the cluster last said, with the gateway's descriptions."""
    views = session.api.get("/v1/instruments")

    def human() -> None:
        with _table("id", "CUSIP", "min quantity", "state", "description") as table:
            for view in views:
                table.add_row(
                    str(view["instrument_id"]),
                    view["cusip"],
                    _quantity(view["min_quantity"]),
                    "enabled" if view["enabled"] else "disabled",
                    view.get("description", ""),
                )

    session.emit(views, human)


# --- users ----------------------------------------------------------------------------------------
@click.group(epilog=EXIT_CODES)
def user() -> None:
    """Add and list users, and issue and revoke API tokens (operators)."""


@user.command("add", epilog=EXIT_CODES)
@click.argument("name")
@click.argument("role", type=click.Choice(["trader", "dealer", "operator"]))
@click.option(
    "--id", "user_id", type=click.IntRange(1, 2**31 - 1), help="The id the cluster sees (default: next)."
)
@click.option("--default-dealer", is_flag=True, help="A dealer asked by RFQs that name none.")
@click.option("--no-token", is_flag=True, help="Do not issue a first API token.")
@operator_command
def user_add(
    session: Session, name: str, role: str, user_id: int | None, default_dealer: bool, no_token: bool
) -> None:
    """Add the user NAME with ROLE, and print its first API token (shown once)."""
    body: dict[str, Any] = {"name": name, "role": role, "default_dealer": default_dealer}
    if user_id is not None:
        body["user_id"] = user_id
    added: dict[str, Any] = session.api.post("/v1/users", body)
    token = None
    if not no_token:
        token = session.api.post(f"/v1/users/{added['user_id']}/tokens", {"label": "created with the user"})
    result = {**added, "token": token["token"] if token else None}

    def human() -> None:
        click.echo(f"user {added['user_id']}: {added['name']} ({added['role']})")
        if token:
            click.echo("API token (shown once; only its hash is kept):")
            click.echo(token["token"])

    session.emit(result, human)


@user.command("list", epilog=EXIT_CODES)
@operator_command
def user_list(session: Session) -> None:
    """Every user of the gateway's directory (tokens are never listed: only their hashes are kept)."""
    users = session.api.get("/v1/users")

    def human() -> None:
        with _table("id", "name", "role", "default dealer") as table:
            for entry in users:
                table.add_row(
                    str(entry["user_id"]),
                    entry["name"],
                    entry["role"],
                    "yes" if entry["default_dealer"] else "",
                )

    session.emit(users, human)


def _user(session: Session, ref: str) -> dict[str, Any]:
    """The user named, or numbered, ``ref`` (as ``GET /v1/users`` lists it); exit 1 when none is."""
    found = next(
        (u for u in session.api.get("/v1/users") if u["name"] == ref or str(u["user_id"]) == ref), None
    )
    if found is None:
        raise CommandFailed(f"no user {ref!r}", EXIT_REFUSED)
    return dict(found)


@user.command("token", epilog=EXIT_CODES)
@click.argument("ref", metavar="NAME|ID")
@click.option("--label", default="", help="What the token is for.")
@operator_command
def user_token(session: Session, ref: str, label: str) -> None:
    """Issue another API token for a user and print it alone on stdout (shown once), so that
    ``TOKEN=$(rfq user token alice)`` works; what it is goes to stderr."""
    found = _user(session, ref)
    issued = session.api.post(f"/v1/users/{found['user_id']}/tokens", {"label": label})

    def human() -> None:
        click.echo(f"a new token for {found['name']} ({found['role']}, user {found['user_id']})", err=True)
        click.echo(issued["token"])

    session.emit(issued, human)


@user.command("revoke", epilog=EXIT_CODES)
@click.argument("ref", metavar="NAME|ID")
@operator_command
def user_revoke(session: Session, ref: str) -> None:
    """Revoke every API token of a user (only hashes are kept, so a leaked token cannot be named);
    then ``rfq user token`` issues a new one. Gateways sharing the directory refuse them within 0.25 s."""
    found = _user(session, ref)
    revoked = session.api.delete(f"/v1/users/{found['user_id']}/tokens")

    def human() -> None:
        count, plural = revoked["revoked"], "" if revoked["revoked"] == 1 else "s"
        click.echo(f"revoked {count} API token{plural} of {found['name']} (user {found['user_id']})")

    session.emit(revoked, human)


# --- RFQs -----------------------------------------------------------------------------------------
@click.group(epilog=EXIT_CODES)
def rfqs() -> None:
    """The operator's view of RFQs: states and parties, never a dealer's live price."""


def _dealers_summary(rfq: dict[str, Any]) -> str:
    """How many dealers stand where: ``2 quoted, 1 passed``."""
    states: dict[str, int] = {}
    for standing in rfq["dealers"]:
        states[standing["state"]] = states.get(standing["state"], 0) + 1
    return ", ".join(f"{count} {state}" for state, count in states.items())


def _trade_summary(rfq: dict[str, Any]) -> str:
    trade = rfq.get("trade")
    if not trade:
        return ""
    return f"{trade['price']}: {_name(trade['buyer'])} buys from {_name(trade['seller'])}"


@rfqs.command("list", epilog=EXIT_CODES)
@click.option("--all", "include_ended", is_flag=True, help="Include RFQs that ended lately.")
@operator_command
def rfqs_list(session: Session, include_ended: bool) -> None:
    """Live RFQs (with --all, those that ended lately too), oldest first."""
    views = session.api.get("/v1/rfqs", status="all" if include_ended else "live")

    def human() -> None:
        with _table(
            "id", "status", "CUSIP", "side", "quantity", "requester", "dealers", "deadline", "trade"
        ) as t:
            for rfq in views:
                t.add_row(
                    str(rfq["rfq_id"]),
                    rfq["status"],
                    rfq["instrument"]["cusip"],
                    rfq["side"],
                    _quantity(rfq["quantity"]),
                    _name(rfq["requester"]),
                    _dealers_summary(rfq),
                    _when(rfq["deadline"]),
                    _trade_summary(rfq),
                )

    session.emit(views, human)


@rfqs.command("show", epilog=EXIT_CODES)
@click.argument("rfq_id", type=click.IntRange(1))
@operator_command
def rfqs_show(session: Session, rfq_id: int) -> None:
    """One RFQ: what was asked, each dealer's standing, and its trade."""
    rfq = session.api.get(f"/v1/rfqs/{rfq_id}")

    def human() -> None:
        asked = rfq["instrument"]
        click.echo(
            f"rfq {rfq['rfq_id']}: {rfq['status']}; {_name(rfq['requester'])} asks to {rfq['side']} "
            f"{_quantity(rfq['quantity'])} {asked['cusip']} (instrument {asked['instrument_id']})"
        )
        click.echo(f"created {_when(rfq['created_at'])} UTC, deadline {_when(rfq['deadline'])} UTC")
        with _table("dealer", "state") as table:
            for standing in rfq["dealers"]:
                table.add_row(_name(standing["dealer"]), standing["state"])
        trade = rfq.get("trade")
        if trade:
            click.echo(
                f"trade {trade['trade_id']} ({trade['kind'].replace('_', ' ')}): {_name(trade['buyer'])} "
                f"buys {_quantity(trade['quantity'])} from {_name(trade['seller'])} at {trade['price']}, "
                f"{_when(trade['traded_at'])} UTC"
            )

    session.emit(rfq, human)


COMMANDS = (instrument, user, rfqs)


def register(group: click.Group) -> None:
    """Add the operator commands to the ``rfq`` group."""
    for command in COMMANDS:
        group.add_command(command)
