"""A local Neptune emulator: a property graph that gremlinpython writes to over WebSocket, with Neptune's
Streams (PG_JSON), status and fast-reset APIs over HTTP, persisted in SQLite."""
