"""Demo data for ``rfq run``: users with tokens and FIX logins, six bonds, and three RFQs at different
stages, all loaded through the web gateway as those users.

Why through the gateway: it is the path every client takes, so the demo shows what a newcomer will
do with curl, and its commands get the gateway core's correlation ids (gateway id, then an epoch the
directory increments at every start): unique across runs of the same base dir, with no guessing.

- Users (:data:`USERS`) go into the gateway's directory, as ``rfq gateway users add`` would put them:
  an operator, a trader and three dealers (the default dealers), with FIX logins for the trader and
  the dealers (SenderCompID and password, via ``Directory.set_fix_login``).
- Tokens: the directory keeps only their hashes, so a token can be printed only when it is issued.
  For the demo, and only there, they are also written to ``<base dir>/demo-tokens.json`` (mode 0600)
  and reused while they still authenticate: a second ``make run`` prints the same tokens. A real
  deployment issues tokens with ``rfq user token`` and never stores them.
- Instruments are POSTed by the operator; one the cluster already has is said so and kept.
- RFQs (:func:`negotiate`): one traded (three dealers asked, two quote, one of them twice, the third
  passes, a counter, a hit), one live (two quotes and a counter), one open. They are negotiated when
  the trader has no live RFQ, so a restart within their ten minutes does not pile up more.

Every step checks the gateway's answer and the demo says what it saw; a refusal stops the demo (not
the platform) with the gateway's words.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rfq.client import ApiError, GatewayClient

TOKENS_FILE = "demo-tokens.json"
OPEN_FOR_S = 10 * 60

Say = Callable[[str], None]


@dataclass(frozen=True)
class DemoUser:
    name: str
    role: str
    user_id: int
    default_dealer: bool = False
    fix_sender_comp_id: str | None = None
    fix_password: str | None = None


OPERATOR = DemoUser("ops", "operator", 1)
TRADER = DemoUser("alice", "trader", 101, fix_sender_comp_id="ALICE", fix_password="alice-fix")
DEALERS = tuple(
    DemoUser(f"dealer-{x}", "dealer", 200 + i, True, f"DEALER-{x.upper()}", f"dealer-{x}-fix")
    for i, x in enumerate("abc", start=1)
)
USERS: tuple[DemoUser, ...] = (OPERATOR, TRADER, *DEALERS)

INSTRUMENTS: tuple[tuple[str, int, str], ...] = (
    ("912828YK0", 1_000_000, "US Treasury note"),
    ("912810TM0", 1_000_000, "US Treasury bond"),
    ("912796ZV4", 1_000_000, "US Treasury bill"),
    ("037833DX5", 100_000, "Apple Inc. note"),
    ("459200KS9", 100_000, "IBM Corp. note"),
    ("594918BY9", 100_000, "Microsoft Corp. note"),
)


# --- users ----------------------------------------------------------------------------------------
def seed_users(directory_path: Path, tokens_file: Path, say: Say) -> dict[str, str]:
    """Put :data:`USERS` in the directory at ``directory_path`` (those missing), with their FIX
    logins, and return each one's token: the one kept in ``tokens_file`` while it still
    authenticates that user, else a new one (then the file is rewritten)."""
    from rfq.gateway.identity import Directory

    kept = _read_tokens(tokens_file)
    tokens: dict[str, str] = {}
    directory = Directory(directory_path)
    try:
        for user in USERS:
            known = directory.user_by_name(user.name)
            if known is None:
                known = directory.add_user(user.name, user.role, user.user_id, user.default_dealer)
                say(f"user {known.user_id}: {known.name} ({known.role.value})")
            token = kept.get(user.name)
            holder = None if token is None else directory.authenticate(token)
            if token is None or holder is None or holder.user_id != known.user_id:
                token = directory.issue_token(known.user_id, "demo")
            tokens[user.name] = token
            if user.fix_sender_comp_id and user.fix_password:
                holder = directory.fix_login(user.fix_sender_comp_id, user.fix_password)
                if holder is None or holder.user_id != known.user_id:
                    directory.set_fix_login(user.fix_sender_comp_id, known.user_id, user.fix_password)
    finally:
        directory.close()
    if tokens != kept:
        _write_tokens(tokens_file, tokens)
    return tokens


def _read_tokens(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _write_tokens(path: Path, tokens: dict[str, str]) -> None:
    """Owner-only, written whole then renamed (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        json.dump(tokens, out, indent=2)
    partial.replace(path)


# --- instruments and RFQs -------------------------------------------------------------------------
class DemoStepError(Exception):
    """A step's answer was not what the demo expected: it stops and says what it got."""


def load(url: str, tokens: dict[str, str], say: Say) -> None:
    """Add the demo instruments, then negotiate the demo RFQs unless the trader has live ones."""
    clients = {user.name: GatewayClient(url, tokens[user.name], timeout_s=30) for user in USERS}
    try:
        _add_instruments(clients[OPERATOR.name], say)
        live = clients[TRADER.name].get("/v1/rfqs", status="live")
        if live:
            say(f"demo RFQs skipped: {TRADER.name} has {len(live)} live RFQs already")
            return
        negotiate(clients, say)
    except (ApiError, DemoStepError) as stopped:
        say(f"demo stopped: {stopped}")
    finally:
        for client in clients.values():
            client.close()


def _add_instruments(operator: GatewayClient, say: Say) -> None:
    known = {view["cusip"]: view for view in operator.get("/v1/instruments")}
    for cusip, min_quantity, description in INSTRUMENTS:
        view = known.get(cusip)
        if view is not None:
            say(f"instrument {view['instrument_id']}: {cusip} is there already")
            continue
        body = {"cusip": cusip, "min_quantity": min_quantity, "description": description}
        view = _step(functools.partial(operator.post, "/v1/instruments", body), f"adding {cusip}")
        say(f"instrument {view['instrument_id']}: {cusip} {description}, min {min_quantity:,}")


def _step(call: Callable[[], Any], step: str) -> Any:
    try:
        return call()
    except ApiError as error:
        raise DemoStepError(f"{step}: {error}") from error


def negotiate(clients: dict[str, GatewayClient], say: Say) -> None:
    """The three demo RFQs, each step said as the gateway answered it."""
    alice = TRADER.name
    a, b, c = (dealer.name for dealer in DEALERS)

    def create(cusip: str, side: str, quantity: int, order_id: str, dealers: Iterable[str]) -> int:
        asked = list(dealers)
        body = {
            "cusip": cusip,
            "side": side,
            "quantity": quantity,
            "ttl_seconds": OPEN_FOR_S,
            "client_order_id": order_id,
            "dealers": asked,
        }
        rfq = _step(lambda: clients[alice].post("/v1/rfqs", body), f"{alice}'s RFQ {order_id}")
        say(
            f"rfq {rfq['rfq_id']}: {alice} asks {', '.join(asked)} for a price to {side} {quantity:,} "
            f"{cusip}, open for {OPEN_FOR_S // 60} minutes"
        )
        return int(rfq["rfq_id"])

    def quote(rfq_id: int, dealer: str, price: str) -> dict[str, Any]:
        path = f"/v1/rfqs/{rfq_id}/quotes"
        quoted = _step(
            lambda: clients[dealer].post(path, {"price": price}), f"rfq {rfq_id}: {dealer}'s quote"
        )
        replaced = quoted.get("replaced_quote_id")
        again = "" if replaced is None else f" again, replacing quote {replaced}"
        mine = dict(quoted["quote"])
        say(f"rfq {rfq_id}: {dealer} quotes {mine['price']}{again} (quote {mine['quote_id']})")
        return mine

    def counter(rfq_id: int, dealer: str, quoted: dict[str, Any], price: str) -> None:
        path = f"/v1/rfqs/{rfq_id}/quotes/{quoted['quote_id']}/counter"
        answer = _step(
            lambda: clients[alice].post(path, {"price": price}), f"rfq {rfq_id}: {alice}'s counter"
        )
        countered = answer["counter"]
        say(
            f"rfq {rfq_id}: {alice} counters {dealer}'s {quoted['price']} with {countered['price']} "
            f"(counter {countered['counter_id']})"
        )

    # one traded: three dealers asked, two quote (one of them twice), one passes, a counter, a hit
    rfq_id = create("912828YK0", "buy", 5_000_000, "alice-0001", (a, b, c))
    quote(rfq_id, a, "99.53125")
    quote(rfq_id, b, "99.515625")
    best = quote(rfq_id, a, "99.5")
    _step(lambda: clients[c].post(f"/v1/rfqs/{rfq_id}/pass"), f"rfq {rfq_id}: {c}'s pass")
    say(f"rfq {rfq_id}: {c} passes")
    counter(rfq_id, a, best, "99.484375")
    hit = f"/v1/rfqs/{rfq_id}/quotes/{best['quote_id']}/accept"
    trade = _step(lambda: clients[alice].post(hit), f"rfq {rfq_id}: {alice}'s hit")["trade"]
    cover = "no cover" if trade["cover_price"] is None else f"cover {trade['cover_price']}"
    say(
        f"rfq {rfq_id}: {alice} hits {a}'s {best['price']}: trade {trade['trade_id']}, "
        f"{trade['buyer']['name']} buys {trade['quantity']:,} {trade['instrument']['cusip']} from "
        f"{trade['seller']['name']} at {trade['price']} ({cover})"
    )

    # one live: two quotes and a counter
    rfq_id = create("037833DX5", "sell", 2_000_000, "alice-0002", (b, c))
    countered = quote(rfq_id, b, "101.25")
    quote(rfq_id, c, "101.2")
    counter(rfq_id, b, countered, "101.4")

    # one open: nobody has answered yet
    create("459200KS9", "buy", 1_000_000, "alice-0003", (a, b, c))


# --- what `rfq run` prints ------------------------------------------------------------------------
def welcome(url: str, tokens: dict[str, str], tokens_file: Path, fix: str | None = None) -> list[str]:
    """The lines ``rfq run`` prints once the platform is up: URLs, each demo user's token as an
    ``export`` line, FIX logins, and a first curl command."""
    width = max(len(token) for token in tokens.values())
    lines = [
        f"web gateway  {url}   (API docs {url}/docs, readiness {url}/readyz)",
        f"FIX gateway  {fix}" if fix else "FIX gateway  not started",
        "",
        f"demo users: paste the lines of the user you act as (tokens kept in {tokens_file}):",
        f"  export RFQ_URL={url}",
    ]
    for user in USERS:
        who = f"{user.name}: {user.role} {user.user_id}"
        if user.fix_sender_comp_id:
            who += f"; FIX {user.fix_sender_comp_id} / {user.fix_password}"
        lines.append(f"  export RFQ_TOKEN={tokens[user.name]:<{width}}  # {who}")
    lines += [
        "",
        "a first call (the RFQs you can see, as that user; an operator sees them all):",
        '  curl -s "$RFQ_URL/v1/rfqs" -H "Authorization: Bearer $RFQ_TOKEN"',
        "operators: rfq instrument list | rfq user list | rfq rfqs list   (rfq --help)",
        "",
    ]
    return lines
