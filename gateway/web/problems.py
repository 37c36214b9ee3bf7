"""RFC 9457 problem details for every error the web gateway answers, cluster refusals included.

Why one module: a client handles errors by ``type`` (a stable URI), so each kind of error has one
entry here, and every exception handler of the app goes through :func:`problem_response`: FastAPI's
validation errors, unknown routes and methods, our own refusals and the cluster's.

The cluster's ``RejectReason`` maps to HTTP by what the client can do about it: an unknown thing → 404;
not a party, not invited, not the requester → 403; the RFQ, quote or counter is no longer live (or
already traded, expired, passed), the instrument is disabled, a duplicate → 409; a bad value → 422.
Frame-level refusals (malformed, unknown template, wrong schema) cannot come from this gateway's own
encoder: they are a gateway bug → 500. Each problem carries ``reason`` (the cluster's name) when the
cluster refused.

Problem types are relative URIs (``/problems/<slug>``) that the gateway itself serves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from rfq.codecs.rfq_sbe import CommandRejected, RejectReason
from rfq.gateway.idempotency import StoredResponse

MEDIA_TYPE = "application/problem+json"


@dataclass(frozen=True)
class ProblemType:
    slug: str
    status: int
    title: str

    @property
    def uri(self) -> str:
        return f"/problems/{self.slug}"


def _t(slug: str, status: int, title: str) -> ProblemType:
    return ProblemType(slug, status, title)


UNAUTHORIZED = _t("unauthorized", 401, "Missing or invalid bearer token")
FORBIDDEN_ROLE = _t("forbidden-role", 403, "Your role may not do this")
NOT_FOUND = _t("not-found", 404, "No such resource")
METHOD_NOT_ALLOWED = _t("method-not-allowed", 405, "This method is not allowed here")
VALIDATION = _t("validation-error", 422, "The request is not valid")
IDEMPOTENCY_KEY_REUSED = _t(
    "idempotency-key-reused", 422, "This Idempotency-Key was used for another request"
)
REQUEST_IN_PROGRESS = _t("request-in-progress", 409, "A request with this Idempotency-Key is being answered")
CLUSTER_UNAVAILABLE = _t(
    "cluster-unavailable", 503, "The cluster did not answer in time; retry with the same Idempotency-Key"
)
USER_EXISTS = _t("user-exists", 409, "A user with this name or id exists")
INTERNAL = _t("internal-error", 500, "The gateway failed")
HTTP_ERROR = _t("http-error", 400, "HTTP error")

_NOT_FOUND = ("UNKNOWN_RFQ", "UNKNOWN_INSTRUMENT", "UNKNOWN_QUOTE")
_FORBIDDEN = ("NOT_A_PARTY", "NOT_INVITED", "NOT_REQUESTER")
_CONFLICT = (
    "RFQ_NOT_ACTIVE",
    "RFQ_EXPIRED",
    "ALREADY_TRADED",
    "DEALER_PASSED",
    "QUOTE_NOT_LIVE",
    "COUNTER_NOT_LIVE",
    "INSTRUMENT_DISABLED",
    "DUPLICATE_INSTRUMENT",
    "NO_CHANGE",
    "CORRELATION_ID_REUSED",
)
_INVALID = (
    "INVALID_FIELD",
    "INVALID_CUSIP",
    "INVALID_QUANTITY",
    "QUANTITY_BELOW_MINIMUM",
    "EXPIRY_NOT_IN_FUTURE",
    "NO_DEALERS",
    "TOO_MANY_DEALERS",
    "DUPLICATE_DEALER",
    "REQUESTER_AS_DEALER",
    "INVALID_PRICE",
    "INVALID_VALIDITY",
)


def _reason_status(reason: RejectReason) -> int:
    name = reason.name
    if name in _NOT_FOUND:
        return 404
    if name in _FORBIDDEN:
        return 403
    if name in _CONFLICT:
        return 409
    if name in _INVALID:
        return 422
    return 500


def _reason_title(reason: RejectReason) -> str:
    return reason.name.replace("_", " ").capitalize()


REJECTIONS: dict[RejectReason, ProblemType] = {
    reason: _t(reason.name.lower().replace("_", "-"), _reason_status(reason), _reason_title(reason))
    for reason in RejectReason
}
"""Every cluster refusal as a problem type."""

CATALOGUE: dict[str, ProblemType] = {
    p.slug: p
    for p in (
        UNAUTHORIZED,
        FORBIDDEN_ROLE,
        NOT_FOUND,
        METHOD_NOT_ALLOWED,
        VALIDATION,
        IDEMPOTENCY_KEY_REUSED,
        REQUEST_IN_PROGRESS,
        CLUSTER_UNAVAILABLE,
        USER_EXISTS,
        INTERNAL,
        HTTP_ERROR,
        *REJECTIONS.values(),
    )
}


class ProblemError(Exception):
    """Raise to answer with a problem (the app's handler renders it)."""

    def __init__(
        self,
        kind: ProblemType,
        detail: str | None = None,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or kind.title)
        self.kind = kind
        self.detail = detail
        self.status = status or kind.status
        self.headers = headers or {}
        self.extensions = extensions


def problem_body(
    kind: ProblemType, status: int, detail: str | None, instance: str | None, **extensions: Any
) -> bytes:
    body: dict[str, Any] = {"type": kind.uri, "title": kind.title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extensions)
    return json.dumps(body, separators=(",", ":"), default=str).encode()


def problem_response(error: ProblemError, instance: str | None) -> Response:
    return Response(
        problem_body(error.kind, error.status, error.detail, instance, **error.extensions),
        status_code=error.status,
        media_type=MEDIA_TYPE,
        headers=error.headers,
    )


def rejection(refusal: CommandRejected, instance: str) -> StoredResponse:
    """The problem answering a cluster refusal (stored for idempotent replays)."""
    kind = REJECTIONS[refusal.reason]
    detail = f"the cluster refused the command: {refusal.reason.name}"
    body = problem_body(kind, kind.status, detail, instance, reason=refusal.reason.name)
    return StoredResponse(kind.status, body, {"content-type": MEDIA_TYPE})
