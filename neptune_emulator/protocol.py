"""Gremlin Server's WebSocket framing for the serializers gremlinpython and gremlin-javascript offer
(GraphBinary 1.0, GraphSON 3.0 and GraphSON 2.0), reusing gremlinpython's own readers and writers, plus what a
server needs and a client library lacks: the Bytecode and predicate readers, and every enum token the clients
send (g:Cardinality, g:T, g:Direction, g:Order, g:Pop, g:Scope, g:Operator, g:Column, g:Barrier, g:Merge,
g:Pick, g:DT). What Neptune takes is in the Serialization section of
https://docs.aws.amazon.com/neptune/latest/userguide/access-graph-gremlin-differences.html#feature-gremlin-differences-serialization;
the emulator takes all three serializers these clients offer.

A frame the emulator cannot read is still answered: with an error naming the problem when its request id can be
found, otherwise by closing the connection with a reason (`UnreadableFrameError`), never by silence."""

from __future__ import annotations

import io as _io
import json
import struct
import uuid
from dataclasses import dataclass
from typing import Any

from gremlin_python.process import traversal as tv
from gremlin_python.process.traversal import Bytecode, P, TextP, Traverser
from gremlin_python.structure.io import graphbinaryV1 as gb  # noqa: N813
from gremlin_python.structure.io import graphsonV2d0 as gs2  # noqa: N813
from gremlin_python.structure.io import graphsonV3d0 as gs  # noqa: N813

from neptune_emulator.values import Float32, Long, Short

GRAPHBINARY = "application/vnd.graphbinary-v1.0"
GRAPHSON3 = "application/vnd.gremlin-v3.0+json"
GRAPHSON2 = "application/vnd.gremlin-v2.0+json"
GRAPHSON = (GRAPHSON3, GRAPHSON2)
_int32 = struct.Struct(">i")


@dataclass
class Request:
    request_id: uuid.UUID
    op: str
    processor: str
    args: dict[Any, Any]
    mime: str
    error: str | None = None  # the request could be identified but not read: answer with this error
    error_code: str = "BadRequestException"


class _BytecodeReader:
    graphson_type = "g:Bytecode"

    @classmethod
    def objectify(cls, value: dict[str, Any], reader: gs.GraphSONReader) -> Bytecode:
        bytecode = Bytecode()
        for name, *args in value.get("source", []):
            bytecode.source_instructions.append([name, *(reader.to_object(a) for a in args)])
        for name, *args in value.get("step", []):
            bytecode.step_instructions.append([name, *(reader.to_object(a) for a in args)])
        return bytecode


def _lenient_enum(io: type[Any]) -> type[Any]:
    """gremlinpython's reader maps 'list' to Cardinality['list'], but the Python member is `list_` (the
    same for T.id_, Pop.all_, ...); and 'OUT' is no snake_case name: accept each token as the clients write it."""

    class Lenient(io):  # type: ignore[misc]
        @classmethod
        def _read_enumval(cls, b: Any, r: Any) -> Any:
            return _enum_member(cls.python_type, r.to_object(b))

    return Lenient


def _make_p(operator: str, args: list[Any]) -> P:
    if operator in ("within", "without"):
        return P(operator, list(args))
    if len(args) == 2:
        return P(operator, args[0], args[1])
    return P(operator, args[0] if args else None)


class _PReader:
    """Predicates arrive in requests only, so gremlinpython (a client) has no reader for them."""

    @classmethod
    def objectify(cls, buff: Any, reader: Any, nullable: bool = True) -> Any:
        return gb.PSerializer.is_null(buff, reader, cls._read, nullable)

    @classmethod
    def _read(cls, b: Any, r: Any) -> P:
        operator = r.to_object(b, gb.DataType.string, nullable=False)
        args = [r.to_object(b) for _ in range(_int32.unpack(b.read(4))[0])]
        return _make_p(operator, args)


class _TextPReader(_PReader):
    @classmethod
    def objectify(cls, buff: Any, reader: Any, nullable: bool = True) -> Any:
        return gb.TextPSerializer.is_null(buff, reader, cls._read_text, nullable)

    @classmethod
    def _read_text(cls, b: Any, r: Any) -> TextP:
        operator = r.to_object(b, gb.DataType.string, nullable=False)
        args = [r.to_object(b) for _ in range(_int32.unpack(b.read(4))[0])]
        return TextP(operator, *args)


class _GraphSONPReader:
    @classmethod
    def objectify(cls, value: dict[str, Any], reader: gs.GraphSONReader) -> P:
        raw = reader.to_object(value["value"])
        args = raw if isinstance(raw, list) else [raw]
        return _make_p(value["predicate"], args)


class _GraphSONTextPReader:
    @classmethod
    def objectify(cls, value: dict[str, Any], reader: gs.GraphSONReader) -> TextP:
        return TextP(value["predicate"], reader.to_object(value["value"]))


class _GraphSONLambdaReader:
    @classmethod
    def objectify(cls, value: dict[str, Any], reader: gs.GraphSONReader) -> Any:
        # "Neptune does not support Lambda Steps" (access-graph-gremlin-differences.html#feature-gremlin-differences-lambda)
        raise ValueError("Neptune does not support lambdas (g:Lambda)")


def _enum_member(enum: Any, token: str) -> Any:
    """The gremlinpython member for a token as the clients write it: 'list' is Cardinality.list_, 'onCreate'
    Merge.on_create, 'OUT' Direction.OUT, 'all' Pop.all_."""
    members = enum.__members__
    for name in (token, gb.SymbolUtil.to_snake_case(token)):
        for candidate in (name, name + "_"):
            if candidate in members:
                return members[candidate]
    raise ValueError(f"{token!r} is not a {enum.__name__} token")


def _graphson_enum(enum: Any) -> type[Any]:
    class Reader:
        @classmethod
        def objectify(cls, value: Any, reader: Any) -> Any:
            return _enum_member(enum, value)

    return Reader


# Every enum GraphSON carries in a request, by its type name (gremlinpython's EnumSerializer and
# gremlin-javascript's both write {"@type": "g:<Enum>", "@value": "<token>"}).
_GRAPHSON_ENUMS = {
    f"g:{name}": _graphson_enum(getattr(tv, name))
    for name in ("Barrier", "Cardinality", "Column", "Direction", "DT", "Merge", "Operator", "Order", "Pick", "Pop", "Scope", "T")
}


_ENUMS = (
    gb.CardinalityIO,
    gb.TIO,
    gb.PopIO,
    gb.ScopeIO,
    gb.PickIO,
    gb.OperatorIO,
    gb.MergeIO,
    gb.ColumnIO,
    gb.OrderIO,
    gb.BarrierIO,
    gb.DirectionIO,
    gb.DTIO,
)


def _typed(io: type[Any], wrap: type[Any]) -> type[Any]:
    """gremlinpython reads a Long, a Short and a Float as plain int and float; keep the type the client
    sent, so the change record names it (Neptune's dataType). Not a subclass of `io`: gremlinpython's
    metaclass would register it as the global (de)serializer of `io`'s types, for every client too."""

    class Typed:
        @classmethod
        def objectify(cls, buff: Any, reader: Any, nullable: bool = True) -> Any:
            value = io.objectify(buff, reader, nullable)
            return None if value is None else wrap(value)

    return Typed


class _GraphSONFloatReader:
    @classmethod
    def objectify(cls, value: Any, reader: gs.GraphSONReader) -> Float32:
        return Float32(gs.FloatIO.objectify(value, reader))


_gb_reader = gb.GraphBinaryReader(
    {
        **{io.graphbinary_type: _lenient_enum(io) for io in _ENUMS},
        gb.DataType.p: _PReader,
        gb.DataType.textp: _TextPReader,
        gb.DataType.long: _typed(gb.LongIO, Long),
        gb.DataType.short: _typed(gb.ShortIO, Short),
        gb.DataType.float: _typed(gb.FloatIO, Float32),
    }
)
_gb_writer = gb.GraphBinaryWriter({Float32: gb.FloatIO})
# GraphSON's reader already keeps Int64/Int16/Byte as long/short/SingleByte.
_GRAPHSON_REQUEST_TYPES: dict[str, Any] = {
    **_GRAPHSON_ENUMS,
    "g:Bytecode": _BytecodeReader,
    "g:P": _GraphSONPReader,
    "g:TextP": _GraphSONTextPReader,
    "g:Lambda": _GraphSONLambdaReader,
    "g:Float": _GraphSONFloatReader,
}
_gs_reader = gs.GraphSONReader(_GRAPHSON_REQUEST_TYPES)
_gs_writer = gs.GraphSONWriter({Float32: gs.FloatIO})
_gs2_reader = gs2.GraphSONReader(_GRAPHSON_REQUEST_TYPES)
_gs2_writer = gs2.GraphSONWriter({Float32: gs2.FloatIO})


class UnreadableFrameError(Exception):
    """A frame with no request id to answer to: the connection is closed with this reason."""


def parse(frame: bytes) -> Request:
    """The request in a frame; a request that cannot be read but has an id comes back with `error` set."""
    try:
        mime_len = frame[0]
        mime = frame[1 : 1 + mime_len].decode()
    except (IndexError, UnicodeDecodeError):
        raise UnreadableFrameError("not a Gremlin request frame (a length-prefixed MIME type, then the request)") from None
    payload = frame[1 + mime_len :]
    try:
        return _parse(mime, payload)
    except UnreadableFrameError:
        raise
    except Exception as error:
        raise UnreadableFrameError(f"unreadable {mime} request: {type(error).__name__}: {error}") from None


def _parse(mime: str, payload: bytes) -> Request:
    if mime == GRAPHBINARY:
        b = _io.BytesIO(payload)
        b.read(1)  # version 0x81
        request_id = uuid.UUID(bytes=b.read(16))
        op = b.read(_int32.unpack(b.read(4))[0]).decode()
        processor = b.read(_int32.unpack(b.read(4))[0]).decode()
        args = {}
        try:
            for _ in range(_int32.unpack(b.read(4))[0]):
                key = _gb_reader.to_object(b)
                args[key] = _gb_reader.to_object(b)
        except Exception as error:  # answer the client rather than leave it waiting
            return Request(
                request_id, op, processor, {}, mime, f"unreadable GraphBinary request: {type(error).__name__}: {error}"
            )
        return Request(request_id, op, processor, args, mime)
    message = json.loads(payload) if payload[:1] == b"{" else None
    if not isinstance(message, dict) or "requestId" not in message:
        raise UnreadableFrameError(f"unsupported serializer {mime!r}: use {GRAPHBINARY}, {GRAPHSON3} or {GRAPHSON2}")
    raw_id = message["requestId"]
    request_id = uuid.UUID(raw_id["@value"] if isinstance(raw_id, dict) else raw_id)
    op, processor = str(message.get("op", "")), str(message.get("processor", ""))
    if mime not in GRAPHSON:
        # A JSON request in a serializer the emulator does not speak (GraphSON 1.0, untyped JSON): its answer is
        # written in GraphSON 3.0, whose envelope (requestId, status.code, status.message) is the same.
        return Request(
            request_id,
            op,
            processor,
            {},
            GRAPHSON3,
            f"neptune-stream emulator does not support the serializer {mime!r}: use {GRAPHBINARY}, {GRAPHSON3} or {GRAPHSON2}",
            "UnsupportedOperationException",
        )
    reader = _gs_reader if mime == GRAPHSON3 else _gs2_reader
    try:
        args = {k: reader.to_object(v) for k, v in message.get("args", {}).items()}
    except Exception as error:
        name = "GraphSON 3.0" if mime == GRAPHSON3 else "GraphSON 2.0"
        return Request(request_id, op, processor, {}, mime, f"unreadable {name} request: {type(error).__name__}: {error}")
    return Request(request_id, op, processor, args, mime)


def response(request: Request, code: int, message: str, data: list[Any] | None) -> bytes | str:
    traversers = [Traverser(obj, 1) for obj in data] if data is not None else None
    if request.mime in GRAPHSON:
        writer: Any = _gs_writer if request.mime == GRAPHSON3 else _gs2_writer
        return json.dumps(
            {
                "requestId": str(request.request_id),
                "status": {"code": code, "message": message, "attributes": {}},
                "result": {"meta": {}, "data": writer.to_dict(traversers) if traversers is not None else None},
            }
        )
    ba = bytearray([0x81])
    gb.UuidIO.dictify(request.request_id, _gb_writer, ba, as_value=True, nullable=True)
    ba.extend(_int32.pack(code))
    gb.StringIO.dictify(message, _gb_writer, ba, as_value=True, nullable=True)
    gb.MapIO.dictify({}, _gb_writer, ba, as_value=True, nullable=False)
    gb.MapIO.dictify({}, _gb_writer, ba, as_value=True, nullable=False)
    _gb_writer.to_dict(traversers, ba)
    return bytes(ba)
