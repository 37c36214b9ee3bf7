"""The FIX 4.4 gateway: QuickFIX/J's acceptor in the gateway's JVM, sessions bound to directory users,
the multi-dealer RFQ flow of docs/fix-mapping.md on the gateway core."""
