"""`./neptune-stream COMMAND`: one entry point for the local run and a deployed stack.

Targets: the local run (`.local/endpoints.json`, written by `demo --keep-running`) by default, or a
deployed stack with `--stack NeptuneStream` (AWS credentials; names come from the stack's outputs)."""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from neptune_capture import schema
from neptune_capture.clock import SystemClock
from neptune_capture.items import element_key
from neptune_capture.metrics import CountingMetrics
from neptune_capture.neptune_api import fast_reset, get_engine_status, make_client
from neptune_capture.plan import TableNames
from neptune_capture.store import DynamoStore


@dataclass
class Target:
    kind: str
    dynamodb: Any
    sfn: Any
    tables: TableNames
    state_machine_arn: str
    stream_id: str
    neptune_endpoint: str | None = None  # local: reachable directly
    functions: dict[str, str] | None = None  # deployed: Neptune is only reachable from the VPC
    lambda_client: Any = None

    def engine_status(self) -> dict[str, Any]:
        if self.neptune_endpoint:
            return get_engine_status(make_client(self.neptune_endpoint))
        return self._invoke("status")

    def reset(self) -> dict[str, Any]:
        if self.neptune_endpoint:
            return fast_reset(make_client(self.neptune_endpoint))
        return self._invoke("reset")

    def _invoke(self, name: str) -> dict[str, Any]:
        assert self.functions is not None
        response = self.lambda_client.invoke(FunctionName=self.functions[name], Payload=b"{}")
        payload: dict[str, Any] = json.loads(response["Payload"].read())
        if response.get("FunctionError"):
            raise RuntimeError(f"{name} Lambda failed: {payload.get('errorType')}: {payload.get('errorMessage')}")
        return payload


def local_target(data_dir: str) -> Target:
    from neptune_stream.local import use_local_credentials

    path = Path(data_dir) / "endpoints.json"
    if not path.exists():
        raise SystemExit(f"no local run found ({path} is missing): start one with `./neptune-stream demo --keep-running`")
    info = json.loads(path.read_text())
    use_local_credentials()
    kwargs = {"endpoint_url": info["aws"], "region_name": "us-east-1"}
    return Target(
        kind="local",
        dynamodb=boto3.client("dynamodb", **kwargs),
        sfn=boto3.client("stepfunctions", **kwargs),
        tables=TableNames(**info["tables"]),
        state_machine_arn=info["stateMachineArn"],
        stream_id=info["streamId"],
        neptune_endpoint=info["neptune"],
    )


def aws_target(stack: str) -> Target:
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]
    }
    return Target(
        kind="aws",
        dynamodb=boto3.client("dynamodb"),
        sfn=boto3.client("stepfunctions"),
        tables=TableNames(outputs["StreamRecordsTable"], outputs["UpdateHistoryTable"], outputs["LatestCheckpointTable"]),
        state_machine_arn=outputs["StateMachineArn"],
        stream_id=outputs.get("StreamId", "neptune"),
        functions={"status": outputs["StatusFunction"], "reset": outputs["ResetFunction"]},
        lambda_client=boto3.client("lambda"),
    )


def running(target: Target) -> list[str]:
    executions = target.sfn.list_executions(stateMachineArn=target.state_machine_arn, statusFilter="RUNNING")["executions"]
    return [e["executionArn"] for e in executions]


def status(target: Target, _: argparse.Namespace) -> dict[str, Any]:
    item = target.dynamodb.get_item(
        TableName=target.tables.checkpoint, Key={schema.STREAM_ID: {"S": target.stream_id}}, ConsistentRead=True
    ).get("Item", {})
    plain = {k: next(iter(v.values())) for k, v in item.items()}
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
            plain = {k: next(iter(v.values())) for k, v in item.items()}
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
        payload["resumeFromTrimHorizon"] = True
    if args.force_lease:
        payload["forceLease"] = True
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
        from neptune_stream.local.demo import main as demo_main

        return demo_main(raw[1:])
    if raw and raw[0] == "emulator":
        from neptune_stream.local.emulator.__main__ import main as emulator_main

        return emulator_main(raw[1:])
    args = parser.parse_args(raw)
    target = aws_target(args.stack) if args.stack else local_target(args.data_dir)
    function = commands[args.command][0]
    print(json.dumps(function(target, args), indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
