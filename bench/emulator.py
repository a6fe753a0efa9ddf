"""Emulator benchmark: Gremlin mutations per second through gremlinpython, and the time to serve a
10,000-record stream page. `make bench-emulator`; prints a table, then one JSON line."""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request

import boto3
from gremlin_python.driver.driver_remote_connection import DriverRemoteConnection
from gremlin_python.process.anonymous_traversal import traversal
from gremlin_python.process.graph_traversal import __

from neptune_emulator.engine import Engine
from neptune_emulator.server import EmulatorServer
from neptune_local import use_local_credentials


def main() -> int:
    use_local_credentials()
    n = int(os.environ.get("BENCH_MUTATIONS", "5000"))
    results: dict[str, float] = {}
    with EmulatorServer(Engine()) as server:
        connection = DriverRemoteConnection(server.gremlin_url, "g")
        g = traversal().with_(connection)
        ids = [g.add_v("seed").id_().next() for _ in range(100)]

        start = time.perf_counter()
        for i in range(n):
            if i % 2:
                g.add_v("person").property("i", i).iterate()
            else:
                g.V(ids[i % 100]).add_e("knows").to(__.V(ids[(i + 1) % 100])).iterate()
        elapsed = time.perf_counter() - start
        results["mutations_per_s_one_per_traversal"] = n / elapsed

        start = time.perf_counter()
        batches = n // 10
        for b in range(batches):
            t = g.add_v("batch").property("b", b)
            for _ in range(9):
                t = t.add_v("batch").property("b", b)
            t.iterate()
        results["mutations_per_s_ten_per_traversal"] = batches * 10 / (time.perf_counter() - start)
        connection.close()

        neptune = boto3.client("neptunedata", endpoint_url=server.endpoint, region_name="us-east-1")
        timings_http, timings_boto = [], []
        for _ in range(5):
            start = time.perf_counter()
            with urllib.request.urlopen(f"{server.endpoint}/pg/stream?iteratorType=TRIM_HORIZON&limit=10000", timeout=30) as resp:
                body = resp.read()
            timings_http.append(time.perf_counter() - start)
            start = time.perf_counter()
            page = neptune.get_propertygraph_stream(iteratorType="TRIM_HORIZON", limit=10_000)
            timings_boto.append(time.perf_counter() - start)
        assert page["totalRecords"] == 10_000, page["totalRecords"]
        results["page_10k_http_s"] = min(timings_http)
        results["page_10k_boto3_s"] = min(timings_boto)
        results["page_10k_bytes"] = len(body)

    print(f"{'metric':40s} {'value':>12s}")
    for key, value in results.items():
        print(f"{key:40s} {value:12.3f}")
    print(json.dumps({k: round(v, 3) for k, v in results.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
