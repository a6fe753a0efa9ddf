"""`./neptune-stream COMMAND`: one entry point for the local run and a deployed stack.

Targets: the local run (`.local/endpoints.json`, written by `demo --keep-running`) by default, or a
deployed stack with `--stack NeptuneStream` (AWS credentials; names come from the stack's outputs)."""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from typing import Any

from neptune_capture import schema
from neptune_capture.clock import SystemClock
from neptune_capture.contract import Key
from neptune_capture.items import element_key
from neptune_capture.metrics import CountingMetrics
from neptune_capture.store import DynamoStore
from neptune_cli.target import Target, aws_target, local_target


def running(target: Target) -> list[str]:
    executions = target.sfn.list_executions(stateMachineArn=target.state_machine_arn, statusFilter="RUNNING")["executions"]
    return [e["executionArn"] for e in executions]


def status(target: Target, _: argparse.Namespace) -> dict[str, Any]:
    item = target.dynamodb.get_item(
        TableName=target.tables.checkpoint, Key={schema.STREAM_ID: {"S": target.stream_id}}, ConsistentRead=True
    ).get("Item", {})
    plain: dict[str, Any] = {k: next(iter(v.values())) for k, v in item.items()}
    checkpoint = {"commitNum": int(plain["commitNum"]), "opNum": int(plain["opNum"])} if "commitNum" in plain else None
    lag = int(time.time() * 1000) - int(plain["commitTimestamp"]) if "commitTimestamp" in plain else None
    result: dict[str, Any] = {
        "target": target.kind,
        "checkpoint": checkpoint,
        "checkpointCommitTimestamp": int(plain["commitTimestamp"]) if "commitTimestamp" in plain else None,
        "msSinceLastCapturedCommit": lag,
        "version": int(plain.get("version", 0)),
        "leaseOwner": plain.get("leaseOwner"),
        "runningExecutions": running(target),
        "lastFailure": plain.get("lastFailure"),
    }
    try:
        engine = target.engine_status()
        result["neptune"] = {k: engine.get(k) for k in ("status", "role", "dbEngineVersion")} | {
            "streams": engine.get("features", {}).get("Streams")
        }
    except Exception as error:  # the checkpoint is still worth showing when Neptune is not reachable
        result["neptune"] = {"error": str(error)}
    return result


def history(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    paginator = target.dynamodb.get_paginator("query")
    changes = []
    for page in paginator.paginate(
        TableName=target.tables.records,
        IndexName=schema.ELEMENT_INDEX,
        KeyConditionExpression="#e = :e",
        ExpressionAttributeNames={"#e": schema.ELEMENT_ID},
        ExpressionAttributeValues={":e": {"S": element_key(args.element_id)}},
    ):
        for item in page["Items"]:
            plain: dict[str, Any] = {k: next(iter(v.values())) for k, v in item.items()}
            changes.append(
                {
                    "eventId": {"commitNum": int(plain["commitNum"]), "opNum": int(plain["opNum"])},
                    "commitTimestamp": int(plain["commitTimestamp"]),
                    "op": plain["op"],
                    "type": plain["type"],
                    "key": plain.get("key"),
                    "value": plain.get("value"),
                    **({"from": plain["from"], "to": plain["to"]} if "from" in plain else {}),
                }
            )
    return {"elementId": args.element_id, "changes": changes}


def start(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    if args.resume_from_trim_horizon:
        payload[Key.RESUME_FROM_TRIM_HORIZON] = True
    if args.force_lease:
        payload[Key.FORCE_LEASE] = True
    arn = target.sfn.start_execution(stateMachineArn=target.state_machine_arn, name=str(uuid.uuid4()), input=json.dumps(payload))
    return {"executionArn": arn["executionArn"], "input": payload}


def stop(target: Target, _: argparse.Namespace) -> dict[str, Any]:
    stopped = running(target)
    store = DynamoStore(target.dynamodb, target.tables, target.stream_id, clock=SystemClock(), metrics=CountingMetrics())
    released = []
    for arn in stopped:
        target.sfn.stop_execution(executionArn=arn, cause="stopped with neptune-stream stop")
        if store.release_lease(arn):
            released.append(arn)
    return {"stopped": stopped, "leaseReleased": released}


def reset(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    if not args.yes:
        raise SystemExit("reset erases the whole Neptune graph and its stream; repeat with --yes to do it")
    return target.reset()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="neptune-stream", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="run the whole pipeline locally (see `demo --help`)", add_help=False)
    sub.add_parser("emulator", help="run the local Neptune emulator (see `emulator --help`)", add_help=False)
    commands = {
        "status": (status, "checkpoint, lag, running execution, Neptune status"),
        "history": (history, "an element's changes in stream order"),
        "start": (start, "start the state machine"),
        "stop": (stop, "stop running executions"),
        "reset": (reset, "Neptune fast reset: erase the graph and its stream"),
    }
    for name, (_, text) in commands.items():
        p = sub.add_parser(name, help=text)
        p.add_argument("--stack", help="a deployed stack's name (default: the local run)")
        p.add_argument("--data-dir", default=".local", help="the local run's data directory")
        if name == "history":
            p.add_argument("element_id")
        if name == "start":
            p.add_argument("--resume-from-trim-horizon", action="store_true", help="after an expired checkpoint: record the gap")
            p.add_argument("--force-lease", action="store_true", help="take the stream over from a dead execution's lease")
        if name == "reset":
            p.add_argument("--yes", action="store_true")
    raw = sys.argv[1:] if argv is None else argv
    if raw and raw[0] == "demo":
        from neptune_local.demo import main as demo_main

        return demo_main(raw[1:])
    if raw and raw[0] == "emulator":
        from neptune_emulator.__main__ import main as emulator_main

        return emulator_main(raw[1:])
    args = parser.parse_args(raw)
    target = aws_target(args.stack) if args.stack else local_target(args.data_dir)
    function = commands[args.command][0]
    print(json.dumps(function(target, args), indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
