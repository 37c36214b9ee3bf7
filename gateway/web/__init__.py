"""The web gateway: REST under ``/v1``, an SSE event stream, OpenAPI; built on the gateway core."""
