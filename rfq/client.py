"""A small HTTP client of the web gateway's API, for the operator CLI and the demo (``rfq.demo``).

Why its own module: the operator commands must start no JVM and load no JPype, so they talk to a
gateway over HTTP like any other program; this module is that program's one place for the base URL,
the bearer token, timeouts, and turning answers into Python values or :class:`ApiError`.

Contract: every method returns the decoded JSON body of a 2xx answer, or raises :class:`ApiError`,
whose ``exit_code`` is the CLI's: 1 the platform refused (401, 403, 404, 409, 5xx but 503), 2 bad
input (400, 422: the request itself is wrong), 3 the platform cannot be reached (no connection, a
timeout, or 503: the gateway is up but the cluster did not answer). Its message is in words, from the
problem+json ``title`` and ``detail`` (and the cluster's ``reason``) when the gateway sent one.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

URL_ENV = "RFQ_URL"
TOKEN_ENV = "RFQ_TOKEN"
DEFAULT_URL = "http://127.0.0.1:8080"

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_BAD_INPUT = 2
EXIT_UNREACHABLE = 3


class ApiError(Exception):
    """A call that did not succeed: ``exit_code`` says how, the message says why, in words."""

    def __init__(
        self, message: str, exit_code: int, status: int | None = None, problem: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.status = status
        self.problem: dict[str, Any] = problem or {}

    @property
    def reason(self) -> str | None:
        """The cluster's RejectReason when it refused (``INVALID_CUSIP``...), else None."""
        reason = self.problem.get("reason")
        return reason if isinstance(reason, str) else None


def exit_code_for(status: int) -> int:
    """The CLI's exit code for an HTTP error status."""
    if status in (400, 422):
        return EXIT_BAD_INPUT
    if status == 503:
        return EXIT_UNREACHABLE
    return EXIT_REFUSED


def describe(response: httpx.Response) -> tuple[str, dict[str, Any]]:
    """An error answer in words (``title: detail (reason)``) and its problem body (may be empty)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        text = response.text.strip()[:200] or response.reason_phrase
        return f"HTTP {response.status_code}: {text}", {}
    title = str(body.get("title") or response.reason_phrase)
    detail = body.get("detail")
    message = f"{title}: {detail}" if detail and detail != title else title
    return f"{message} (HTTP {response.status_code})", body


class GatewayClient:
    """Calls to one web gateway as one user (``token``; None for the unauthenticated health calls)."""

    def __init__(self, url: str | None = None, token: str | None = None, timeout_s: float = 10.0) -> None:
        self.url = (url or os.environ.get(URL_ENV) or DEFAULT_URL).rstrip("/")
        self.token = token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GatewayClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, path: str, **params: Any) -> Any:
        return self._call("GET", path, params=params or None)

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self._call("POST", path, json=body)

    def delete(self, path: str) -> Any:
        return self._call("DELETE", path)

    def _call(self, method: str, path: str, **options: Any) -> Any:
        try:
            response = self._http.request(method, path, **options)
        except httpx.TimeoutException as error:
            raise ApiError(
                f"no answer from the gateway at {self.url} in time ({error})", EXIT_UNREACHABLE
            ) from error
        except httpx.TransportError as error:
            raise ApiError(f"cannot reach the gateway at {self.url}: {error}", EXIT_UNREACHABLE) from error
        if response.is_success:
            return response.json() if response.content else None
        message, problem = describe(response)
        raise ApiError(message, exit_code_for(response.status_code), response.status_code, problem)
