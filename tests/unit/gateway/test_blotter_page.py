"""The blotter's page as the web gateway serves it (no browser: tests/integration/test_blotter_browser.py
drives one): the page and its assets, their headers, the module graph, and the package data."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from fastapi.testclient import TestClient

from rfq.gateway.web.page import STATIC

ROOT = Path(__file__).resolve().parents[3]
IMPORT = re.compile(r"""^\s*import\s[^'"]*?from\s+["'](\.{1,2}/[^"']+)["'];""", re.MULTILINE)


def test_the_page_and_its_assets_are_served_with_a_strict_policy(web: TestClient) -> None:
    page = web.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy and "unsafe" not in policy
    assert '<script type="module" src="/static/js/main.js">' in page.text
    for asset, kind in (
        ("/static/js/main.js", "text/javascript"),
        ("/static/blotter.css", "text/css"),
        ("/static/favicon.svg", "image/svg+xml"),
    ):
        answer = web.get(asset)
        assert answer.status_code == 200 and answer.headers["content-type"].startswith(kind), asset
        assert answer.headers["cache-control"] == "no-cache" and answer.headers["etag"]
    assert web.get("/static/nope.js").status_code == 404
    assert "/" not in web.get("/openapi.json").json()["paths"]  # the page is not part of the API


def test_every_module_the_page_imports_exists() -> None:
    seen: set[Path] = set()
    todo = [(STATIC / "js" / "main.js").resolve()]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        assert module.is_file(), f"missing module {module.relative_to(STATIC)}"
        seen.add(module)
        todo.extend((module.parent / found).resolve() for found in IMPORT.findall(module.read_text()))
    assert seen == {p.resolve() for p in (STATIC / "js").rglob("*.js")}, "a module nobody imports"


def test_the_package_ships_every_static_file() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["rfq.gateway.web"]
    shipped = {path for pattern in patterns for path in STATIC.parent.glob(pattern)}
    assert {path for path in STATIC.rglob("*") if path.is_file()} <= shipped
