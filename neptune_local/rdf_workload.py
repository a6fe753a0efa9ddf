"""A realistic RDF change workload written through SPARQL 1.1 Update over HTTP: people appear with typed and
language-tagged literals, get a postal address (a blank node), follow each other in a named graph, have
nicknames in another, age a year at a time (DELETE/INSERT WHERE), and some are unfollowed, lose their
address (DELETE WHERE over the blank node) or are removed from every graph. Seeded, so a run can be replayed.
Works against the emulator and, with IAM signing, against a real Neptune endpoint's /sparql.

Every step is one update request that changes the graph, so each one is exactly one transaction."""

from __future__ import annotations

import random
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from neptune_local.workload import drive

EX = "http://example.org/neptune-stream/"
PREFIXES = f"PREFIX ex: <{EX}> PREFIX xsd: <http://www.w3.org/2001/XMLSchema#> PREFIX foaf: <http://xmlns.com/foaf/0.1/> "
SOCIAL = "ex:graph-social"  # who follows whom
PROFILES = "ex:graph-profiles"  # nicknames, language-tagged
FIRST = ["ana", "ben", "chen", "dara", "eli", "fay", "gus", "hana", "ivo", "jun", "kai", "lea"]
CITIES = ["Austin", "Berlin", "Cairo", "Delhi", "Lima", "Oslo", "Perth", "Quito"]
LANGUAGES = ["en", "fr", "de", "pt-BR", "ja"]
# The predicate of an address's street: one blank node has exactly one, so distinct nodes can be counted.
STREET = f"{EX}street"


def sparql_update(endpoint: str, update: str, *, iam_region: str | None = None, timeout: float = 30.0) -> None:
    """POSTs one SPARQL Update (form-encoded `update=`, as Neptune takes it); an error answer raises."""
    body = urllib.parse.urlencode({"update": update}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if iam_region:
        headers |= _signed_headers(endpoint, body, headers, iam_region)
    request = urllib.request.Request(endpoint, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        response.read()


def _signed_headers(url: str, body: bytes, headers: dict[str, str], region: str) -> dict[str, str]:
    import boto3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    request = AWSRequest(method="POST", url=url, data=body, headers=headers)
    credentials = boto3.Session().get_credentials()
    if credentials is None:
        raise RuntimeError("IAM signing needs AWS credentials")
    SigV4Auth(credentials, "neptune-db", region).add_auth(request)
    return dict(request.headers)


@dataclass
class RdfWorkload:
    send: Callable[[str], None]
    seed: int = 7
    rng: random.Random = field(init=False)
    people: list[str] = field(default_factory=list)  # local names under ex:
    follows: list[tuple[str, str]] = field(default_factory=list)
    addressed: set[str] = field(default_factory=set)
    written: int = 0
    # Addresses inserted: each a new blank node (a label in INSERT DATA is scoped to its request).
    addresses_inserted: int = 0
    counter: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def step(self) -> None:
        """One change: one update request, hence one Neptune transaction."""
        r = self.rng.random()
        unaddressed = [p for p in self.people if p not in self.addressed]
        if r < 0.25 or len(self.people) < 5:
            self._add_person()
        elif r < 0.37 and unaddressed:
            self._add_address(self.rng.choice(unaddressed))
        elif r < 0.55:
            self._follow()
        elif r < 0.62:
            self._nickname()
        elif r < 0.80:
            self._birthday()
        else:
            self._remove()
        self.written += 1

    def _add_person(self) -> None:
        self.counter += 1
        name = f"{self.rng.choice(FIRST)}-{self.counter}"
        joined = f"20{self.rng.randrange(10, 26):02d}-0{self.rng.randrange(1, 10)}-1{self.rng.randrange(10)}T08:30:00Z"
        self.send(
            PREFIXES + f'INSERT DATA {{ ex:{name} a foaf:Person ; foaf:name "{name.title()}" ; '
            f'ex:age "{self.rng.randrange(18, 90)}"^^xsd:integer ; ex:city "{self.rng.choice(CITIES)}"@en ; '
            f'ex:joined "{joined}"^^xsd:dateTime ; ex:score {self.rng.uniform(0, 5):.3f} . }}'
        )
        self.people.append(name)

    def _add_address(self, person: str) -> None:
        self.send(
            PREFIXES + f'INSERT DATA {{ ex:{person} ex:address _:home . _:home ex:street "{self.rng.randrange(1, 999)} '
            f'{self.rng.choice(FIRST).title()} Street" ; ex:city "{self.rng.choice(CITIES)}" . }}'
        )
        self.addressed.add(person)
        self.addresses_inserted += 1

    def _follow(self) -> None:
        a, b = self.rng.sample(self.people, 2)
        if (a, b) in self.follows:
            self._birthday()
            return
        self.send(PREFIXES + f"INSERT DATA {{ GRAPH {SOCIAL} {{ ex:{a} foaf:knows ex:{b} }} }}")
        self.follows.append((a, b))

    def _nickname(self) -> None:
        self.counter += 1
        person, language = self.rng.choice(self.people), self.rng.choice(LANGUAGES)
        self.send(PREFIXES + f'INSERT DATA {{ GRAPH {PROFILES} {{ ex:{person} foaf:nick "n{self.counter}"@{language} }} }}')

    def _birthday(self) -> None:
        person = self.rng.choice(self.people)
        self.send(
            PREFIXES + f"DELETE {{ ex:{person} ex:age ?age }} INSERT {{ ex:{person} ex:age ?next }} "
            f"WHERE {{ ex:{person} ex:age ?age BIND(?age + 1 AS ?next) }}"
        )

    def _remove(self) -> None:
        r = self.rng.random()
        if self.follows and r < 0.4:
            a, b = self.follows.pop(self.rng.randrange(len(self.follows)))
            self.send(PREFIXES + f"DELETE DATA {{ GRAPH {SOCIAL} {{ ex:{a} foaf:knows ex:{b} }} }}")
        elif self.addressed and r < 0.7:
            person = self.rng.choice(sorted(self.addressed))
            self.send(PREFIXES + f"DELETE WHERE {{ ex:{person} ex:address ?home . ?home ?p ?o }}")
            self.addressed.discard(person)
        else:
            person = self.people.pop(self.rng.randrange(len(self.people)))
            # One request, one transaction: the person in every graph, and its address node.
            self.send(
                PREFIXES + f"DELETE WHERE {{ ex:{person} ex:address ?home . ?home ?p ?o }} ; "
                f"DELETE {{ GRAPH ?g {{ ex:{person} ?p ?o }} }} WHERE {{ GRAPH ?g {{ ex:{person} ?p ?o }} }} ; "
                f"DELETE {{ GRAPH ?g {{ ?s ?p ex:{person} }} }} WHERE {{ GRAPH ?g {{ ?s ?p ex:{person} }} }}"
            )
            self.addressed.discard(person)
            self.follows = [f for f in self.follows if person not in f]


def run_rdf_workload(
    sparql_url: str,
    changes: int,
    *,
    rate: float | None = None,
    seed: int = 7,
    stop: threading.Event | None = None,
    on_start: Callable[[RdfWorkload], None] | None = None,
    iam_region: str | None = None,
    after_step: Callable[[int], None] | None = None,
) -> RdfWorkload:
    """Writes `changes` changes, at `rate` changes/s if given (as fast as possible otherwise)."""
    workload = RdfWorkload(lambda update: sparql_update(sparql_url, update, iam_region=iam_region), seed=seed)
    if on_start is not None:
        on_start(workload)
    drive(workload.step, changes, rate=rate, stop=stop, after_step=after_step)
    return workload
