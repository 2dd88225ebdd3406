"""What the machines that watch the nightly job see: the run pushes its
metrics to a real Prometheus Pushgateway (Debian's prometheus-pushgateway,
started here on 127.0.0.1 and stopped), a failed run too, and the gateway keeps
the time of the last success."""
import json
import shutil
import subprocess
import time
import urllib.request

import pytest
from conftest import CARBONSTAT, ROOT, free_port, start_server, stop_server

GATEWAY = shutil.which("prometheus-pushgateway")


@pytest.fixture
def gateway(tmp_path):
    if GATEWAY is None:
        pytest.fail("prometheus-pushgateway is missing: `make test` installs it with apt")
    port = free_port()
    server = start_server("prometheus-pushgateway", [GATEWAY, f"--web.listen-address=127.0.0.1:{port}"], port)
    yield f"http://127.0.0.1:{port}"
    stop_server(server)


def sample_config(tmp_path, metrics):
    """The sample's pipeline.yaml with absolute paths, the output in tmp_path
    and `metrics` (YAML lines) added."""
    base = ROOT / "data-samples"
    text = (base / "pipeline.yaml").read_text(encoding="utf-8")
    text = text.replace("data/", f"{base}/data/").replace("../factors/", f"{ROOT}/factors/")
    text = text.replace("output: ../out", f"output: {tmp_path}/out")
    return text + "metrics:\n" + metrics


def scrape(gateway):
    """{(name, labels): value} of the carbonstat metrics the gateway serves."""
    text = urllib.request.urlopen(f"{gateway}/metrics", timeout=10).read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("carbonstat_"):
            key, value = line.rsplit(" ", 1)
            name, _, labels = key.partition("{")
            out[(name, "{" + labels if labels else "")] = float(value)
    return out


def one(metrics, name, **labels):
    found = [v for (n, l), v in metrics.items()
             if n == name and all(f'{k}="{v}"' in l for k, v in labels.items())]
    assert len(found) == 1, (name, labels, metrics)
    return found[0]


def test_a_run_pushes_its_metrics_and_a_failure_keeps_the_last_success(gateway, tmp_path):
    config = tmp_path / "pipeline.yaml"
    text = sample_config(tmp_path, f"  pushgateway: {gateway}\n  job: carbonstat-nightly\n")
    config.write_text(text, encoding="utf-8")
    ok = subprocess.run([CARBONSTAT, "--quiet", "run", "--config", str(config), "--no-summary"],
                        capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert "not pushed" not in ok.stderr, ok.stderr
    m = scrape(gateway)
    assert one(m, "carbonstat_exit_code", job="carbonstat-nightly") == 0
    success = one(m, "carbonstat_last_success_timestamp_seconds", job="carbonstat-nightly")
    assert one(m, "carbonstat_last_run_timestamp_seconds", job="carbonstat-nightly") == success
    # the sample: 94 published files; energy rows as the manifest counts them
    assert one(m, "carbonstat_published_files", job="carbonstat-nightly") == 94
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    energy = next(t for t in manifest["input_totals"] if t["input"] == "energy")
    assert one(m, "carbonstat_rows_read_total", job="carbonstat-nightly", input="energy") == energy["rows_read"]

    # a failing run (an input that is not there: exit 2) pushes its exit code
    # and run time; the gateway keeps the last success and the row counts
    time.sleep(1.1)
    config.write_text(text.replace("/data/gdp.csv", "/data/no-such-gdp.csv"), encoding="utf-8")
    failed = subprocess.run([CARBONSTAT, "--quiet", "run", "--config", str(config), "--no-summary"],
                            capture_output=True, text=True, timeout=300)
    assert failed.returncode == 2, failed.stderr
    m = scrape(gateway)
    assert one(m, "carbonstat_exit_code", job="carbonstat-nightly") == 2
    assert one(m, "carbonstat_last_success_timestamp_seconds", job="carbonstat-nightly") == success
    assert one(m, "carbonstat_last_run_timestamp_seconds", job="carbonstat-nightly") > success
    assert one(m, "carbonstat_published_files", job="carbonstat-nightly") == 94


def test_a_gateway_that_is_down_does_not_fail_the_run(tmp_path):
    text = sample_config(tmp_path, f"  pushgateway: http://127.0.0.1:{free_port()}\n")
    config = tmp_path / "pipeline.yaml"
    config.write_text(text, encoding="utf-8")
    r = subprocess.run([CARBONSTAT, "run", "--config", str(config), "--no-summary"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "metrics not pushed to the Pushgateway: http://127.0.0.1:" in r.stderr, r.stderr
