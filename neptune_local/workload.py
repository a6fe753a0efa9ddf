"""A realistic change workload written through gremlinpython: people and products appear, follow and
review each other, change their properties, and some are dropped. Seeded, so a run can be replayed.
Works against the emulator and, with IAM signing, against a real Neptune endpoint.

It uses what Neptune does differently from TinkerGraph
(https://docs.aws.amazon.com/neptune/latest/userguide/access-graph-gremlin-differences.html), so the
exactly-once check covers those records too: some people have two labels (`person::customer`, one record
per label), tags are a set-cardinality property (Neptune's default: each new tag is one more value),
updates replace with single cardinality (a REMOVE and an ADD), and tags are dropped one value at a time
with properties().drop(). Every step changes the graph, so each one is exactly one transaction."""

from __future__ import annotations

import random
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from gremlin_python.driver.driver_remote_connection import DriverRemoteConnection
from gremlin_python.process.anonymous_traversal import traversal
from gremlin_python.process.graph_traversal import GraphTraversalSource, __
from gremlin_python.process.traversal import Cardinality

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
    # wss://: the trust this process has now (the local run points SSL_CERT_FILE at the emulator's CA); aiohttp's
    # own default context was made when it was first imported.
    tls = {"ssl": ssl.create_default_context()} if gremlin_url.startswith("wss://") else {}
    return DriverRemoteConnection(gremlin_url, "g", headers=headers, **tls)


@dataclass
class Workload:
    g: GraphTraversalSource
    seed: int = 7
    rng: random.Random = field(init=False)
    people: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)
    edges: list[str] = field(default_factory=list)
    tags: dict[str, list[str]] = field(default_factory=dict)  # person -> its tags, to drop one that exists
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

    def _new_tag(self) -> str:
        return f"{self.rng.choice(CITIES).lower()}-{self.written}"  # never seen before: adding it always changes

    def _add_person(self) -> None:
        name = f"{self.rng.choice(FIRST)}-{self.rng.randrange(10**6)}"
        label = "person::customer" if self.rng.random() < 0.3 else "person"
        tags = [self._new_tag(), f"{self._new_tag()}-b"]
        v = (
            self.g.add_v(label)
            .property("name", name)
            .property("age", self.rng.randrange(18, 90))
            .property("city", self.rng.choice(CITIES))
            .property("tag", tags[0])
            .property("tag", tags[1])
            .id_()
            .next()
        )
        self.people.append(v)
        self.tags[v] = tags

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
        r = self.rng.random()
        if r < 0.4:
            self.g.V(a).property(Cardinality.single, "city", self.rng.choice(CITIES)).iterate()
        elif r < 0.7:
            age, active = self.rng.randrange(18, 90), self.rng.random() < 0.8
            self.g.V(a).property(Cardinality.single, "age", age).property(Cardinality.single, "active", active).iterate()
        else:
            tag = self._new_tag()
            self.g.V(a).property("tag", tag).iterate()  # set cardinality: one more value
            self.tags[a].append(tag)

    def _drop(self) -> None:
        r = self.rng.random()
        if self.edges and r < 0.4:
            self.g.E(self.edges.pop(self.rng.randrange(len(self.edges)))).drop().iterate()
            return
        tagged = [p for p in self.people if self.tags[p]]
        if tagged and r < 0.7:
            a = self.rng.choice(tagged)
            tag = self.tags[a].pop(self.rng.randrange(len(self.tags[a])))
            self.g.V(a).properties("tag").has_value(tag).drop().iterate()  # one value of the set
            return
        victim = self.people.pop(self.rng.randrange(len(self.people)))
        del self.tags[victim]
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
    after_step: Callable[[int], None] | None = None,
) -> Workload:
    """Writes `changes` changes, at `rate` changes/s if given (as fast as possible otherwise); `after_step` is
    called with the count written after each."""
    connection = connect(gremlin_url, iam_region=iam_region)
    try:
        workload = Workload(traversal().with_(connection), seed=seed)
        if on_start is not None:
            on_start(workload)
        drive(workload.step, changes, rate=rate, stop=stop, after_step=after_step)
        return workload
    finally:
        connection.close()


def drive(
    step: Callable[[], None],
    changes: int,
    *,
    rate: float | None,
    stop: threading.Event | None,
    after_step: Callable[[int], None] | None = None,
) -> None:
    """Calls `step` `changes` times, at `rate` calls/s if given (as fast as possible otherwise), until `stop`.
    (Pacing a load generator, not synchronizing a test: sleeping is its job.)"""
    start = time.monotonic()
    for i in range(changes):
        if stop is not None and stop.is_set():
            break
        if rate:
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        step()
        if after_step is not None:
            after_step(i + 1)
