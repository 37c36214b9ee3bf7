"""RFQ cluster: a request-for-quote platform whose core is a deterministic state machine replicated by
Aeron Cluster.

The subpackages follow the direction data flows: ``rfq.codecs`` (the SBE wire) → ``rfq.cluster`` (the
pure domain, then the Aeron adapters) → ``rfq.gateway`` (clients, FIX, HTTP) → ``rfq.cli``.
"""

__version__ = "0.1.0"
