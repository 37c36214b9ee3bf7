"""How the gateway says no over FIX: the flow's own reject, or a BusinessMessageReject.

Why one module: the rule must be the same whether the gateway refuses a message itself (a field it
cannot use) or the cluster refuses the command (a CommandRejected), so that a counterparty can code
against one table (docs/fix-mapping.md):

| what went wrong | QuoteRequest (R) | Quote (S), QuoteCancel (Z), QuoteResponse (AJ), pass (AG) |
|---|---|---|
| an id the platform does not know (UNKNOWN_RFQ, UNKNOWN_QUOTE, unknown QuoteID) | AG 658=99 | j 380=1 |
| not yours to act on (role, NOT_A_PARTY, NOT_INVITED, NOT_REQUESTER) | AG 658=6 | j 380=6 |
| a field the gateway needs is missing | AG 658=99 | j 380=5 |
| the platform cannot act now (cluster unreachable) | AG 658=99 | j 380=4 |
| anything else the cluster refuses (state, price, validity...) | AG 658 by reason | AI 297=5 |

Malformed messages never get here: the engine answers them with a session Reject (3).
"""

from __future__ import annotations

import enum

from rfq.codecs.rfq_sbe import RejectReason
from rfq.gateway.fix import fields as f
from rfq.gateway.fix.fields import FixMessage, clean


class Problem(enum.Enum):
    """Why a message is refused, in FIX's terms."""

    UNKNOWN_ID = "unknown_id"
    NOT_AUTHORIZED = "not_authorized"
    MISSING_FIELD = "missing_field"
    UNAVAILABLE = "unavailable"
    UNSUPPORTED = "unsupported"
    REFUSED = "refused"


_BUSINESS_REASON = {
    Problem.UNKNOWN_ID: f.BIZ_UNKNOWN_ID,
    Problem.NOT_AUTHORIZED: f.BIZ_NOT_AUTHORIZED,
    Problem.MISSING_FIELD: f.BIZ_CONDITIONALLY_REQUIRED_FIELD_MISSING,
    Problem.UNAVAILABLE: f.BIZ_APPLICATION_NOT_AVAILABLE,
    Problem.UNSUPPORTED: f.BIZ_OTHER,
}

_REQUEST_REJECT_REASON: dict[RejectReason, str] = {
    RejectReason.UNKNOWN_INSTRUMENT: f.REQ_REJECT_UNKNOWN_SYMBOL,
    RejectReason.INSTRUMENT_DISABLED: f.REQ_REJECT_NO_MARKET,
    RejectReason.EXPIRY_NOT_IN_FUTURE: f.REQ_REJECT_TOO_LATE,
    RejectReason.TOO_MANY_DEALERS: f.REQ_REJECT_EXCEEDS_LIMIT,
    RejectReason.NOT_A_PARTY: f.REQ_REJECT_NOT_AUTHORIZED,
}


def problem_of(reason: RejectReason) -> Problem:
    """The FIX category of a cluster refusal."""
    if reason in (RejectReason.UNKNOWN_RFQ, RejectReason.UNKNOWN_QUOTE):
        return Problem.UNKNOWN_ID
    if reason in (RejectReason.NOT_A_PARTY, RejectReason.NOT_INVITED, RejectReason.NOT_REQUESTER):
        return Problem.NOT_AUTHORIZED
    return Problem.REFUSED


def refuse(
    request: FixMessage, problem: Problem, text: str, reason: RejectReason | None = None
) -> FixMessage:
    """The one message that answers a refused ``request`` (see the module's table)."""
    if request.msg_type == f.QUOTE_REQUEST:
        if reason is not None and reason in _REQUEST_REJECT_REASON:
            code = _REQUEST_REJECT_REASON[reason]
        elif problem is Problem.NOT_AUTHORIZED:
            code = f.REQ_REJECT_NOT_AUTHORIZED
        else:
            code = f.REQ_REJECT_OTHER
        return quote_request_reject(request, code, text)
    if problem is Problem.REFUSED:
        return quote_rejected(request, text)
    return business_reject(request, _BUSINESS_REASON[problem], text)


def business_reject(request: FixMessage, reason: str, text: str) -> FixMessage:
    """BusinessMessageReject (j): RefSeqNum, RefMsgType, BusinessRejectRefID (the request's own id
    field: 693 of an AJ, 117 of an S or Z, 131 otherwise), reason, Text."""
    ref_id = (
        request.get(f.QUOTE_RESP_ID)
        if request.msg_type == f.QUOTE_RESPONSE
        else request.get(f.QUOTE_ID) or request.get(f.QUOTE_REQ_ID)
    )
    return (
        FixMessage(f.BUSINESS_MESSAGE_REJECT)
        .add(f.REF_SEQ_NUM, request.seq_num or None)
        .add(f.REF_MSG_TYPE, request.msg_type)
        .add(f.BUSINESS_REJECT_REF_ID, ref_id)
        .add(f.BUSINESS_REJECT_REASON, reason)
        .add(f.TEXT, clean(text))
    )


def quote_request_reject(request: FixMessage, reason: str, text: str) -> FixMessage:
    """QuoteRequestReject (AG): the QuoteReqID echoed, the reason, Text, and the instrument as asked
    (the NoRelatedSym group is required)."""
    return (
        FixMessage(f.QUOTE_REQUEST_REJECT)
        .add(f.QUOTE_REQ_ID, request.get(f.QUOTE_REQ_ID) or "")
        .add(f.QUOTE_REQUEST_REJECT_REASON, reason)
        .add(f.NO_RELATED_SYM, 1)
        .add(f.SYMBOL, request.get(f.SYMBOL) or f.SYMBOL_NA)
        .add(f.SECURITY_ID, request.get(f.SECURITY_ID))
        .add(f.SECURITY_ID_SOURCE, request.get(f.SECURITY_ID_SOURCE) if request.get(f.SECURITY_ID) else None)
        .add(f.TEXT, clean(text))
    )


def quote_rejected(request: FixMessage, text: str) -> FixMessage:
    """QuoteStatusReport (AI) 297=5: the request's QuoteReqID, QuoteID and QuoteRespID echoed (QuoteID
    is required: the QuoteReqID stands in when the request had none), Text."""
    quote_id = request.get(f.QUOTE_ID) or request.get(f.QUOTE_REQ_ID) or "NONE"
    return (
        FixMessage(f.QUOTE_STATUS_REPORT)
        .add(f.QUOTE_REQ_ID, request.get(f.QUOTE_REQ_ID))
        .add(f.QUOTE_ID, quote_id)
        .add(f.QUOTE_RESP_ID, request.get(f.QUOTE_RESP_ID))
        .add(f.SYMBOL, request.get(f.SYMBOL) or f.SYMBOL_NA)
        .add(f.QUOTE_STATUS, f.STATUS_REJECTED)
        .add(f.TEXT, clean(text))
    )
