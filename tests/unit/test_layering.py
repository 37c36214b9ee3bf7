"""The domain layer stays pure: ``cluster/domain`` imports only the standard library's deterministic
parts, the generated codec and itself — never Aeron, the JVM, HTTP, FIX, a clock or randomness.

Checked on the source's AST, so a forbidden import is caught even in a branch that never runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "cluster" / "domain"

FORBIDDEN = {
    "jpype",
    "aeron",
    "io.aeron",
    "fastapi",
    "starlette",
    "uvicorn",
    "quickfix",
    "httpx",
    "requests",
    "socket",
    "asyncio",
    "threading",
    "multiprocessing",
    "subprocess",
    "os",
    "sys",
    "io",
    "time",
    "datetime",
    "random",
    "secrets",
    "uuid",
    "numpy",
    "importlib",
    "pickle",
    "sqlite3",
    "logging",
}
"""Named explicitly so that the failure says why; the allow list below is the real fence."""

ALLOWED = {
    "__future__",
    "collections",
    "collections.abc",
    "enum",
    "hashlib",
    "operator",
    "heapq",
    "typing",
    "rfq.codecs.rfq_sbe",
    "rfq.codecs.errors",
}
ALLOWED_PREFIXES = ("rfq.cluster.domain",)
FORBIDDEN_CALLS = {"__import__", "eval", "exec", "open", "hash", "id"}


def domain_modules() -> list[Path]:
    modules = sorted(DOMAIN.glob("*.py"))
    assert modules, f"no modules under {DOMAIN}"
    return modules


def imported_names(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "use absolute imports in the domain"
            assert node.module is not None
            names.append(node.module)
    return names


@pytest.mark.parametrize("module", domain_modules(), ids=lambda p: p.name)
def test_domain_imports_only_what_is_allowed(module: Path) -> None:
    tree = ast.parse(module.read_text(), filename=str(module))
    for name in imported_names(tree):
        root = name.split(".")[0]
        assert name not in FORBIDDEN and root not in FORBIDDEN, f"{module.name} imports {name}"
        assert name in ALLOWED or name.startswith(ALLOWED_PREFIXES), f"{module.name} imports {name}"


@pytest.mark.parametrize("module", domain_modules(), ids=lambda p: p.name)
def test_domain_calls_nothing_nondeterministic(module: Path) -> None:
    """``hash``/``id`` vary between processes (string hash seed, addresses); the rest escape the layer."""
    tree = ast.parse(module.read_text(), filename=str(module))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in FORBIDDEN_CALLS, f"{module.name}:{node.lineno} calls {node.func.id}"


def test_the_fence_catches_a_forbidden_import() -> None:
    tree = ast.parse("import time\nfrom jpype import JClass\nfrom random import choice\n")
    assert imported_names(tree) == ["time", "jpype", "random"]
    assert all(name in FORBIDDEN for name in imported_names(tree))
