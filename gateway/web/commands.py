"""Running one command for one HTTP request: idempotency, the wait for the outcome, its rendering.

The contract of every POST that reaches the cluster:
- the answer is the cluster's outcome rendered for the caller (2xx with the resource), or the refusal
  as problem+json (``problems.rejection``);
- with an ``Idempotency-Key`` (see ``rfq.gateway.idempotency``) the first outcome is stored and
  replayed; a request with the same key and another body is refused (422); one arriving while the
  first is still being answered is refused (409);
- when no outcome comes within ``timeout_s`` (an election), the answer is 503 with ``Retry-After``; the
  command stays pending in the core, which resends it until its outcome arrives, and that outcome is
  stored under the key for the retry to return. Without a key, a 503 leaves the outcome to the event
  stream (the command still takes effect at most once).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from starlette.responses import Response

from rfq.codecs import rfq_sbe
from rfq.codecs.rfq_sbe import CommandRejected
from rfq.gateway.core import ClusterUnavailableError, GatewayCore
from rfq.gateway.idempotency import IdempotencyStore, StoredResponse, fingerprint
from rfq.gateway.identity import User
from rfq.gateway.web.metrics import GatewayMetrics
from rfq.gateway.web.problems import (
    CLUSTER_UNAVAILABLE,
    IDEMPOTENCY_KEY_REUSED,
    INTERNAL,
    REQUEST_IN_PROGRESS,
    ProblemError,
    rejection,
)

Render = Callable[[Any], tuple[int, BaseModel, dict[str, str]]]
"""The outcome event (the caller's copy) → (status, body, extra headers)."""


class CommandRunner:
    """Submits commands through the core for HTTP requests."""

    def __init__(
        self,
        core: GatewayCore,
        store: IdempotencyStore,
        timeout_s: float = 5.0,
        retry_after_s: int = 1,
        metrics: GatewayMetrics | None = None,
    ) -> None:
        self.core = core
        self.store = store
        self.timeout_s = timeout_s
        self.retry_after_s = retry_after_s
        self.metrics = metrics or GatewayMetrics(core)

    async def run(
        self,
        user: User,
        path: str,
        key: str | None,
        body: object,
        build: Callable[[int], Any],
        render: Render,
    ) -> Response:
        """Run the command ``build(correlation_id)`` for ``user`` and answer with its outcome."""
        kind = _command_name(build)
        started = time.perf_counter()
        try:
            response = await self._run(user, path, key, body, build, render)
        except ProblemError as problem:
            result = "unavailable" if problem.kind is CLUSTER_UNAVAILABLE else "refused"
            if problem.kind is CLUSTER_UNAVAILABLE and "pending" in (problem.detail or ""):
                result = "timeout"
            self.metrics.commands.labels(kind, result).inc()
            raise
        self.metrics.latency.labels(kind).observe(time.perf_counter() - started)
        self.metrics.commands.labels(kind, "outcome" if response.status_code < 400 else "refused").inc()
        return response

    async def _run(
        self,
        user: User,
        path: str,
        key: str | None,
        body: object,
        build: Callable[[int], Any],
        render: Render,
    ) -> Response:
        if key is None:
            correlation_id = self.core.next_correlation_id()
            future = self._submit(correlation_id, rfq_sbe.encode(build(correlation_id)))
            return await self._answer(future, render, path, None)
        scope = (user.user_id, key)
        if not self.store.claim(*scope):
            raise ProblemError(REQUEST_IN_PROGRESS, "retry once the first request has been answered")
        try:
            digest = fingerprint("POST", path, body)
            correlation_id = self.core.next_correlation_id()
            frame = rfq_sbe.encode(build(correlation_id))
            record = await self.store.reserve(user.user_id, key, digest, correlation_id, frame)
            if record is None:  # a new key, now standing for this command
                future = self._submit_new(scope, correlation_id, frame)
            elif record.fingerprint != digest:
                raise ProblemError(IDEMPOTENCY_KEY_REUSED, "a key names one request: use a new key")
            elif record.response is not None:
                return _response(record.response, replayed=True)
            else:
                future = self.core.pending(record.correlation_id) or self._submit(
                    record.correlation_id, record.frame
                )
            return await self._answer(future, render, path, scope)
        finally:
            self.store.release(*scope)

    def _submit_new(self, scope: tuple[int, str], correlation_id: int, frame: bytes) -> asyncio.Future[Any]:
        """Send a new key's command; if it cannot be sent at all, the key is free again (its retry
        builds the command afresh, as if this request had never come)."""
        try:
            return self._submit(correlation_id, frame)
        except ProblemError:
            self.store.forget(*scope)
            raise

    def _submit(self, correlation_id: int, frame: bytes) -> asyncio.Future[Any]:
        try:
            return self.core.submit(correlation_id, frame)
        except ClusterUnavailableError as error:
            raise self._unavailable(str(error)) from error

    async def _answer(
        self, future: asyncio.Future[Any], render: Render, path: str, scope: tuple[int, str] | None
    ) -> Response:
        try:
            outcome = await asyncio.wait_for(asyncio.shield(future), self.timeout_s)
        except TimeoutError:
            if scope is not None:
                future.add_done_callback(lambda done: self._store_late(done, render, path, scope))
            raise self._unavailable(
                "no outcome from the cluster in time; the command is still pending"
            ) from None
        except asyncio.CancelledError:  # the client went away: its retry still finds the outcome
            if scope is not None:
                future.add_done_callback(lambda done: self._store_late(done, render, path, scope))
            raise
        except ClusterUnavailableError as error:
            raise self._unavailable(str(error)) from error
        stored = _stored(outcome, render, path)
        if scope is not None:
            self.store.complete(*scope, stored)
        return _response(stored, replayed=False)

    def _store_late(
        self, done: asyncio.Future[Any], render: Render, path: str, scope: tuple[int, str]
    ) -> None:
        if done.cancelled() or done.exception() is not None:
            return
        self.store.complete(*scope, _stored(done.result(), render, path))

    def _unavailable(self, detail: str) -> ProblemError:
        return ProblemError(CLUSTER_UNAVAILABLE, detail, headers={"Retry-After": str(self.retry_after_s)})


def _command_name(build: Callable[[int], Any]) -> str:
    annotation = build.__annotations__.get("return")
    return annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "command")


def _stored(outcome: Any, render: Render, path: str) -> StoredResponse:
    if isinstance(outcome, CommandRejected):
        return rejection(outcome, path)
    try:
        status, model, headers = render(outcome)
    except Exception as error:
        raise ProblemError(INTERNAL, f"unexpected outcome {type(outcome).__name__}") from error
    return StoredResponse(
        status, model.model_dump_json().encode(), {"content-type": "application/json", **headers}
    )


def _response(stored: StoredResponse, replayed: bool) -> Response:
    headers = dict(stored.headers)
    media_type = headers.pop("content-type", "application/json")
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(stored.body, status_code=stored.status, media_type=media_type, headers=headers)
