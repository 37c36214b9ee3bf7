"""The cluster secret: what a gateway presents to open a cluster session, and what nodes check.

It comes from the operator, never from the wire: the environment variable ``RFQ_CLUSTER_SECRET`` or a
file (one line, read as UTF-8 bytes). Local tools (``rfq cluster``) create one in a file only the
owner can read.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

SECRET_ENV = "RFQ_CLUSTER_SECRET"


class MissingSecretError(RuntimeError):
    """No cluster secret was configured where one is required."""


def load_secret(secret_file: Path | None = None, env: str = SECRET_ENV) -> bytes | None:
    """The secret from ``secret_file`` if given, else from the environment; None when neither has one."""
    if secret_file is not None:
        value = secret_file.read_text(encoding="utf-8").strip()
        if not value:
            raise MissingSecretError(f"{secret_file} is empty")
        return value.encode()
    value = os.environ.get(env, "").strip()
    return value.encode() if value else None


def create_secret_file(path: Path) -> bytes:
    """Write a new random secret to ``path`` (mode 0600) unless one is there; return it."""
    if path.exists():
        secret = load_secret(path)
        assert secret is not None
        return secret
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(value + "\n")
    return value.encode()
