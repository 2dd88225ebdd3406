#!/usr/bin/env python3
"""make bench: carbonstat's full pipeline against the same computation in
DuckDB, on generated data, with the same threads and memory limit.

Reports wall time (median of RUNS), rows/s, rows/s per core, peak RSS, the
ratio carbonstat / DuckDB, and a raw scan of the input as the floor; checks that
both produce the same region totals (1e-9 relative); writes docs/benchmarks.md.

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


def generate(fmt):
    out = WORK / f"data-{fmt}-{SCALE}"
    if not (out / "pipeline.yaml").exists():
        enterprises = max(1, round(SCALE / ROWS_PER_ENTERPRISE))
        secs, _, stdout = timed([BIN, "sample", "--enterprises", str(enterprises), "--provinces", "16", "--format", fmt,
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


def carbonstat_run(data):
    shutil.rmtree(data / "out", ignore_errors=True)
    return timed([BIN, "--quiet", "run", "--config", str(data / "pipeline.yaml"), "--no-summary", "--force"])


def duckdb_run(data, factors, fmt):
    out = data / "duckdb-out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    scan = (f"read_csv('{data}/energy/*.csv', header = true, all_varchar = true)" if fmt == "csv"
            else f"read_parquet('{data}/energy/*.parquet')")
    sql = (Path(__file__).parent / "duckdb_pipeline.sql").read_text()
    sql = sql.replace("{data}", str(data)).replace("{factors}", str(factors)).replace("{out}", str(out))
    sql = sql.replace("{energy_scan}", scan).replace("{base_year}", "2020")
    script = data / "duckdb.sql"
    settings = f"SET threads = {THREADS};\n" + (f"SET memory_limit = '{MEMORY}';\n" if MEMORY else "")
    script.write_text(settings + sql)
    code = f"import duckdb; con = duckdb.connect(); con.execute(open('{script}').read())"
    return timed([sys.executable, "-c", code])


def totals_agree(data):
    ours = pd.read_parquet(data / "out" / "reports" / "region_indicators")
    theirs = pd.read_parquet(data / "duckdb-out" / "region_indicators")
    for df in (ours, theirs):
        df["year"] = df["year"].astype(int)
    m = ours.merge(theirs, on=["region_code", "year"], suffixes=("", "_d"))
    assert len(m) == len(ours) == len(theirs), (len(m), len(ours), len(theirs))
    worst = 0.0
    for col in ["energy_tce", "energy_tce_controlled", "co2_t", "energy_intensity", "co2_intensity"]:
        a, b = m[col].astype(float), m[col + "_d"].astype(float)
        rel = ((a - b).abs() / b.abs().clip(lower=1e-12)).fillna(0)
        worst = max(worst, float(rel.max()))
    return worst


def main():
    WORK.mkdir(parents=True, exist_ok=True)
    factors = WORK / "factors"
    subprocess.run([BIN, "factors", "export", str(ROOT / "factors/cn-2024"), "--out", str(factors)], check=True,
                   capture_output=True)
    results = []
    for fmt in ["csv", "parquet"]:
        data = generate(fmt)
        n = rows_of(data)
        scan = subprocess.run([BIN, "bench-scan", "--config", str(data / "pipeline.yaml")],
                              capture_output=True, text=True).stdout.strip()
        ours, theirs = [], []
        for _ in range(RUNS):
            ours.append(carbonstat_run(data))
            theirs.append(duckdb_run(data, factors, fmt))
        diff = totals_agree(data)
        o = statistics.median(s for s, _, _ in ours)
        d = statistics.median(s for s, _, _ in theirs)
        results.append({
            "format": fmt, "rows": n, "carbonstat_s": o, "duckdb_s": d, "ratio": o / d,
            "carbonstat_rss_mib": max(r for _, r, _ in ours), "duckdb_rss_mib": max(r for _, r, _ in theirs),
            "max_rel_diff": diff, "scan": scan, "all_carbonstat_s": [round(s, 2) for s, _, _ in ours],
            "all_duckdb_s": [round(s, 2) for s, _, _ in theirs],
        })
        print(json.dumps(results[-1]))
    write_doc(results)


def write_doc(results):
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
        f"- reproduce: `SCALE={SCALE:g} RUNS={RUNS} THREADS={THREADS}{' MEMORY=' + MEMORY if MEMORY else ''} make bench`",
        "",
        "| input | rows | carbonstat s | DuckDB s | carbonstat / DuckDB | carbonstat rows/s | per core | DuckDB rows/s | peak RSS carbonstat | peak RSS DuckDB | region totals max rel. diff |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['format']} | {r['rows']:,} | {r['carbonstat_s']:.2f} | {r['duckdb_s']:.2f} | {r['ratio']:.2f} | "
            f"{r['rows'] / r['carbonstat_s'] / 1e6:.2f} M | {r['rows'] / r['carbonstat_s'] / THREADS / 1e6:.2f} M | "
            f"{r['rows'] / r['duckdb_s'] / 1e6:.2f} M | {r['carbonstat_rss_mib']:.0f} MiB | {r['duckdb_rss_mib']:.0f} MiB | {r['max_rel_diff']:.1e} |")
    lines += ["", "Raw scan of the same energy input (the floor):", ""]
    for r in results:
        for s in r["scan"].splitlines():
            lines.append(f"- {r['format']}: {s}")
    lines += ["", "Every run's seconds: " + "; ".join(
        f"{r['format']}: carbonstat {r['all_carbonstat_s']}, DuckDB {r['all_duckdb_s']}" for r in results), ""]
    lines += [
        "DuckDB runs the computation only (factor joins, signed tce and CO2, roll-up, GDP chain, intensities,",
        "partitioned zstd Parquet); carbonstat also validates every row (17 rules, duplicate and period-overlap",
        "detection), keeps file and line per row, writes rejects, target progress and the manifest.",
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
