"""A local Neptune emulator: a property graph that Gremlin clients write to over WebSocket (bytecode, sessions),
an RDF graph over SPARQL 1.1, with Neptune's Streams, status and fast-reset APIs, over HTTP or (--tls) HTTPS,
persisted in SQLite. docs/emulator-clients.md says which clients it is tested with and what it does not serve."""
