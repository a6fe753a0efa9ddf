"""A realistic change workload written through gremlinpython: people and products appear, follow and
review each other, change their properties, and some are dropped. Seeded, so a run can be replayed.
Works against the emulator and, with IAM signing, against a real Neptune endpoint."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from gremlin_python.driver.driver_remote_connection import DriverRemoteConnection
from gremlin_python.process.anonymous_traversal import traversal
from gremlin_python.process.graph_traversal import GraphTraversalSource, __

FIRST = ["ana", "ben", "chen", "dara", "eli", "fay", "gus", "hana", "ivo", "jun", "kai", "lea"]
CITIES = ["Austin", "Berlin", "Cairo", "Delhi", "Lima", "Oslo", "Perth", "Quito"]


def iam_headers(gremlin_url: str, region: str) -> dict[str, str]:
    """SigV4 headers for Neptune's WebSocket handshake when IAM auth is on."""
    import boto3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    http_url = gremlin_url.replace("wss://", "https://").replace("ws://", "http://")
    request = AWSRequest(method="GET", url=http_url)
    credentials = boto3.Session().get_credentials()
    if credentials is None:
        raise RuntimeError("IAM signing needs AWS credentials")
    SigV4Auth(credentials, "neptune-db", region).add_auth(request)
    return dict(request.headers)


def connect(gremlin_url: str, *, iam_region: str | None = None) -> DriverRemoteConnection:
    headers = iam_headers(gremlin_url, iam_region) if iam_region else None
    return DriverRemoteConnection(gremlin_url, "g", headers=headers)


@dataclass
class Workload:
    g: GraphTraversalSource
    seed: int = 7
    rng: random.Random = field(init=False)
    people: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)
    edges: list[str] = field(default_factory=list)
    written: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def step(self) -> None:
        """One change: one traversal, hence one Neptune transaction."""
        r = self.rng.random()
        if r < 0.30 or len(self.people) < 5:
            self._add_person()
        elif r < 0.40:
            self._add_product()
        elif r < 0.60:
            self._connect()
        elif r < 0.85:
            self._update()
        else:
            self._drop()
        self.written += 1

    def _add_person(self) -> None:
        name = f"{self.rng.choice(FIRST)}-{self.rng.randrange(10**6)}"
        v = (
            self.g.add_v("person")
            .property("name", name)
            .property("age", self.rng.randrange(18, 90))
            .property("city", self.rng.choice(CITIES))
            .id_()
            .next()
        )
        self.people.append(v)

    def _add_product(self) -> None:
        v = (
            self.g.add_v("product")
            .property("sku", f"SKU-{self.rng.randrange(10**8)}")
            .property("price", round(self.rng.uniform(1, 500), 2))
        )
        self.products.append(v.id_().next())

    def _connect(self) -> None:
        a = self.rng.choice(self.people)
        if self.products and self.rng.random() < 0.5:
            b, label = self.rng.choice(self.products), "reviewed"
            t = self.g.V(a).add_e(label).to(__.V(b)).property("stars", self.rng.randrange(1, 6))
        else:
            b, label = self.rng.choice(self.people), "follows"
            t = self.g.V(a).add_e(label).to(__.V(b)).property("since", 2000 + self.rng.randrange(26))
        self.edges.append(t.id_().next())

    def _update(self) -> None:
        a = self.rng.choice(self.people)
        if self.rng.random() < 0.5:
            self.g.V(a).property("city", self.rng.choice(CITIES)).iterate()
        else:
            self.g.V(a).property("age", self.rng.randrange(18, 90)).property("active", self.rng.random() < 0.8).iterate()

    def _drop(self) -> None:
        if self.edges and self.rng.random() < 0.6:
            self.g.E(self.edges.pop(self.rng.randrange(len(self.edges)))).drop().iterate()
            return
        victim = self.people.pop(self.rng.randrange(len(self.people)))
        incident = set(self.g.V(victim).both_e().id_().to_list())
        self.g.V(victim).drop().iterate()  # its edges go with it
        self.edges = [e for e in self.edges if e not in incident]


def run_workload(
    gremlin_url: str,
    changes: int,
    *,
    rate: float | None = None,
    seed: int = 7,
    stop: threading.Event | None = None,
    on_start: Callable[[Workload], None] | None = None,
    iam_region: str | None = None,
) -> Workload:
    """Writes `changes` changes, at `rate` changes/s if given (as fast as possible otherwise)."""
    connection = connect(gremlin_url, iam_region=iam_region)
    try:
        workload = Workload(traversal().with_(connection), seed=seed)
        if on_start is not None:
            on_start(workload)
        start = time.monotonic()
        for i in range(changes):
            if stop is not None and stop.is_set():
                break
            if rate:
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            workload.step()
        return workload
    finally:
        connection.close()
