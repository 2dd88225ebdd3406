"""Shared fixtures: a moto S3 server and an Azurite blob server on 127.0.0.1
for the session's tests, started here and stopped when the session ends."""
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CARBONSTAT = os.environ.get("CARBONSTAT") or str(
    Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/carbonstat-target")) / "debug/carbonstat"
)
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(name, argv, port, timeout=30, cwd=None):
    """Start a server that listens on 127.0.0.1:`port` and wait until it
    accepts connections; the caller stops it with `stop_server`."""
    server = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return server
        except OSError:
            if time.time() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail(f"{name} did not start")
            time.sleep(0.1)


def stop_server(server):
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture(scope="session")
def moto_endpoint():
    port = free_port()
    server = start_server("moto_server", [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1",
                                          "-p", str(port)], port)
    yield f"http://127.0.0.1:{port}"
    stop_server(server)



# Azurite: npm's azurite, installed by `make test` into .node/ (the version is
# pinned in the Makefile).
AZURITE = os.environ.get("AZURITE_BLOB") or str(ROOT / ".node" / "node_modules" / ".bin" / "azurite-blob")
# The emulator's well-known development account (public, in Azurite's docs).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@pytest.fixture(scope="session")
def azurite_endpoint():
    if not Path(AZURITE).exists():
        pytest.fail(f"{AZURITE} is missing: `make test` installs Azurite with npm into .node/")
    port = free_port()
    # in memory: nothing is written, but Azurite wants a working directory
    workdir = tempfile.mkdtemp(prefix="azurite-")
    server = start_server("azurite-blob", [AZURITE, "--blobHost", "127.0.0.1", "--blobPort", str(port),
                                           "--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck",
                                           "--silent"], port, timeout=60, cwd=workdir)
    yield f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"
    stop_server(server)
    os.rmdir(workdir) if not os.listdir(workdir) else None
