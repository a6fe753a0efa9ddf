"""A local run in this process gives its environment back when it stops: the handlers' settings (its
DynamoDB and Neptune endpoints) and its TLS trust (SSL_CERT_FILE and the CA variables pointing at the
emulator's own CA). A process that goes on after the run, as a test session does, must reach real hosts
with its own trust store and must not send a later client to this run's stopped servers (both were seen:
pip refusing the package index's certificate, and a unit test's DynamoDB client refused by a stopped
DynamoDB Local, when the e2e tests ran before them in one session)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from neptune_capture.settings import Env
from neptune_local.runtime import LocalOptions, LocalPipeline
from tests.conftest import Synth

pytestmark = pytest.mark.e2e  # starts servers: not part of `make unit`


def test_a_local_run_gives_its_environment_back_when_it_stops(synth: Synth, tmp_path: Path) -> None:
    before = dict(os.environ)
    with LocalPipeline(synth.stack, LocalOptions(data_dir=tmp_path, time_budget_seconds=0.5)) as pipeline:
        assert pipeline.emulator is not None and pipeline.emulator.tls is not None
        during = dict(os.environ)
        # While it runs, the handlers' settings and the trust of the emulator's CA are the process's own.
        assert during["SSL_CERT_FILE"] == str(pipeline.emulator.tls.ca_file)
        assert during[Env.NEPTUNE_ENDPOINT] == pipeline.emulator.endpoint
    after = dict(os.environ)
    # Kept on purpose: the region and credentials use_local_credentials fills in where none are set (never over
    # real ones), and moto's port.
    kept = {"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "MOTO_PORT"}
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)} - kept
    assert changed == set(), {k: (before.get(k), after.get(k)) for k in changed}
