"""A Python service that answers every message with the same bytes.

It measures the host itself (the JPype callback, buffer copies, replies) apart from any RFQ logic:
``make bench-echo`` runs it beside the Java echo service in ``bench/jvm``, and the foundation tests
prove a real cluster round trip with it.
"""

from __future__ import annotations

from rfq.cluster.host import Actions, HostedService


class EchoService(HostedService):
    """Replies to each message's sender with the message's bytes."""

    def __init__(self) -> None:
        self.messages = 0

    def on_message(self, session_id: int, timestamp: int, frame: memoryview, actions: Actions) -> None:
        self.messages += 1
        actions.reply(session_id, frame)
