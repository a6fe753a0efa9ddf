"""Gremlin Server's WebSocket framing for the two serializers gremlinpython offers, reusing gremlinpython's
own GraphBinary and GraphSON 3 readers and writers (plus the Bytecode reader GraphSON lacks)."""

from __future__ import annotations

import io as _io
import json
import struct
import uuid
from dataclasses import dataclass
from typing import Any

from gremlin_python.process.traversal import Bytecode, P, Traverser
from gremlin_python.structure.io import graphbinaryV1 as gb  # noqa: N813
from gremlin_python.structure.io import graphsonV3d0 as gs  # noqa: N813

from neptune_emulator.values import Float32, Long, Short

GRAPHBINARY = "application/vnd.graphbinary-v1.0"
GRAPHSON3 = "application/vnd.gremlin-v3.0+json"
_int32 = struct.Struct(">i")


@dataclass
class Request:
    request_id: uuid.UUID
    op: str
    processor: str
    args: dict[Any, Any]
    mime: str
    error: str | None = None  # the request could be identified but not read: answer with this error


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
    same for T.id_, Pop.all_, ...): accept the name with Python's trailing underscore too."""

    class Lenient(io):  # type: ignore[misc]
        @classmethod
        def _read_enumval(cls, b: Any, r: Any) -> Any:
            name = gb.SymbolUtil.to_snake_case(r.to_object(b))
            members = cls.python_type.__members__
            return members[name] if name in members else members[name + "_"]

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


class _GraphSONPReader:
    @classmethod
    def objectify(cls, value: dict[str, Any], reader: gs.GraphSONReader) -> P:
        raw = reader.to_object(value["value"])
        args = raw if isinstance(raw, list) else [raw]
        return _make_p(value["predicate"], args)


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
        gb.DataType.long: _typed(gb.LongIO, Long),
        gb.DataType.short: _typed(gb.ShortIO, Short),
        gb.DataType.float: _typed(gb.FloatIO, Float32),
    }
)
_gb_writer = gb.GraphBinaryWriter({Float32: gb.FloatIO})
# GraphSON's reader already keeps Int64/Int16/Byte as long/short/SingleByte.
_gs_reader = gs.GraphSONReader({"g:Bytecode": _BytecodeReader, "g:P": _GraphSONPReader, "g:Float": _GraphSONFloatReader})
_gs_writer = gs.GraphSONWriter({Float32: gs.FloatIO})


def parse(frame: bytes) -> Request:
    mime_len = frame[0]
    mime = frame[1 : 1 + mime_len].decode()
    payload = frame[1 + mime_len :]
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
    if mime == GRAPHSON3:
        message = json.loads(payload)
        raw_id = message["requestId"]
        request_id = uuid.UUID(raw_id["@value"] if isinstance(raw_id, dict) else raw_id)
        try:
            args = {k: _gs_reader.to_object(v) for k, v in message.get("args", {}).items()}
        except Exception as error:
            return Request(
                request_id, message["op"], "", {}, mime, f"unreadable GraphSON request: {type(error).__name__}: {error}"
            )
        return Request(request_id, message["op"], message.get("processor", ""), args, mime)
    raise ValueError(f"unsupported serializer {mime!r}: use GraphBinary 1.0 or GraphSON 3.0")


def response(request: Request, code: int, message: str, data: list[Any] | None) -> bytes | str:
    traversers = [Traverser(obj, 1) for obj in data] if data is not None else None
    if request.mime == GRAPHSON3:
        return json.dumps(
            {
                "requestId": str(request.request_id),
                "status": {"code": code, "message": message, "attributes": {}},
                "result": {"meta": {}, "data": _gs_writer.to_dict(traversers) if traversers is not None else None},
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
