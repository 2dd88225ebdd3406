"""The deployment recipes in jobs/deploy/ are run, not just read: the exact
command line of the crontab, the systemd unit and the Kubernetes CronJob runs
the sample (the CronJob's own pipeline.yaml against a local S3 server), and the
systemd units pass `systemd-analyze verify` where that tool exists."""
import configparser
import json
import os
import shlex
import shutil
import subprocess
import uuid
from pathlib import Path

import boto3
import pytest
import yaml
from conftest import CARBONSTAT, CREDENTIALS, ROOT

DEPLOY = ROOT / "jobs" / "deploy"
SAMPLE = ROOT / "data-samples" / "data"


@pytest.fixture
def sample_config(tmp_path):
    """The sample pipeline with absolute paths, standing in for /etc/carbonstat/pipeline.yaml."""
    text = (ROOT / "data-samples" / "pipeline.yaml").read_text(encoding="utf-8")
    text = text.replace("data/", f"{SAMPLE}/").replace("../factors/cn-2026-12", str(ROOT / "factors" / "cn-2026-12"))
    text = text.replace("output: ../out", f"output: {tmp_path / 'published'}")
    cfg = tmp_path / "pipeline.yaml"
    cfg.write_text(text, encoding="utf-8")
    return cfg


def run_recipe(argv, config, env=None):
    """Run a recipe's carbonstat command with the binary and config of this checkout."""
    argv = [CARBONSTAT if a == "/usr/local/bin/carbonstat" else a for a in argv]
    argv = [str(config) if a == "/etc/carbonstat/pipeline.yaml" else a for a in argv]
    if argv[0] != CARBONSTAT:
        argv = [CARBONSTAT] + argv
    return subprocess.run(argv, capture_output=True, text=True, env=dict(os.environ, **(env or {})), timeout=300)


def assert_json_log(stderr):
    lines = [json.loads(line) for line in stderr.splitlines()]
    assert any(line["fields"].get("message") == "published" for line in lines)


def test_crontab_line_runs(sample_config):
    lines = [l for l in (DEPLOY / "crontab").read_text().splitlines() if l.strip() and not l.startswith("#")]
    assert len(lines) == 1
    fields = lines[0].split(None, 5)
    for f, (lo, hi) in zip(fields[:5], [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]):
        assert f == "*" or lo <= int(f) <= hi, f
    command = fields[5]
    carbonstat = next(part for part in command.split(";") if "carbonstat " in part and "run" in part)
    argv = shlex.split(carbonstat.split(">>")[0])
    r = run_recipe(argv, sample_config)
    assert r.returncode == 0, r.stderr
    assert_json_log(r.stderr)


def test_systemd_units(sample_config, tmp_path):
    service = configparser.ConfigParser(strict=False, interpolation=None)
    service.optionxform = str
    service.read(DEPLOY / "carbonstat.service")
    timer = configparser.ConfigParser(strict=False, interpolation=None)
    timer.optionxform = str
    timer.read(DEPLOY / "carbonstat.timer")
    assert service["Service"]["Type"] == "oneshot"
    assert timer["Timer"]["Unit"] == "carbonstat.service"
    assert timer["Timer"]["Persistent"] == "true"
    assert set(service["Service"]["RestartPreventExitStatus"].split()) == {"2", "3", "4"}
    r = run_recipe(shlex.split(service["Service"]["ExecStart"]), sample_config)
    assert r.returncode == 0, r.stderr
    assert_json_log(r.stderr)
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed: unit syntax not verified")
    # verify with the binary of this checkout standing in for /usr/local/bin/carbonstat
    units = tmp_path / "units"
    units.mkdir()
    for name in ["carbonstat.service", "carbonstat.timer"]:
        text = (DEPLOY / name).read_text().replace("/usr/local/bin/carbonstat", CARBONSTAT)
        (units / name).write_text(text)
    v = subprocess.run([analyze, "verify", "--man=no", str(units / "carbonstat.timer"), str(units / "carbonstat.service")],
                       capture_output=True, text=True)
    assert v.returncode == 0 and not v.stderr.strip(), v.stderr


def test_kubernetes_cronjob_runs_its_own_config_against_s3(moto_endpoint, tmp_path):
    docs = list(yaml.safe_load_all((DEPLOY / "cronjob.yaml").read_text()))
    configmap = next(d for d in docs if d["kind"] == "ConfigMap")
    cronjob = next(d for d in docs if d["kind"] == "CronJob")
    spec = cronjob["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    job = spec["jobTemplate"]["spec"]
    assert job["podFailurePolicy"]["rules"][0]["onExitCodes"]["values"] == [2, 3, 4]
    container = job["template"]["spec"]["containers"][0]
    assert container["envFrom"][0]["secretRef"]["name"] == "carbonstat-storage"
    limit_gib = int(container["resources"]["limits"]["memory"].removesuffix("Gi"))
    pipeline = yaml.safe_load(configmap["data"]["pipeline.yaml"])
    engine_gib = int(pipeline["engine"]["memory_limit"].removesuffix("GiB"))
    assert engine_gib < limit_gib, "engine.memory_limit must stay below the pod's memory limit"
    mount = next(m for m in container["volumeMounts"] if m["name"] == "pipeline")["mountPath"]
    assert f"{mount}/pipeline.yaml" in container["args"]

    # the ConfigMap's pipeline.yaml, pointed at the local S3 server and a fresh bucket
    bucket = f"carbonstat-{uuid.uuid4().hex[:10]}"
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, aws_access_key_id="testing",
                      aws_secret_access_key="testing", region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    for f in SAMPLE.rglob("*.csv"):
        s3.put_object(Bucket=bucket, Key=f"inputs/{f.relative_to(SAMPLE)}", Body=f.read_bytes())
    for f in (ROOT / "factors" / "cn-2026-12").iterdir():
        s3.put_object(Bucket=bucket, Key=f"factors/cn-2026-12/{f.name}", Body=f.read_bytes())
    text = configmap["data"]["pipeline.yaml"].replace("s3://carbonstat/", f"s3://{bucket}/")
    text = text.replace(pipeline["storage"]["endpoint"], moto_endpoint)
    text = text.replace(pipeline["storage"]["region"], "us-east-1")
    text = text.replace("spill_dir: /spill", f"spill_dir: {tmp_path / 'spill'}")
    text += "  allow_http: true\n"
    cfg = tmp_path / "pipeline.yaml"
    cfg.write_text(text)
    argv = [CARBONSTAT] + [str(cfg) if a == f"{mount}/pipeline.yaml" else a for a in container["args"]]
    r = subprocess.run(argv, capture_output=True, text=True, env=dict(os.environ, **CREDENTIALS), timeout=300)
    assert r.returncode == 0, r.stderr
    assert_json_log(r.stderr)
    manifest = json.loads(s3.get_object(Bucket=bucket, Key="published/manifest.json")["Body"].read())
    assert manifest["input_totals"][0]["rows_read"] == 2168


def test_example_config_is_the_configmaps(tmp_path):
    example = yaml.safe_load((DEPLOY / "pipeline.example.yaml").read_text())
    docs = list(yaml.safe_load_all((DEPLOY / "cronjob.yaml").read_text()))
    configmap = yaml.safe_load(next(d for d in docs if d["kind"] == "ConfigMap")["data"]["pipeline.yaml"])
    for key in ["inputs", "factors", "output", "base_year", "storage"]:
        assert example[key] == configmap[key], key


def test_containerfile_builds_the_binary_it_runs():
    text = (DEPLOY / "Containerfile").read_text()
    cargo = (ROOT / "jobs" / "Cargo.toml").read_text()
    assert 'name = "carbonstat"' in cargo
    assert "cargo build --release --locked --bin carbonstat" in text
    assert "COPY --from=build /src/target/release/carbonstat /usr/local/bin/carbonstat" in text
    assert 'ENTRYPOINT ["/usr/local/bin/carbonstat"]' in text
    # the build context must contain the lock file that --locked needs
    assert (ROOT / "Cargo.lock").exists()


def test_cluster_recipe_mounts_shared_dir_where_the_config_says():
    """jobs/deploy/cluster.yaml cannot run here (no Kubernetes): its parts are
    checked against each other. The client, the scheduler (it plans from the
    run's table directory) and every executor mount the shared claim at the
    config's engine.shared_dir; the executors and the config name the
    scheduler's Service and port; the executors have credentials of their own
    to fetch remote inputs (docs/distributed.md)."""
    docs = [d for d in yaml.safe_load_all((DEPLOY / "cluster.yaml").read_text(encoding="utf-8")) if d]
    by_name = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    config = yaml.safe_load(by_name[("ConfigMap", "carbonstat-pipeline-cluster")]["data"]["pipeline.yaml"])
    shared = config["engine"]["shared_dir"]
    claim = by_name[("PersistentVolumeClaim", "carbonstat-shared")]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]

    scheduler = by_name[("Deployment", "carbonstat-scheduler")]["spec"]["template"]["spec"]
    executors = by_name[("StatefulSet", "carbonstat-executor")]["spec"]["template"]["spec"]
    client = by_name[("CronJob", "carbonstat-cluster")]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    for name, pod in [("scheduler", scheduler), ("executor", executors), ("client", client)]:
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = [m for m in pod["containers"][0]["volumeMounts"]
                  if volumes.get(m["name"], {}).get("persistentVolumeClaim", {}).get("claimName") == "carbonstat-shared"]
        assert [m["mountPath"] for m in mounts] == [shared], name

    service = by_name[("Service", "carbonstat-scheduler")]
    port = service["spec"]["ports"][0]["port"]
    assert config["engine"]["cluster"] == f"df://carbonstat-scheduler:{port}"
    args = executors["containers"][0]["args"]
    assert args[args.index("--scheduler") + 1] == f"carbonstat-scheduler:{port}"
    assert scheduler["containers"][0]["args"][-1].endswith(f":{port}")
    assert executors["containers"][0]["envFrom"][0]["secretRef"]["name"]
