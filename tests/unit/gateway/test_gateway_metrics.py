"""The web gateway's /metrics over a fake cluster: it parses with prometheus-client's parser, and the
core's counters move by exactly the commands sent (7 commands, 2 refused by the cluster)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from rfq.codecs import rfq_sbe
from rfq.codecs.rfq_sbe import CancelRfq
from rfq.gateway.metrics import command_name

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(web: TestClient) -> Samples:
    response = web.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(value for (sample, got), value in samples.items() if sample == name and wanted <= set(got))


def rfq(**overrides: Any) -> dict[str, Any]:
    return {"cusip": "912828YK0", "side": "buy", "quantity": 5_000, "ttl_seconds": 60, **overrides}


def test_core_counters_move_by_exactly_the_commands_sent(web: TestClient, cast: Any) -> None:
    before = scrape(web)
    first = web.post("/v1/rfqs", json=rfq(client_order_id="a"), headers=cast.auth("alice"))
    second = web.post("/v1/rfqs", json=rfq(client_order_id="b"), headers=cast.auth("bob"))
    one, two = first.json()["rfq_id"], second.json()["rfq_id"]
    statuses = [
        first.status_code,
        second.status_code,
        web.post(f"/v1/rfqs/{one}/quotes", json={"price": "99.5"}, headers=cast.auth("dealer-a")).status_code,
        web.post(f"/v1/rfqs/{two}/pass", headers=cast.auth("dealer-b")).status_code,
        web.post(f"/v1/rfqs/{one}/cancel", headers=cast.auth("bob")).status_code,  # NOT_A_PARTY
        web.post("/v1/rfqs/999/cancel", headers=cast.auth("alice")).status_code,  # UNKNOWN_RFQ
        web.post(f"/v1/rfqs/{one}/cancel", headers=cast.auth("alice")).status_code,
    ]
    assert [s < 400 for s in statuses] == [True, True, True, True, False, False, True], statuses
    after = scrape(web)

    def delta(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert delta("rfq_gateway_commands_total") == 7
    assert delta("rfq_gateway_commands_total", command="CreateRfq") == 2
    assert delta("rfq_gateway_commands_total", command="CancelRfq") == 3
    assert delta("rfq_gateway_refusals_total") == 2
    assert delta("rfq_gateway_refusals_total", command="CancelRfq", reason="NOT_A_PARTY") == 1
    assert delta("rfq_gateway_refusals_total", command="CancelRfq", reason="UNKNOWN_RFQ") == 1
    assert delta("rfq_gateway_command_round_trip_seconds_count") == 7
    assert delta("rfq_gateway_command_round_trip_seconds_bucket", le="+Inf") == 7
    assert delta("rfq_gateway_http_commands_total") == 7
    assert delta("rfq_gateway_http_commands_total", result="refused") == 2
    assert delta("rfq_gateway_events_routed_total") > 0
    assert after[("rfq_gateway_ready", ())] == 1.0
    assert after[("rfq_gateway_pending_commands", ())] == 0.0


def test_stream_clients_and_fix_sessions_are_gauges(web: TestClient, cast: Any) -> None:
    core = web.app.state.gateway.core  # type: ignore[attr-defined]
    assert scrape(web)[("rfq_gateway_fix_sessions", ())] == 0.0
    core.metrics.set_fix_sessions(3)
    assert scrape(web)[("rfq_gateway_fix_sessions", ())] == 3.0
    waiter = core.streams.subscribe(101)
    try:
        assert scrape(web)[("rfq_gateway_sse_clients", ())] == 1.0
    finally:
        core.streams.unsubscribe(101, waiter)
    assert scrape(web)[("rfq_gateway_sse_clients", ())] == 0.0


def test_a_frame_is_named_by_its_template() -> None:
    assert command_name(rfq_sbe.encode(CancelRfq(correlation_id=1, user_id=2, rfq_id=3))) == "CancelRfq"
    assert command_name(b"\x00") == "unknown"
