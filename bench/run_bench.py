#!/usr/bin/env python3
"""make bench: carbonstat's full pipeline against two DuckDB formulations of
the same job, on generated data, with the same threads and memory limit:
bench/duckdb_pipeline.sql (the same contract: row rules, key checks, rejects,
enterprise_annual, the region roll-up and indicators) and bench/duckdb_light.sql
(the computation only: the region roll-up and indicators of records cast, not
checked). The three run alternately, RUNS times each.

Reports wall time (median of RUNS), rows/s, rows/s per core, peak RSS, the
ratios carbonstat / DuckDB, and a raw scan of the input as the floor; checks that
each DuckDB formulation produces carbonstat's region totals (1e-9 relative);
writes docs/benchmarks.md.

Then, with the same binary (built with the feature `distributed`), the CSV
run on a local Ballista cluster: a scheduler and two executors on 127.0.0.1
(the overhead of distribution on one machine; CLUSTER=0 leaves it out,
CLUSTER_SCALE=1e6 CLUSTER_PROVINCES=4 measure it, with its own local runs, on
other data).

  SCALE=1e6 RUNS=3 make bench        (defaults: SCALE=1e7, RUNS=3, THREADS=2, MEMORY=1536MiB)
"""
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/carbonstat-target")) / "release" / "carbonstat"
SCALE = int(float(os.environ.get("SCALE", "1e7")))
RUNS = int(os.environ.get("RUNS", "3"))
THREADS = int(os.environ.get("THREADS", "2"))
MEMORY = os.environ.get("MEMORY", "1536MiB")  # the same limit for both; MEMORY= for unbounded
WORK = Path(os.environ.get("BENCH_DIR", "/tmp/carbonstat-bench"))
CLUSTER = os.environ.get("CLUSTER", "1") != "0"  # CLUSTER=0: no cluster row
CLUSTER_SCALE = int(float(os.environ.get("CLUSTER_SCALE", str(SCALE))))  # the cluster row's input rows
CLUSTER_PROVINCES = int(os.environ.get("CLUSTER_PROVINCES", "16"))  # and provinces (1-16)
ROWS_PER_ENTERPRISE = 180.8  # 6 years × 12 months × ~2.5 energies (measured on the generator)


def timed(cmd, env=None):
    """Run a command under /usr/bin/time: (seconds, peak RSS in MiB, stdout)."""
    t = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, text=True, env=env)
    secs = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, cmd))}\n{r.stdout}\n{r.stderr[-4000:]}")
    rss_kib = int(r.stderr.strip().splitlines()[-1])
    return secs, rss_kib / 1024, r.stdout


def generate(fmt, scale=None, provinces=16):
    scale = scale or SCALE
    out = WORK / f"data-{fmt}-{scale}" if provinces == 16 else WORK / f"data-{fmt}-{scale}-p{provinces}"
    if not (out / "pipeline.yaml").exists():
        enterprises = max(1, round(scale / ROWS_PER_ENTERPRISE))
        secs, _, stdout = timed([BIN, "sample", "--enterprises", str(enterprises), "--provinces", str(provinces), "--format", fmt,
                                 "--factors", str(ROOT / "factors/cn-2024"), "--out", str(out)])
        print(stdout.strip())
    # the engine section follows this run's THREADS and MEMORY (data is reused)
    cfg = (out / "pipeline.yaml").read_text()
    cfg = re.sub(r"engine:\n(  .*\n)*", "", cfg)
    engine = f"engine:\n  target_partitions: {THREADS}\n  threads: {THREADS}\n"
    if MEMORY:
        engine += f"  memory_limit: {MEMORY}\n  spill_dir: {WORK / 'spill'}\n"
    (out / "pipeline.yaml").write_text(cfg + engine)
    return out


def rows_of(data):
    n = 0
    for f in (data / "energy").iterdir():
        if f.suffix == ".csv":
            with open(f, "rb") as fh:
                n += sum(1 for _ in fh) - 1
        else:
            n += duckdb.sql(f"SELECT count(*) FROM '{f}'").fetchall()[0][0]
    return n


TRASH = WORK / "trash"


def set_aside(path):
    """Move a previous run's output out of the way; it is deleted when the bench ends.

    Deleting it here would time the file system instead of the run: on an ext4
    without a journal (this machine's) creating a file right after thousands
    were deleted costs about 0.7 ms of kernel time each (find_inode_bit skips
    inodes deleted in the last minute), and a run publishes about 4 000 bulletin
    pages. A nightly run does not delete thousands of files just before it.
    """
    if path.exists():
        TRASH.mkdir(parents=True, exist_ok=True)
        path.rename(TRASH / f"{path.parent.name}-{path.name}-{time.time_ns()}")


def carbonstat_run(data, config="pipeline.yaml", out="out"):
    set_aside(data / out)
    return timed([BIN, "--quiet", "run", "--config", str(data / config), "--no-summary", "--force"])


def peak_rss_mib(pid):
    """A running process's peak resident memory (VmHWM), MiB."""
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def free_port():
    import socket
    while True:
        with socket.socket() as a, socket.socket() as b:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            try:
                b.bind(("127.0.0.1", port + 1))
                return port
            except OSError:
                continue


def wait_port(port, proc):
    import socket
    for _ in range(600):
        if proc.poll() is not None:
            sys.exit(f"a cluster process exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"nothing listens on {port}")


def cluster_runs(data):
    """The same run on a local Ballista cluster (a scheduler and two executors
    of THREADS/2 task slots each, on this machine: the overhead, not a
    speed-up), RUNS times; the published files must equal the local run's.
    Returns (seconds of each run, peak RSS of client, scheduler, executors)."""
    port = free_port()
    procs = [subprocess.Popen([BIN, "scheduler", "--bind", f"127.0.0.1:{port}"],
                              stdout=subprocess.DEVNULL, stderr=open(WORK / "scheduler.log", "w"))]
    wait_port(port, procs[0])
    for i in range(2):
        p = free_port()
        procs.append(subprocess.Popen(
            [BIN, "executor", "--scheduler", f"127.0.0.1:{port}", "--bind", f"127.0.0.1:{p}",
             "--work-dir", str(WORK / f"executor{i}"), "--vcores", str(max(1, THREADS // 2))],
            stdout=subprocess.DEVNULL, stderr=open(WORK / f"executor{i}.log", "w")))
        wait_port(p, procs[-1])
    try:
        cfg = (data / "pipeline.yaml").read_text().replace("output: out", "output: out-cluster")
        (data / "pipeline-cluster.yaml").write_text(cfg + f"  cluster: df://127.0.0.1:{port}\n")
        runs = [carbonstat_run(data, "pipeline-cluster.yaml", "out-cluster") for _ in range(RUNS)]
        servers = [peak_rss_mib(p.pid) for p in procs]
    finally:
        for p in procs:
            p.kill()
            p.wait()
    for f in sorted((data / "out" / "reports").rglob("*.parquet")):
        other = data / "out-cluster" / f.relative_to(data / "out")
        assert other.read_bytes() == f.read_bytes(), f"{other} differs from the local run's"
    return [s for s, _, _ in runs], max(r for _, r, _ in runs), servers


# the two DuckDB formulations: SQL file and output directory (under the data)
FORMULATIONS = {"contract": ("duckdb_pipeline.sql", "duckdb-out"), "light": ("duckdb_light.sql", "duckdb-light-out")}


def duckdb_run(data, factors, fmt, formulation):
    sql_file, out_name = FORMULATIONS[formulation]
    out = data / out_name
    set_aside(out)
    out.mkdir()
    # RFC 4180 CSV, as carbonstat reads it (nothing left for the sniffer to guess)
    scan = (f"read_csv('{data}/energy/*.csv', header = true, all_varchar = true, delim = ',', quote = '\"', "
            f"escape = '\"', filename = true)" if fmt == "csv"
            else f"read_parquet('{data}/energy/*.parquet', filename = true)")
    sql = (Path(__file__).parent / sql_file).read_text()
    sql = sql.replace("{factor_tables}", (Path(__file__).parent / "duckdb_factors.sql").read_text())
    sql = sql.replace("{data}", str(data)).replace("{factors}", str(factors)).replace("{out}", str(out))
    sql = sql.replace("{energy_scan}", scan).replace("{base_year}", "2020")
    script = data / f"duckdb-{formulation}.sql"
    settings = f"SET threads = {THREADS};\n" + (f"SET memory_limit = '{MEMORY}';\n" if MEMORY else "")
    script.write_text(settings + sql)
    code = f"import duckdb; con = duckdb.connect(); con.execute(open('{script}').read())"
    return timed([sys.executable, "-c", code])


def totals_agree(data, formulation):
    ours = pd.read_parquet(data / "out" / "reports" / "region_indicators")
    theirs = pd.read_parquet(data / FORMULATIONS[formulation][1] / "region_indicators")
    for df in (ours, theirs):
        df["year"] = df["year"].astype(int)
    m = ours.merge(theirs, on=["region_code", "year"], suffixes=("", "_d"))
    assert len(m) == len(ours) == len(theirs), (len(m), len(ours), len(theirs))
    worst = 0.0
    for col in ["energy_tce", "energy_tce_controlled", "co2_t", "energy_intensity", "co2_intensity"]:
        a, b = m[col].astype(float), m[col + "_d"].astype(float)
        rel = ((a - b).abs() / b.abs().clip(lower=1e-12)).fillna(0)
        rel[a.isna() != b.isna()] = float("inf")  # a value on one side only
        worst = max(worst, float(rel.max()))
    return worst


def explain_times(data):
    """`explain` from the published run of `data` (its last `run`): the largest
    region of each level and the enterprise with the most records in the last
    year, RUNS times each (median, peak RSS), and once with --recompute for the
    largest county (the run computed again; the output must be the same)."""
    out = data / "out"
    rows = duckdb.sql(
        f"""SELECT level, region_code, year FROM (
              SELECT level, region_code, year, row_number() OVER (PARTITION BY level ORDER BY records DESC, region_code) AS n
              FROM read_parquet('{out}/reports/region_indicators/*/*.parquet', hive_partitioning = true)
              WHERE year = (SELECT max(year) FROM read_parquet('{out}/reports/region_indicators/*/*.parquet',
                                                                  hive_partitioning = true)))
            WHERE n = 1 ORDER BY level""").fetchall()
    year = rows[0][2]
    [(enterprise,)] = duckdb.sql(
        f"""SELECT enterprise_id FROM read_parquet('{out}/reports/enterprise_totals/year={year}/*.parquet')
            ORDER BY records DESC, enterprise_id LIMIT 1""").fetchall()
    result = []
    for level, code, year in rows + [("enterprise", enterprise, year)]:
        flag, indicator = ("--enterprise", "co2_t") if level == "enterprise" else ("--region", "co2_intensity")
        cmd = [BIN, "--quiet", "explain", "--manifest", str(out), flag, code, "--year", str(year),
               "--indicator", indicator]
        runs = [timed(cmd) for _ in range(RUNS)]
        entry = {"level": level, "region": code, "year": year, "s": statistics.median(s for s, _, _ in runs),
                 "rss_mib": max(r for _, r, _ in runs)}
        if level == "county":
            secs, rss, recomputed = timed(cmd + ["--recompute"])
            if recomputed != runs[0][2]:
                sys.exit(f"explain --recompute differs from explain for {code} {year}")
            entry["recompute_s"], entry["recompute_rss_mib"] = secs, rss
        result.append(entry)
    return result


def main():
    WORK.mkdir(parents=True, exist_ok=True)
    if TRASH.exists():  # left by an interrupted bench: deleted a minute before the first timed run
        shutil.rmtree(TRASH, ignore_errors=True)
        time.sleep(61)
    try:
        bench()
    finally:
        shutil.rmtree(TRASH, ignore_errors=True)


def bench():
    factors = WORK / "factors"
    subprocess.run([BIN, "factors", "export", str(ROOT / "factors/cn-2024"), "--out", str(factors)], check=True,
                   capture_output=True)
    results = []
    for fmt in ["csv", "parquet"]:
        data = generate(fmt)
        n = rows_of(data)
        scan = subprocess.run([BIN, "bench-scan", "--config", str(data / "pipeline.yaml")],
                              capture_output=True, text=True).stdout.strip()
        ours, theirs, light = [], [], []
        for _ in range(RUNS):
            ours.append(carbonstat_run(data))
            theirs.append(duckdb_run(data, factors, fmt, "contract"))
            light.append(duckdb_run(data, factors, fmt, "light"))
        o = statistics.median(s for s, _, _ in ours)
        d = statistics.median(s for s, _, _ in theirs)
        dl = statistics.median(s for s, _, _ in light)
        results.append({
            "format": fmt, "rows": n, "carbonstat_s": o, "duckdb_s": d, "duckdb_light_s": dl,
            "ratio": o / d, "ratio_light": o / dl,
            "carbonstat_rss_mib": max(r for _, r, _ in ours), "duckdb_rss_mib": max(r for _, r, _ in theirs),
            "duckdb_light_rss_mib": max(r for _, r, _ in light),
            "max_rel_diff": totals_agree(data, "contract"), "max_rel_diff_light": totals_agree(data, "light"),
            "scan": scan, "all_carbonstat_s": [round(s, 2) for s, _, _ in ours],
            "all_duckdb_s": [round(s, 2) for s, _, _ in theirs], "all_duckdb_light_s": [round(s, 2) for s, _, _ in light],
        })
        if fmt == "csv":
            results[-1]["explain"] = explain_times(data)
        print(json.dumps(results[-1]))
    cluster = None
    if CLUSTER and "scheduler" in subprocess.run([BIN, "--help"], capture_output=True, text=True).stdout:
        data = generate("csv", CLUSTER_SCALE, CLUSTER_PROVINCES)
        local = [carbonstat_run(data)[0] for _ in range(RUNS)]
        secs, client_rss, servers = cluster_runs(data)
        cluster = {"rows": rows_of(data), "provinces": CLUSTER_PROVINCES, "local_s": statistics.median(local), "cluster_s": statistics.median(secs),
                   "all_s": [round(s, 2) for s in secs], "client_rss_mib": client_rss, "scheduler_rss_mib": servers[0],
                   "executor_rss_mib": servers[1:]}
        print(json.dumps(cluster))
    write_doc(results, cluster)


def write_doc(results, cluster=None):
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    mem = next(l.split(":", 1)[1].strip() for l in open("/proc/meminfo") if l.startswith("MemTotal"))
    version = subprocess.run([BIN, "--version"], capture_output=True, text=True).stdout.strip()
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (bench/run_bench.py); do not edit by hand.",
        "",
        f"- machine: {os.cpu_count()} cores ({cpu}), {mem} memory",
        f"- {version} (release, thin LTO), DataFusion 55.2; DuckDB {duckdb.__version__} (Python)",
        f"- scale: {SCALE:,} input rows requested; {THREADS} threads for both; memory limit: {MEMORY or 'none'}; "
        f"median of {RUNS} runs",
        f"- reproduce: `SCALE={SCALE:g} RUNS={RUNS} THREADS={THREADS}{' MEMORY=' + MEMORY if MEMORY else ''}"
        f"{f' CLUSTER_SCALE={CLUSTER_SCALE:g} CLUSTER_PROVINCES={CLUSTER_PROVINCES}' if cluster else ''} make bench`",
        "",
        "| input | rows | carbonstat s | DuckDB s, same contract | DuckDB s, computation only | "
        "carbonstat / DuckDB same contract | carbonstat / DuckDB computation only | carbonstat rows/s | per core | "
        "DuckDB rows/s, same contract / computation only | peak RSS carbonstat | peak RSS DuckDB, same contract / "
        "computation only | region totals max rel. diff, same contract / computation only |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['format']} | {r['rows']:,} | {r['carbonstat_s']:.2f} | {r['duckdb_s']:.2f} | {r['duckdb_light_s']:.2f} | "
            f"{r['ratio']:.2f} | {r['ratio_light']:.2f} | "
            f"{r['rows'] / r['carbonstat_s'] / 1e6:.2f} M | {r['rows'] / r['carbonstat_s'] / THREADS / 1e6:.2f} M | "
            f"{r['rows'] / r['duckdb_s'] / 1e6:.2f} M / {r['rows'] / r['duckdb_light_s'] / 1e6:.2f} M | "
            f"{r['carbonstat_rss_mib']:.0f} MiB | {r['duckdb_rss_mib']:.0f} / {r['duckdb_light_rss_mib']:.0f} MiB | "
            f"{r['max_rel_diff']:.1e} / {r['max_rel_diff_light']:.1e} |")
    if cluster:
        c = cluster
        lines += ["", "On a local Ballista cluster (`engine.cluster`: a scheduler and two executors of "
                  f"{max(1, THREADS // 2)} task slot(s) each on this machine, so the cost of distribution, not a speed-up; "
                  "the published Parquet files byte-identical to the local run's):", "",
                  "| input | rows | provinces | local s | cluster s | cluster / local | cluster rows/s | peak RSS client | scheduler | executors |",
                  "|---|---|---|---|---|---|---|---|---|---|",
                  f"| csv | {c['rows']:,} | {c['provinces']} | {c['local_s']:.2f} | {c['cluster_s']:.2f} | {c['cluster_s'] / c['local_s']:.2f} | "
                  f"{c['rows'] / c['cluster_s'] / 1e6:.2f} M | {c['client_rss_mib']:.0f} MiB | {c['scheduler_rss_mib']:.0f} MiB | "
                  + " / ".join(f"{r:.0f}" for r in c["executor_rss_mib"]) + " MiB |",
                  "", f"Cluster runs' seconds: {c['all_s']}"]
    for r in results:
        if r.get("explain"):
            lines += ["", f"`explain` from the published run of the {r['format']} input ({r['rows']:,} rows; `--region R "
                      f"--indicator co2_intensity` for the largest region of each level in the last year, `--enterprise E "
                      f"--indicator co2_t` for the enterprise with the most records; median of {RUNS}):", "",
                      "| level | region | year | explain s | peak RSS | explain --recompute s | peak RSS |", "|---|---|---|---|---|---|---|"]
            for e in r["explain"]:
                rec = (f"{e['recompute_s']:.2f} | {e['recompute_rss_mib']:.0f} MiB" if "recompute_s" in e else "| ")
                lines.append(f"| {e['level']} | {e['region']} | {e['year']} | {e['s']:.3f} | {e['rss_mib']:.0f} MiB | {rec} |")
    lines += ["", "Raw scan of the same energy input (the floor):", ""]
    for r in results:
        for s in r["scan"].splitlines():
            lines.append(f"- {r['format']}: {s}")
    lines += ["", "Every run's seconds: " + "; ".join(
        f"{r['format']}: carbonstat {r['all_carbonstat_s']}, DuckDB same contract {r['all_duckdb_s']}, "
        f"DuckDB computation only {r['all_duckdb_light_s']}" for r in results), ""]
    lines += [
        "Both DuckDB formulations read the factor tables carbonstat exports and the input files, and compute the",
        "official method (energy at equal value, each level's net import of electricity, the 2024 controlled scope,",
        "GDP at constant prices, intensities with NBS rounding) into partitioned zstd Parquet; neither uses carbonstat.",
        "",
        "- **same contract** (bench/duckdb_pipeline.sql): the row rules of `records_rows` but malformed rows (missing",
        "  values, USCC check character, unknown region, sector code, year and month, unknown energy, use and flow, unit",
        "  and its dimension, quantity not finite or negative, feedstock and transformation of non-fossil energy): one",
        "  read checks per record what depends on month, quantity and unit, and groups the records by a 128-bit hash of",
        "  the key (annual and monthly rows counted, a month given twice found by sum(2^month) ≠ bit_or(2^month), the",
        "  amounts summed as DECIMAL(38, 6)); the rules on the key's values are checked once per key (the USCC and the",
        "  sector code once per distinct value); the records of a key with a rejected row, a conflict or a bad value",
        "  are read again and judged one by one in carbonstat's rule order (first broken rule, duplicate key, period",
        "  overlap; DuckDB skips that read on clean data). It writes rejects with file and line, enterprise_annual and",
        "  region_indicators. carbonstat also writes target progress, region_sectors, enterprise_totals, the bulletin",
        "  and the manifest, and works out the budget and the groups.",
        "- **computation only** (bench/duckdb_light.sql): the records cast, not checked (no row rules, no key checks,",
        "  no enterprise dataset); amounts per record summed straight to regions, the roll-up and region_indicators.",
        "",
    ]
    doc = ROOT / "docs" / "benchmarks.md"
    doc.parent.mkdir(exist_ok=True)
    header_end = doc.read_text().find("\n## Analysis") if doc.exists() else -1
    analysis = doc.read_text()[header_end:] if header_end >= 0 else ""
    doc.write_text("\n".join(lines) + analysis)
    print(f"wrote {doc}")


if __name__ == "__main__":
    main()
