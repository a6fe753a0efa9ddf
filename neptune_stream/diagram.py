"""The architecture picture, drawn from a synthesized template (never by hand):
`python -m neptune_stream.diagram cdk.out/NeptuneStream.template.json docs/images/architecture.svg`
(`make diagram` synthesizes first).

`architecture(template)` is pure: it keeps the template's main resources, finds which refers to which
(`Ref`, `Fn::GetAtt`, `Fn::Sub` anywhere in a resource's properties, and `DependsOn`) and gives each a layer: the resources
nothing else refers to on the right, and each other one a column left of everything it refers to, as
close to them as that allows, so every arrow points right. `render_svg` draws the
layers as columns. Standard library only: no graph-drawing package.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

# The resources the picture shows, with the words it labels them with and a colour per service. Everything
# else (roles, policies, security groups, subnets, log groups...) is how these are wired, not what they are.
MAIN_TYPES: dict[str, tuple[str, str]] = {
    "AWS::Scheduler::Schedule": ("EventBridge Scheduler schedule", "#f8bbd0"),
    "AWS::StepFunctions::StateMachine": ("Step Functions state machine", "#f8bbd0"),
    "AWS::Lambda::Function": ("Lambda function", "#ffe0b2"),
    "AWS::Lambda::LayerVersion": ("Lambda layer", "#ffe0b2"),
    "AWS::DynamoDB::Table": ("DynamoDB table", "#bbdefb"),
    "AWS::Neptune::DBCluster": ("Neptune cluster", "#c8e6c9"),
    "AWS::Neptune::DBInstance": ("Neptune instance", "#c8e6c9"),
    "AWS::EC2::VPC": ("VPC", "#e1bee7"),
    "AWS::EC2::VPCEndpoint": ("VPC endpoint", "#e1bee7"),
    "AWS::CloudWatch::Alarm": ("CloudWatch alarm", "#d7ccc8"),
    "AWS::CloudWatch::Dashboard": ("CloudWatch dashboard", "#d7ccc8"),
    "AWS::SNS::Topic": ("SNS topic", "#d7ccc8"),
}
# Resources of these types are drawn as one node per type ("CloudWatch alarms, 5 of them"): each is one
# more of the same, where each function or table is a part of its own.
GROUPED_TYPES = frozenset({"AWS::CloudWatch::Alarm"})

COLUMN_W, NODE_W, NODE_H, GAP, MARGIN, TITLE_H = 280, 230, 46, 14, 24, 40


@dataclass(frozen=True)
class Node:
    key: str  # a logical id, or the type of a group
    kind: str  # words for its type
    name: str  # its logical id without CDK's hash, or how many a group holds
    colour: str
    layer: int
    members: tuple[str, ...]  # logical ids


@dataclass(frozen=True)
class Architecture:
    title: str
    nodes: tuple[Node, ...]
    edges: tuple[tuple[str, str], ...]  # (referring node key, referred node key)


def references(value: Any) -> Iterator[str]:
    """Every logical id a property value names: Ref, Fn::GetAtt (list or dotted form), Fn::Sub's ${Id}."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                yield inner
            elif key == "Fn::GetAtt":
                yield (inner[0] if isinstance(inner, list) else str(inner).split(".", 1)[0])
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                yield from (m.split(".", 1)[0] for m in re.findall(r"\$\{([^}!]+)\}", str(text)))
                if isinstance(inner, list):
                    yield from references(inner[1:])
            else:
                yield from references(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from references(inner)


def readable(logical_id: str) -> str:
    """A logical id without the 8-character hash CDK appends to keep it unique."""
    return re.sub(r"[0-9A-F]{8}$", "", logical_id) or logical_id


def architecture(template: dict[str, Any], title: str = "") -> Architecture:
    resources: dict[str, Any] = template.get("Resources", {})
    if not isinstance(resources, dict) or not resources:
        raise ValueError("the template has no Resources: give a synthesized stack's template (cdk.out/<stack>.template.json)")
    main = {rid: r for rid, r in resources.items() if r.get("Type") in MAIN_TYPES and not _cdk_provider(r)}
    if not main:
        raise ValueError(f"the template holds none of the resources the picture shows ({', '.join(sorted(MAIN_TYPES))})")
    refs = {
        rid: sorted({t for t in references(r.get("Properties", {})) if t in main and t != rid} | _depends(r, main, rid))
        for rid, r in main.items()
    }
    node_of = {rid: (r["Type"] if r["Type"] in GROUPED_TYPES else rid) for rid, r in main.items()}
    edges = sorted({(node_of[a], node_of[b]) for a, targets in refs.items() for b in targets if node_of[a] != node_of[b]})
    members_of: dict[str, list[str]] = {}
    for rid, key in node_of.items():
        members_of.setdefault(key, []).append(rid)
    layers = _layers(list(members_of), edges)
    nodes = []
    for key, members in members_of.items():
        kind, colour = MAIN_TYPES[main[members[0]]["Type"]]
        name = f"{len(members)} of them" if len(members) > 1 else readable(members[0])
        nodes.append(Node(key, kind + ("s" if len(members) > 1 else ""), name, colour, layers[key], tuple(sorted(members))))
    nodes.sort(key=lambda n: (n.layer, n.kind, n.name))
    return Architecture(title, tuple(nodes), tuple(edges))


def _cdk_provider(resource: dict[str, Any]) -> bool:
    """A function the CDK adds to carry out a custom resource of its own (such as the feature flag
    `@aws-cdk/aws-ec2:restrictDefaultSecurityGroup`'s): plumbing of the CDK, not a part of this design."""
    return bool(resource.get("Properties", {}).get("Handler") == "__entrypoint__.handler")


def _depends(resource: dict[str, Any], main: dict[str, Any], rid: str) -> set[str]:
    depends = resource.get("DependsOn", [])
    return {d for d in ([depends] if isinstance(depends, str) else depends) if d in main and d != rid}


def _layers(keys: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Each node's layer: the deepest chain of references below it is its distance from the rightmost
    column (a node that refers to nothing is in it). CloudFormation refuses a template whose resources
    refer to each other in a cycle, so the chains end."""
    out: dict[str, list[str]] = {k: [] for k in keys}
    for a, b in edges:
        out[a].append(b)
    depth: dict[str, int] = {}

    def below(k: str) -> int:
        if k not in depth:
            depth[k] = 1 + max((below(b) for b in out[k]), default=-1)
        return depth[k]

    deepest = max(below(k) for k in keys)
    return {k: deepest - below(k) for k in keys}


def render_svg(arch: Architecture) -> str:
    columns: dict[int, list[Node]] = {}
    for node in arch.nodes:
        columns.setdefault(node.layer, []).append(node)
    # Order each column, right to left, by where the nodes it refers to sit (one barycentre pass), so
    # arrows cross less.
    position: dict[str, float] = {}
    for layer in sorted(columns, reverse=True):
        column = columns[layer]
        targets = {n.key: [position[b] for a, b in arch.edges if a == n.key and b in position] for n in column}
        column.sort(key=lambda n: (sum(targets[n.key]) / len(targets[n.key]) if targets[n.key] else -1.0, n.kind, n.name))
        for i, n in enumerate(column):
            position[n.key] = i
    tallest = max(len(c) for c in columns.values())
    width = MARGIN * 2 + COLUMN_W * (max(columns) + 1) - (COLUMN_W - NODE_W)
    height = MARGIN * 2 + TITLE_H + tallest * (NODE_H + GAP)
    place: dict[str, tuple[float, float]] = {}
    for layer, column in columns.items():
        offset = (tallest - len(column)) * (NODE_H + GAP) / 2
        for i, n in enumerate(column):
            place[n.key] = (MARGIN + layer * COLUMN_W, MARGIN + TITLE_H + offset + i * (NODE_H + GAP))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height:.0f}" viewBox="0 0 {width} {height:.0f}" '
        'font-family="sans-serif" font-size="12">',
        f"<title>{escape(arch.title or 'Architecture')}</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
        f'<rect width="{width}" height="{height:.0f}" fill="white"/>',
        f'<text x="{MARGIN}" y="{MARGIN + 14}" font-size="15" font-weight="bold">{escape(arch.title)}</text>',
        f'<text x="{MARGIN}" y="{MARGIN + 30}" fill="#555">an arrow: the resource on its left refers to the one it points at'
        " (Ref, GetAtt, Sub or DependsOn in the template)</text>",
    ]
    for a, b in arch.edges:
        (ax, ay), (bx, by) = place[a], place[b]
        x1, y1, x2, y2 = ax + NODE_W, ay + NODE_H / 2, bx, by + NODE_H / 2
        bend = max(30.0, (x2 - x1) / 2)
        parts.append(
            f'<path class="edge" data-from="{escape(a)}" data-to="{escape(b)}" d="M{x1:.0f},{y1:.0f} C{x1 + bend:.0f},{y1:.0f} '
            f'{x2 - bend:.0f},{y2:.0f} {x2:.0f},{y2:.0f}" fill="none" stroke="#888" marker-end="url(#arrow)"/>'
        )
    for n in arch.nodes:
        x, y = place[n.key]
        parts.append(
            f'<g class="node" data-key="{escape(n.key)}" data-members="{escape(" ".join(n.members))}">'
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{NODE_W}" height="{NODE_H}" rx="6" fill="{n.colour}" stroke="#555"/>'
            f'<text x="{x + 8:.0f}" y="{y + 18:.0f}" font-weight="bold">{escape(n.kind)}</text>'
            f'<text x="{x + 8:.0f}" y="{y + 36:.0f}">{escape(_fit(n.name))}</text></g>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _fit(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(
            "error: expected a template and an output file\n  next: python -m neptune_stream.diagram "
            "cdk.out/NeptuneStream.template.json docs/images/architecture.svg",
            file=sys.stderr,
        )
        return 2
    source, out = Path(argv[1]), Path(argv[2])
    try:
        arch = architecture(json.loads(source.read_text()), f"{source.name.removesuffix('.template.json')}: main resources")
    except (OSError, ValueError) as error:
        print(
            f"error: {source}: {error}\n  next: run `make synth` first, then pass cdk.out/<stack>.template.json", file=sys.stderr
        )
        return 2
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_svg(arch))
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
