"""Data flows one way: the gateway core never imports an edge protocol (web, FIX), so that the web and
FIX gateways share it without importing each other. Checked on the source's AST."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

GATEWAY = Path(__file__).resolve().parents[3] / "gateway"
EDGES = ("rfq.gateway.web", "rfq.gateway.fix", "fastapi", "starlette", "uvicorn", "sse_starlette", "quickfix")


def imports(module: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(module.read_text(), filename=str(module))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("module", sorted(GATEWAY.glob("*.py")), ids=lambda p: p.name)
def test_the_core_imports_no_edge_protocol(module: Path) -> None:
    for name in imports(module):
        assert not name.startswith(EDGES), f"{module.name} imports {name}"


@pytest.mark.parametrize("module", sorted((GATEWAY / "web").glob("*.py")), ids=lambda p: p.name)
def test_the_web_gateway_imports_no_other_edge(module: Path) -> None:
    for name in imports(module):
        assert not name.startswith(("rfq.gateway.fix", "quickfix")), f"web/{module.name} imports {name}"


@pytest.mark.parametrize("module", sorted((GATEWAY / "fix").glob("*.py")), ids=lambda p: p.name)
def test_the_fix_gateway_imports_no_other_edge(module: Path) -> None:
    for name in imports(module):
        assert not name.startswith(("rfq.gateway.web", "fastapi", "starlette", "uvicorn", "quickfix")), (
            f"fix/{module.name} imports {name}"
        )
