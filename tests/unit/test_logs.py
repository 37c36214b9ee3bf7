"""Log lines: JSON objects with the event's fields on request (flag or RFQ_LOG_JSON), text otherwise;
configuring twice does not print twice; only rfq's loggers are raised to INFO."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from rfq import logs
from rfq.cli import main


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), logging.getLogger("rfq").level
    yield
    root.handlers[:] = handlers
    logging.getLogger("rfq").setLevel(level)


def test_json_lines_carry_the_event_fields() -> None:
    out = io.StringIO()
    logs.configure(json_lines=True, stream=out)
    logging.getLogger("rfq.test").info("leader is %d", 2, extra={"event": "leader_change", "leader": 2})
    line = json.loads(out.getvalue())
    assert line["message"] == "leader is 2" and line["level"] == "INFO" and line["logger"] == "rfq.test"
    assert line["event"] == "leader_change" and line["leader"] == 2
    assert line["time"].endswith("Z")


def test_text_lines_append_the_fields_and_configuring_twice_prints_once() -> None:
    out = io.StringIO()
    logs.configure(json_lines=False, stream=out)
    logs.configure(json_lines=False, stream=out)
    logging.getLogger("rfq.test").info("snapshot", extra={"event": "snapshot", "log_position": 7})
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].endswith("rfq.test: snapshot event=snapshot log_position=7")


def test_the_environment_asks_for_json_and_libraries_stay_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(logs.JSON_ENV, "1")
    out = io.StringIO()
    logs.configure(stream=out)
    logging.getLogger("httpx").info("HTTP Request: GET /")  # below the root's WARNING
    logging.getLogger("rfq.x").info("kept")
    assert [json.loads(line)["message"] for line in out.getvalue().splitlines()] == ["kept"]


def test_the_cli_takes_log_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(logs.JSON_ENV, raising=False)  # restored after: main sets it for child processes
    result = CliRunner().invoke(main, ["--log-json", "--log-level", "debug", "cluster", "--help"])
    assert result.exit_code == 0
    assert logging.getLogger("rfq").level == logging.DEBUG
    assert isinstance(logging.getLogger().handlers[-1].formatter, logs.JsonFormatter)
    assert os.environ[logs.JSON_ENV] == "1"
