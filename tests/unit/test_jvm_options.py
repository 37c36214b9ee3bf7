"""``RFQ_JVM_OPTS``: extra JVM options after the defaults, so that a later ``-Xmx`` wins; and importing
``rfq.jvm`` (hence ``rfq.cli``) does not import JPype."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rfq import jvm


def test_extra_options_come_after_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(jvm.JVM_OPTS_ENV, raising=False)
    assert jvm.jvm_options() == list(jvm.JVM_OPTIONS)
    monkeypatch.setenv(jvm.JVM_OPTS_ENV, "-Xms256m -Xmx256m '-Dname=a b'")
    options = jvm.jvm_options()
    assert options[: len(jvm.JVM_OPTIONS)] == list(jvm.JVM_OPTIONS)
    assert options[len(jvm.JVM_OPTIONS) :] == ["-Xms256m", "-Xmx256m", "-Dname=a b"]
    assert [o for o in options if o.startswith("-Xmx")][-1] == "-Xmx256m"  # the JVM takes the last


def test_importing_the_cli_does_not_import_jpype() -> None:
    code = "import sys, rfq.cli; print('jpype' in sys.modules, '_jpype' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == ["False", "False"]
