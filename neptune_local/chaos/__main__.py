"""`make chaos` (`python -m neptune_local.chaos`): every scenario, one line each, then
`{"scenarios", "passed", "lost", "duplicated", "dynamodb"}` as the last line. Exits 1 if any scenario failed."""

from __future__ import annotations

import argparse
import json
import os
import sys
import zlib

from neptune_capture.contract import ContextKey, GraphModel
from neptune_capture.settings import DEFAULT_IN_FLIGHT, MAX_IN_FLIGHT
from neptune_local.chaos.scenarios import SCENARIOS, run_scenario
from neptune_local.dynamodb_endpoint import server_name, shared_dynamodb
from neptune_local.runtime import synthesized_graph_model
from neptune_local.template import load_stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m neptune_local.chaos", description=__doc__)
    parser.add_argument("--changes", type=int, default=int(os.environ.get("CHAOS_CHANGES", "300")), help="changes per scenario")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--in-flight",
        type=int,
        default=DEFAULT_IN_FLIGHT,
        choices=range(1, MAX_IN_FLIGHT + 1),
        metavar=f"1..{MAX_IN_FLIGHT}",
        help=f"transactions the handler keeps in flight (default {DEFAULT_IN_FLIGHT}, the deployed setting)",
    )
    parser.add_argument("--only", action="append", default=[], help="run the scenarios whose name contains this")
    parser.add_argument("--cdk-out", default=os.environ.get("CDK_OUT", "cdk.out"))
    parser.add_argument(
        "--model",
        choices=[str(m) for m in GraphModel],
        default=None,
        help="the graph captured (propertygraph or rdf); the synthesized stack must say the same "
        '(`make chaos CHAOS_ARGS="--model rdf"` synthesizes it so). Default: what the stack says',
    )
    args = parser.parse_args(argv)
    stack = load_stack(args.cdk_out)
    model = synthesized_graph_model(stack)
    if args.model is not None and args.model != model:
        parser.error(
            f"--model {args.model}, but {args.cdk_out} was synthesized for the {model} model: synthesize with "
            f"{ContextKey.GRAPH_MODEL.flag(args.model)}"
        )
    names = [n for n in SCENARIOS if not args.only or any(o in n for o in args.only)]
    outcomes = []
    # One DynamoDB Local for every scenario (each starts on empty tables): one JVM start for the whole run.
    with shared_dynamodb() as dynamodb:
        server = server_name(dynamodb)
        for name in names:
            seed = args.seed + zlib.crc32(name.encode()) % 1000
            outcome = run_scenario(stack, name, args.changes, seed, args.in_flight, dynamodb=dynamodb)
            outcomes.append(outcome)
            print(outcome.line(), flush=True)
    summary = {
        "scenarios": len(outcomes),
        "passed": sum(o.ok for o in outcomes),
        "lost": sum(o.verification.missing for o in outcomes),
        "duplicated": sum(o.verification.duplicates for o in outcomes),
        "dynamodb": server,  # what held the tables
    }
    print(json.dumps(summary))
    return 0 if summary["passed"] == summary["scenarios"] else 1


if __name__ == "__main__":
    sys.exit(main())
