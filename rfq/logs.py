"""Logging for every ``rfq`` process: one line per notable event, as text or as JSON lines.

Why one module: nodes and gateways log the few events an operator reads after a bad night (session
up/down, role and leader changes, resyncs, snapshots) with the standard ``logging`` module, and where
those lines go, and in which shape, is decided once per process here (``rfq --log-json``, or
``RFQ_LOG_JSON=1``). JSON lines carry the event's structured fields (``extra={...}``), so a log
shipper needs no parsing; the text shape appends them as ``key=value``.

Contract: :func:`configure` is idempotent (it replaces the handler it installed earlier, so a test
that runs the CLI twice does not print twice); it sets the level of the ``rfq`` loggers only and
leaves the root's (WARNING by default), so chatty libraries (httpx logs every request at INFO) stay quiet.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import IO, Any

JSON_ENV = "RFQ_LOG_JSON"
LEVEL_ENV = "RFQ_LOG_LEVEL"
_MARK = "_rfq_handler"
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
"""Attributes every LogRecord has: whatever else a record carries came from ``extra``."""


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields a record was logged with (``extra={...}``)."""
    return {key: value for key, value in record.__dict__.items() if key not in _STANDARD}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (ISO 8601, UTC, ms), ``level``, ``logger``, ``message``, the
    record's extra fields, and ``error`` (the traceback) when one was logged."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        line: dict[str, Any] = {
            "time": f"{stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(fields(record))
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    """``time level logger: message key=value...``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extra = fields(record)
        if not extra:
            return text
        head, newline, tail = text.partition("\n")
        pairs = " ".join(f"{key}={value}" for key, value in extra.items())
        return f"{head} {pairs}{newline}{tail}"


def json_requested(flag: bool | None = None) -> bool:
    """``flag`` when given, else whether ``RFQ_LOG_JSON`` is set to a true value."""
    if flag is not None:
        return flag
    return os.environ.get(JSON_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def configure(
    json_lines: bool | None = None, level: str | int | None = None, stream: IO[str] | None = None
) -> None:
    """Send log lines to ``stream`` (stderr) as JSON lines or text; ``rfq`` loggers at ``level``
    (default ``RFQ_LOG_LEVEL`` or INFO)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    setattr(handler, _MARK, True)
    handler.setFormatter(JsonFormatter() if json_requested(json_lines) else TextFormatter())
    root.addHandler(handler)
    chosen = level or os.environ.get(LEVEL_ENV) or "INFO"
    logging.getLogger("rfq").setLevel(chosen.upper() if isinstance(chosen, str) else chosen)
