"""The blotter in a real browser: Debian's Chromium, driven by Playwright, against a real single-node
cluster and the real web gateway on 127.0.0.1.

A trader, two dealers and an operator each sign in in their own browser context (their own tab
storage, their own event stream). The operator adds the instruments; the trader asks both dealers
(not the third, a default dealer it unticks); dealer A quotes; the trader's page goes away while
dealer B quotes and comes back, then reloads; the gateway is stopped and started again while dealer A
quotes again; the trader counters B, B answers with a new quote (typed and sent by keyboard), and the
trader hits it. Every board catches up with no missing quote, each page shows exactly what its user
may see (A hears "done away" and never B's price; B hears the cover), the views are screenshot into
``build/screenshots/`` and checked by axe-core for serious or critical accessibility violations.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect, sync_playwright

from rfq.cluster.node import EmbeddedNode, NodeConfig
from rfq.cluster.service import RfqService
from rfq.gateway.cluster_client import ClientConfig
from rfq.gateway.identity import Directory
from rfq.gateway.web.app import WebSettings
from rfq.gateway.web.server import WebGatewayServer, command_client_factory
from rfq.topology import Topology

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "build" / "screenshots"
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
USERS = [
    ("ops", "operator", 1, False),
    ("alice", "trader", 101, False),
    ("dealer-a", "dealer", 201, True),
    ("dealer-b", "dealer", 202, True),
    ("dealer-c", "dealer", 203, True),
]
TREASURY, APPLE = "912828YK0", "037833DX5"
BOARD = "RFQ 1 · Buy 5,000,000 912828YK0"
INBOX = "RFQ 1 · 912828YK0"
REFERENCE = "alice-ref-7"
CATCH_UP_MS = 30_000
"""How long a page may take to see the gateway again after a restart (backoff tops out at ~10 s)."""


class Platform:
    """A single-node cluster and the web gateway in front of it, which the test can restart."""

    def __init__(self, node: EmbeddedNode, data_dir: Path) -> None:
        self.config = ClientConfig(
            ingress_endpoints=node.ingress_endpoints, aeron_dir=node.aeron_directory_name
        )
        self.settings = WebSettings(data_dir=data_dir, gateway_id=2, outcome_timeout_s=10)
        self.server: WebGatewayServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Serve on the port of the previous life (the pages know that address), or a free one."""
        server = WebGatewayServer(self.settings, command_client_factory(self.config), port=self.port)
        self.server = server.start(ready_timeout_s=60)
        self.port = server.port

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture
def platform(jvm: None, topology: Topology) -> Iterator[tuple[Platform, dict[str, str]]]:
    with tempfile.TemporaryDirectory(prefix="rfq-blotter-") as data:
        settings_dir = Path(data) / "gateway"
        directory = Directory(WebSettings(data_dir=settings_dir).directory_path)
        tokens = {}
        for name, role, user_id, default in USERS:
            directory.add_user(name, role, user_id=user_id, default_dealer=default)
            tokens[name] = directory.issue_token(user_id)
        directory.close()
        with EmbeddedNode(NodeConfig(topology=topology), RfqService()) as node:
            platform = Platform(node, settings_dir)
            platform.start()
            try:
                yield platform, tokens
            finally:
                platform.stop()


@pytest.fixture
def browser(footprint: Callable[[], Any]) -> Iterator[Browser]:
    """Debian's Chromium (never a downloaded one); closed, with its processes, at the end."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium (make test does)")
    children = footprint().child_pids
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            yield launched
        finally:
            launched.close()
    deadline = time.monotonic() + 10
    while (left := footprint().child_pids - children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"browser processes left behind: {sorted(left)}"


def new_page(browser: Browser, url: str, contexts: list[BrowserContext], errors: list[str]) -> Page:
    """A page in a browser context of its own (its own tab storage), its script errors collected."""
    context = browser.new_context(viewport=VIEWPORT)
    contexts.append(context)
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
    page.goto(url)
    return page


def sign_in(page: Page, token: str) -> None:
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#connection")).to_have_text("Live")


def quote_row(page: Page, dealer: str) -> Any:
    board = page.get_by_role("article", name=BOARD)
    return board.locator("tbody tr").filter(has=page.get_by_role("rowheader", name=dealer, exact=True))


def expect_quote(page: Page, dealer: str, price: str, best: bool, timeout: float = 5_000) -> None:
    row = quote_row(page, dealer)
    expect(row.locator(".price")).to_have_text(price, timeout=timeout)
    badge = row.get_by_text("Best", exact=True)
    if best:
        expect(badge).to_be_visible()
    else:
        expect(badge).to_be_hidden()


def everything_shown(page: Page) -> str:
    """What a page could reveal: its text, its markup, and what it keeps in the tab's storage."""
    storage = page.evaluate("JSON.stringify(Object.assign({}, sessionStorage))")
    return "\n".join([page.inner_text("body"), page.content(), storage])


def accessibility_violations(page: Page, axe_source: str) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is (evaluated over DevTools: the page's CSP forbids
    inline scripts, and the test must not loosen it)."""
    page.evaluate(axe_source)
    violations: list[dict[str, Any]] = page.evaluate(
        """() => axe.run(document).then((result) => result.violations.map((v) => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
        })))"""
    )
    return violations


def test_a_negotiation_in_three_browsers(platform: tuple[Platform, dict[str, str]], browser: Browser) -> None:
    gateway, tokens = platform
    expect.set_options(timeout=10_000)  # a loaded CI machine renders slower than a desk
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `make node-deps` installs axe-core with npm ci (make test does)")
    contexts: list[BrowserContext] = []
    errors: list[str] = []
    try:
        # --- sign-in: a wrong token is refused in words ----------------------------------------
        ops = new_page(browser, gateway.url, contexts, errors)
        ops.get_by_label("API token").fill("rfq_not-a-token")
        ops.get_by_role("button", name="Sign in").click()
        expect(ops.get_by_role("alert")).to_contain_text("Your token is unknown or was revoked")
        sign_in(ops, tokens["ops"])
        expect(ops.get_by_role("alert")).to_be_empty()

        # --- the operator adds the instruments, and disables one ------------------------------
        for cusip, description in ((TREASURY, "US Treasury note"), (APPLE, "Apple Inc. note")):
            ops.get_by_label("CUSIP").fill(cusip)
            ops.get_by_label("Description").fill(description)
            ops.get_by_role("button", name="Add instrument").click()
            expect(ops.get_by_role("cell", name=cusip, exact=True)).to_be_visible()
        ops.get_by_role("button", name=f"Disable {APPLE}").click()
        expect(ops.get_by_role("button", name=f"Enable {APPLE}")).to_be_visible()
        expect(ops.get_by_role("row", name=re.compile("dealer-c"))).to_contain_text("Yes")
        ops.get_by_label("Name").fill("carol")  # a user, and its token shown once
        ops.get_by_label("Role").select_option("trader")
        ops.get_by_role("button", name="Add user").click()
        expect(ops.get_by_label("Token for carol (shown once: hand it over now)")).to_have_value(
            re.compile(r"^rfq_")
        )
        expect(ops.get_by_role("row", name=re.compile("carol"))).to_contain_text("trader")

        alice, dealer_a, dealer_b = (new_page(browser, gateway.url, contexts, errors) for _ in range(3))
        for page, name in ((alice, "alice"), (dealer_a, "dealer-a"), (dealer_b, "dealer-b")):
            sign_in(page, tokens[name])

        # --- the trader asks two of the three dealers -------------------------------------------
        alice.get_by_label("Instrument").fill("US Treasury note")  # by description
        expect(alice.get_by_text("Minimum for 912828YK0: 1,000,000")).to_be_visible()
        alice.get_by_label("Quantity").fill("1000")
        alice.get_by_label("Deadline (minutes from now)").fill("10")
        alice.get_by_label("dealer-c").uncheck()
        alice.get_by_label("Your reference (optional)").fill(REFERENCE)
        alice.get_by_role("button", name="Ask for quotes").click()
        refusal = alice.get_by_role("alert")
        expect(refusal).to_have_text(re.compile("The quantity is below this instrument's minimum"))
        assert not re.search(r"\b4\d\d\b|QUANTITY_BELOW", refusal.inner_text()), refusal.inner_text()
        alice.get_by_label("Quantity").fill("5000000")
        alice.get_by_role("button", name="Ask for quotes").click()
        expect(alice.get_by_role("article", name=BOARD)).to_be_visible()
        expect(quote_row(alice, "dealer-c")).to_have_count(0)

        # --- dealer A's inbox: the request, the competition's size, countdowns; it quotes -------
        card_a = dealer_a.get_by_role("article", name=INBOX)
        expect(card_a).to_contain_text("alice buys 5,000,000 912828YK0 (you would sell)")
        expect(card_a).to_contain_text("2 dealers in competition")
        expect(card_a.get_by_role("timer").first).to_have_text(re.compile(r"^\d+:\d\d left$"))
        expect(dealer_a.locator("#announcer")).to_contain_text("New request: RFQ 1")
        card_a.get_by_label("Price").fill("99,50")  # caught before it is sent, in words
        card_a.get_by_role("button", name="Quote on RFQ 1", exact=True).click()
        expect(dealer_a.get_by_role("alert")).to_contain_text("Enter a price like 99.515625")
        card_a.get_by_label("Price").fill("99.50")
        card_a.get_by_role("button", name="Quote on RFQ 1", exact=True).click()
        expect(card_a).to_contain_text("Your quote: 99.50")
        expect_quote(alice, "dealer-a", "99.50", best=True)
        expect(alice.locator("#announcer")).to_contain_text("dealer-a quoted 99.50 on RFQ 1.")
        expect(quote_row(alice, "dealer-a").locator("td.countdown")).to_have_text(re.compile(r"left$"))

        # --- the trader's page goes away while dealer B quotes, comes back, and reloads ---------
        alice.goto("about:blank")
        card_b = dealer_b.get_by_role("article", name=INBOX)
        card_b.get_by_label("Price").fill("99.45")
        card_b.get_by_role("button", name="Quote on RFQ 1", exact=True).click()
        expect(card_b).to_contain_text("Your quote: 99.45")
        alice.goto(gateway.url)  # the same tab: its storage resumes the stream (Last-Event-ID)
        expect_quote(alice, "dealer-b", "99.45", best=True)
        expect_quote(alice, "dealer-a", "99.50", best=False)
        alice.reload()
        expect(alice.locator("#connection")).to_have_text("Live")
        expect_quote(alice, "dealer-b", "99.45", best=True)
        expect_quote(alice, "dealer-a", "99.50", best=False)

        # --- the gateway restarts; dealer A quotes again meanwhile; the board catches up ---------
        gateway.stop()
        expect(alice.locator("#connection")).to_have_text("Connection lost: reconnecting…")
        gateway.start()
        card_a.get_by_label("Price").fill("99.48")
        card_a.get_by_role("button", name="Quote again on RFQ 1").click()
        expect(card_a).to_contain_text("Your quote: 99.48", timeout=CATCH_UP_MS)
        expect(alice.locator("#connection")).to_have_text("Live", timeout=CATCH_UP_MS)
        expect_quote(alice, "dealer-a", "99.48", best=False, timeout=CATCH_UP_MS)
        expect_quote(alice, "dealer-b", "99.45", best=True)

        # --- counter to B; B answers with a new quote, by keyboard; the trader hits it ----------
        alice.get_by_label("Counter price to dealer-b").fill("99.40")
        alice.get_by_role("button", name="Send counter to dealer-b").click()
        expect(quote_row(alice, "dealer-b").locator("td").nth(3)).to_have_text("99.40")
        expect(card_b.get_by_text("alice counters your quote at 99.40.")).to_be_visible(timeout=CATCH_UP_MS)
        expect(card_b.get_by_role("button", name="Accept 99.40, the counter on RFQ 1")).to_be_enabled()
        expect(card_a.locator(".counter-box")).to_be_hidden()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        dealer_b.screenshot(path=SCREENSHOTS / "dealer-b-countered.png", full_page=True)
        card_b.get_by_label("Price").focus()
        dealer_b.keyboard.type("99.42")
        dealer_b.keyboard.press("Enter")
        expect(card_b).to_contain_text("Your quote: 99.42")
        expect(card_b.locator(".counter-box")).to_be_hidden()  # a new quote ends the counter
        expect_quote(alice, "dealer-b", "99.42", best=True)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)  # the live board, before the hit
        alice.screenshot(path=SCREENSHOTS / "trader-live.png", full_page=True)
        alice.get_by_role("button", name="Hit dealer-b at 99.42").click()

        # --- the outcome, as each user may see it ------------------------------------------------
        board = alice.get_by_role("article", name=BOARD)
        confirmation = board.locator(".confirmation")
        expect(confirmation).to_contain_text("Trade confirmed")
        expect(confirmation).to_contain_text("You bought 5,000,000 912828YK0 from dealer-b at 99.42.")
        expect(confirmation).to_contain_text("Cover: 99.48.")
        expect(board.locator(".badge").first).to_have_text("Traded")
        trades = alice.get_by_role("table", name="Trades")
        expect(trades.locator("tbody tr")).to_have_text(
            re.compile(r"Bought.*5,000,000.*99\.42.*dealer-b.*99\.48")
        )
        expect(card_b.locator(".outcome")).to_contain_text("You sold 5,000,000 912828YK0 to alice at 99.42.")
        expect(card_b.locator(".outcome")).to_contain_text("Cover (the best other price): 99.48.")
        expect(card_a.locator(".outcome")).to_contain_text("Done away")
        expect(card_a.locator(".outcome")).to_contain_text("alice traded with another dealer.")
        expect(card_a.locator(".badge").first).to_have_text("Done away")
        expect(dealer_a.get_by_role("table", name="Trades").locator("tbody tr")).to_have_count(0)

        # privacy: A never sees B's prices, its counter or its name; B never sees A's name or
        # price (but the cover, which the winner is told); no dealer sees the trader's reference
        shown_a, shown_b = everything_shown(dealer_a), everything_shown(dealer_b)
        for secret in ("99.45", "99.42", "99.40", '"99.4"', "dealer-b", REFERENCE):
            assert secret not in shown_a, f"dealer-a's page shows {secret!r}"
        for secret in ("99.5", "dealer-a", REFERENCE):
            assert secret not in shown_b, f"dealer-b's page shows {secret!r}"
        assert REFERENCE in everything_shown(alice)

        expect(ops.locator(".status-list")).to_contain_text("Connected", timeout=10_000)
        expect(ops.locator(".status-list dd").first).to_have_text("Yes", timeout=10_000)

        # --- screenshots and the accessibility check of every view ------------------------------
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        axe_source = AXE.read_text()
        views = {"trader": alice, "dealer-a": dealer_a, "dealer-b": dealer_b, "operator": ops}
        report = {}
        for name, page in views.items():
            page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)
            report[name] = accessibility_violations(page, axe_source)
        (SCREENSHOTS / "axe.json").write_text(json.dumps(report, indent=2))
        serious = {
            name: [v for v in found if v["impact"] in ("serious", "critical")]
            for name, found in report.items()
        }
        assert not any(serious.values()), json.dumps(serious, indent=2)
        assert not errors, errors
    finally:
        for context in contexts:
            context.close()
