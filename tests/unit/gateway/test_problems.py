"""Every cluster refusal maps to one documented HTTP status and problem type."""

from __future__ import annotations

import json

import pytest

from rfq.codecs.rfq_sbe import CommandRejected, RejectReason
from rfq.gateway.web.problems import CATALOGUE, REJECTIONS, rejection

EXPECTED = {
    404: {"UNKNOWN_RFQ", "UNKNOWN_INSTRUMENT", "UNKNOWN_QUOTE"},
    403: {"NOT_A_PARTY", "NOT_INVITED", "NOT_REQUESTER"},
    409: {
        "RFQ_NOT_ACTIVE", "RFQ_EXPIRED", "ALREADY_TRADED", "DEALER_PASSED", "QUOTE_NOT_LIVE",
        "COUNTER_NOT_LIVE", "INSTRUMENT_DISABLED", "DUPLICATE_INSTRUMENT", "NO_CHANGE",
        "CORRELATION_ID_REUSED",
    },
    422: {
        "INVALID_FIELD", "INVALID_CUSIP", "INVALID_QUANTITY", "QUANTITY_BELOW_MINIMUM",
        "EXPIRY_NOT_IN_FUTURE",
        "NO_DEALERS", "TOO_MANY_DEALERS", "DUPLICATE_DEALER", "REQUESTER_AS_DEALER", "INVALID_PRICE",
        "INVALID_VALIDITY",
    },
    500: {"MALFORMED_FRAME", "UNKNOWN_TEMPLATE", "WRONG_SCHEMA", "UNSUPPORTED_VERSION"},
}  # fmt: skip


@pytest.mark.parametrize("reason", list(RejectReason), ids=lambda r: r.name)
def test_each_refusal_has_its_status(reason: RejectReason) -> None:
    status = next(s for s, names in EXPECTED.items() if reason.name in names)
    assert REJECTIONS[reason].status == status


def test_every_reason_is_classified_and_every_type_is_served() -> None:
    assert set().union(*EXPECTED.values()) == {r.name for r in RejectReason}
    assert all(kind.uri == f"/problems/{slug}" for slug, kind in CATALOGUE.items())
    assert len({kind.uri for kind in REJECTIONS.values()}) == len(RejectReason)


def test_a_refusal_renders_as_problem_json() -> None:
    refusal = CommandRejected(
        correlation_id=5, user_id=101, template_id=4, reason=RejectReason.NOT_INVITED, timestamp_ms=1
    )
    stored = rejection(refusal, "/v1/rfqs/1/quotes")
    body = json.loads(stored.body)
    assert stored.status == 403
    assert stored.headers["content-type"] == "application/problem+json"
    assert body == {
        "type": "/problems/not-invited",
        "title": "Not invited",
        "status": 403,
        "detail": "the cluster refused the command: NOT_INVITED",
        "instance": "/v1/rfqs/1/quotes",
        "reason": "NOT_INVITED",
    }
    assert "5" not in json.dumps(body["detail"])  # no correlation id leaks
