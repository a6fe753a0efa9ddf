"""Neptune's engine errors as the emulator reports them: a code, its documented HTTP status, and the JSON
body Neptune sends ({"requestId", "code", "detailedMessage"}).

Codes and statuses follow "Graph Engine Error Messages and Codes"
(https://docs.aws.amazon.com/neptune/latest/userguide/errors-engine-codes.html); they agree with the
`httpStatusCode` of each error shape in botocore's `neptunedata` model, which a test checks. Over
WebSocket, Neptune puts that JSON body in the Gremlin response's status message and the HTTP status in
its status code: a ConcurrentModificationException arrives in gremlinpython as
`GremlinServerError: 500: {"detailedMessage": ..., "code": "ConcurrentModificationException", "requestId": ...}`
(the example in https://github.com/apache/tinkerpop/pull/1729). The user guide does not show the
WebSocket framing of the other codes; the emulator uses each code's documented HTTP status the same way."""

from __future__ import annotations

import json

# code -> HTTP status, from the errors-engine-codes page (and the Streams API errors page for the last two).
STATUSES: dict[str, int] = {
    "AccessDeniedException": 403,
    "BadRequestException": 400,
    "CancelledByUserException": 500,
    "ConcurrentModificationException": 500,
    "ConstraintViolationException": 400,
    "FailureByQueryException": 500,
    "IllegalArgumentException": 400,
    "InternalFailureException": 500,
    "InvalidNumericDataException": 400,
    "InvalidParameterException": 400,
    "MalformedQueryException": 400,
    "MemoryLimitExceededException": 500,
    "MissingParameterException": 400,
    "QueryLimitExceededException": 500,
    "QueryTooLargeException": 400,
    "ReadOnlyViolationException": 400,
    "ThrottlingException": 500,
    "TimeLimitExceededException": 500,
    "TooManyRequestsException": 429,
    "UnsupportedOperationException": 400,
    "ExpiredStreamException": 400,
    "StreamRecordsNotFoundException": 404,
}

# Messages the user guide gives for these codes (errors-engine-codes, and "Neptune Streams API
# Exceptions": https://docs.aws.amazon.com/neptune/latest/userguide/streams-using-api-exceptions.html), used
# for injected faults; other injected codes say "injected <code>".
DOCUMENTED_MESSAGES: dict[str, str] = {
    "CancelledByUserException": "The request processing was cancelled by an authorized client.",
    "ConcurrentModificationException": "The request processing did not succeed due to a modification conflict. "
    "The client should retry the request.",
    "MemoryLimitExceededException": "The request processing did not succeed due to lack of memory, but can be "
    "retried when the server is less busy.",
    "ReadOnlyViolationException": "The request is rejected because it violates some read-only restriction, such as "
    "a designation of a replica as read-only.",
    "ThrottlingException": "Rate of requests exceeds the maximum throughput.",
}

# What POST /_emulator/faults {"api": "gremlin", "kind": ...} can make a traversal fail with: the codes a
# well-formed request can meet, so a client's retry-on-code logic can be exercised locally.
GREMLIN_FAULT_KINDS = (
    "ConcurrentModificationException",
    "ConstraintViolationException",
    "ReadOnlyViolationException",
    "TimeLimitExceededException",
    "MemoryLimitExceededException",
    "QueryLimitExceededException",
    "ThrottlingException",
    "TooManyRequestsException",
    "CancelledByUserException",
    "FailureByQueryException",
    "InternalFailureException",
)


class GraphError(Exception):
    """A Gremlin request Neptune would refuse: its Neptune error code and a message naming the problem."""

    def __init__(self, message: str, code: str = "IllegalArgumentException") -> None:
        if code not in STATUSES:
            raise ValueError(f"{code!r} is not a Neptune error code")
        super().__init__(message)
        self.message, self.code = message, code

    @property
    def status(self) -> int:
        return STATUSES[self.code]


def constraint_violation(message: str) -> GraphError:
    return GraphError(message, "ConstraintViolationException")


def unsupported(message: str) -> GraphError:
    return GraphError(message, "UnsupportedOperationException")


def error_body(code: str, message: str, request_id: str) -> str:
    return json.dumps({"requestId": request_id, "code": code, "detailedMessage": message})
