"""DynamoDB Local, the local run's DynamoDB: what it enforces as the service documents (and moto's DynamoDB
did not), and that its process never outlives the run that started it, however that run ends."""

from __future__ import annotations

import ipaddress
import os
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from neptune_local.dynamodb_local import HOST, DynamoDBLocal, owned_processes
from neptune_local.runtime import LocalOptions, LocalPipeline
from tests.conftest import Synth

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

pytestmark = pytest.mark.e2e  # starts servers: not part of `make unit`

ROOT = Path(__file__).resolve().parents[2]
TRANSACT_WRITE_ITEMS = "https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html"
USAGE_NOTES = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/DynamoDBLocal.UsageNotes.html"
# "The maximum item size in DynamoDB is 400 KB, which includes both attribute name binary length (UTF-8 length)
# and attribute value lengths (again binary length)" (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html).
MAX_ITEM_BYTES = 400 * 1024
# "The aggregate size of the items in the transaction cannot exceed 4 MB" (TransactWriteItems).
MAX_TRANSACTION_BYTES = 4 * 1024 * 1024
BOUND_S = 600  # a bound on a whole local run in a subprocess; reaching it fails the test


@pytest.fixture(scope="module")
def server() -> Iterator[DynamoDBLocal]:
    with DynamoDBLocal() as started:
        yield started


@pytest.fixture
def table(server: DynamoDBLocal) -> Iterator[tuple[DynamoDBClient, str]]:
    client = server.client(Config(retries={"total_max_attempts": 1}))  # what the server answers, not retried
    name = "limits"
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield client, name
    client.delete_table(TableName=name)


def _count(client: DynamoDBClient, table: str) -> int:
    item = client.get_item(TableName=table, Key={"pk": {"S": "counter"}}, ConsistentRead=True).get("Item", {})
    return int(item.get("n", {}).get("N", "0"))


def _increment(client: DynamoDBClient, table: str, token: str) -> None:
    client.transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": table,
                    "Key": {"pk": {"S": "counter"}},
                    "UpdateExpression": "ADD n :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            }
        ],
        ClientRequestToken=token,
    )


def test_a_transaction_replayed_with_its_client_request_token_is_a_no_op(table: tuple[DynamoDBClient, str]) -> None:
    """The capture's retries rely on it: "multiple identical calls have the same effect as one single call"
    within the token's 10 minutes (TransactWriteItems, ClientRequestToken)."""
    client, name = table
    _increment(client, name, "capture-retry-1")
    _increment(client, name, "capture-retry-1")  # a retry whose first attempt had committed
    assert _count(client, name) == 1, TRANSACT_WRITE_ITEMS
    _increment(client, name, "capture-retry-2")  # another token is another transaction
    assert _count(client, name) == 2


def _item(pk: str, total_bytes: int) -> dict[str, Any]:
    """An item of exactly `total_bytes` as DynamoDB counts them: names and values, UTF-8."""
    overhead = len("pk") + len(pk) + len("data")
    return {"pk": {"S": pk}, "data": {"S": "x" * (total_bytes - overhead)}}


def test_an_item_over_400_kb_is_refused_and_one_of_exactly_400_kb_is_stored(table: tuple[DynamoDBClient, str]) -> None:
    client, name = table
    client.put_item(TableName=name, Item=_item("largest", MAX_ITEM_BYTES))
    with pytest.raises(ClientError) as refused:
        client.put_item(TableName=name, Item=_item("too-large", MAX_ITEM_BYTES + 1))
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "Item size has exceeded the maximum allowed size" in refused.value.response["Error"]["Message"]
    stored = client.get_item(TableName=name, Key={"pk": {"S": "largest"}})["Item"]
    assert len(stored["data"]["S"]) == MAX_ITEM_BYTES - len("pk") - len("largest") - len("data")


def _puts(name: str, count: int, item_bytes: int) -> list[Any]:
    return [{"Put": {"TableName": name, "Item": _item(f"item-{i:03d}", item_bytes)}} for i in range(count)]


def test_a_transaction_over_4_mb_is_refused_whole(table: tuple[DynamoDBClient, str]) -> None:
    """Eleven items of 390,000 bytes (4.29 MB together) are refused, nothing of them written; ten (3.9 MB) commit."""
    client, name = table
    item_bytes = 390_000
    assert 10 * item_bytes < MAX_TRANSACTION_BYTES < 11 * item_bytes
    with pytest.raises(ClientError) as refused:
        client.transact_write_items(TransactItems=_puts(name, 11, item_bytes))
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "Transaction payload size cannot exceed 4MB" in refused.value.response["Error"]["Message"], TRANSACT_WRITE_ITEMS
    assert _items(client, name) == 0, "nothing of a refused transaction is written"
    client.transact_write_items(TransactItems=_puts(name, 10, item_bytes))
    assert _items(client, name) == 10


def _items(client: DynamoDBClient, table: str) -> int:
    """Every page: a Scan reads at most 1 MB per call (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Scan.html)."""
    return sum(page["Count"] for page in client.get_paginator("scan").paginate(TableName=table, Select="COUNT"))


def test_it_applies_concurrent_transactions_on_one_item_one_after_another(table: tuple[DynamoDBClient, str]) -> None:
    """DynamoDB cancels a transaction that meets another in flight on the same item (TransactionConflict,
    TransactWriteItems); DynamoDB Local applies them one at a time and never does (the usage notes are silent
    on it): conflicts in flight are checked by the DynamoDB model of `make bench` and by chaos's injected
    conflicts, not by DynamoDB Local (docs/dynamodb-local.md)."""
    client, name = table
    outcomes: list[str] = []

    def writer(k: int) -> None:
        for i in range(15):
            try:
                _increment(client, name, f"writer-{k}-{i}")
                outcomes.append("committed")
            except ClientError as error:
                outcomes.append(str(error.response["Error"]["Code"]))

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == ["committed"] * 120
    assert _count(client, name) == 120


def test_it_listens_on_the_loopback_interface_only(server: DynamoDBLocal) -> None:
    """Its command line has no address option (the usage notes); the run's launcher binds it to 127.0.0.1."""
    listening = _listening_addresses(server.port)
    assert listening, f"nothing listens on port {server.port}"
    assert listening <= {HOST}, f"DynamoDB Local listens on {listening}, not only on {HOST} ({USAGE_NOTES})"


def _listening_addresses(port: int) -> set[str]:
    """The local addresses of the sockets listening on `port` (Linux: /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state != "0A" or int(hex_port, 16) != port:  # 0A: LISTEN
                continue
            # /proc prints each 32-bit word of the address in host (little-endian) order.
            raw = bytes.fromhex(address)
            ip = ipaddress.ip_address(b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4)))
            mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
            found.add(str(mapped or ip))
    return found


# -- no DynamoDB Local outlives its run


def _demo(tmp_path: Path, synth: Synth, changes: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "neptune_local.demo",
            "--changes",
            str(changes),
            "--schedule-period",
            "2",
            "--time-budget",
            "0.5",
            "--cdk-out",
            str(synth.outdir),
            "--data-dir",
            str(tmp_path),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_until_capturing(demo: subprocess.Popen[str]) -> str:
    """Reads the demo's output until its first progress line: DynamoDB Local is up and tables exist by then."""
    assert demo.stdout is not None
    seen = []
    for line in demo.stdout:
        seen.append(line)
        if "changes " in line and "captured" in line:
            return "".join(seen)
    raise AssertionError("the demo ended before capturing:\n" + "".join(seen)[-3000:])


def test_a_finished_demo_leaves_no_dynamodb_local(synth: Synth, tmp_path: Path) -> None:
    demo = _demo(tmp_path, synth, 50)
    output, _ = demo.communicate(timeout=BOUND_S)
    assert demo.returncode == 0, output[-3000:]
    assert '"dynamodb": "DynamoDB Local ' in output.splitlines()[-1]
    assert owned_processes(demo.pid) == []


def test_an_interrupted_demo_stops_its_dynamodb_local(synth: Synth, tmp_path: Path) -> None:
    demo = _demo(tmp_path, synth, 1_000_000)
    _wait_until_capturing(demo)
    assert len(owned_processes(demo.pid)) == 1, "the run has its DynamoDB Local"
    demo.send_signal(signal.SIGINT)  # Ctrl-C
    demo.communicate(timeout=BOUND_S)
    assert owned_processes(demo.pid) == []


def test_a_killed_demo_takes_its_dynamodb_local_with_it(synth: Synth, tmp_path: Path) -> None:
    """Killed outright, the run cleans nothing up itself: the kernel's parent-death signal stops DynamoDB Local."""
    demo = _demo(tmp_path, synth, 1_000_000)
    _wait_until_capturing(demo)
    (java,) = owned_processes(demo.pid)
    handle = os.pidfd_open(java)  # readable once that process has ended
    try:
        demo.kill()
        demo.wait(BOUND_S)
        ended, _, _ = select.select([handle], [], [], 120)  # a bound: SIGTERM ends the JVM in well under a second
        assert ended, f"DynamoDB Local (pid {java}) outlived the killed run"
    finally:
        os.close(handle)
    assert owned_processes(demo.pid) == []


def test_a_run_that_fails_to_start_stops_the_dynamodb_local_it_had_started(synth: Synth, tmp_path: Path) -> None:
    """The emulator's port is taken: the start fails after DynamoDB Local was launched, which is stopped again."""
    import socket

    before = set(owned_processes(os.getpid()))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        options = LocalOptions(data_dir=tmp_path, emulator_port=taken.getsockname()[1])
        with pytest.raises(OSError):
            LocalPipeline(synth.stack, options).start()
    assert set(owned_processes(os.getpid())) == before
