//! Cluster mode (feature `distributed`): a scheduler and two executors of the
//! real binary on 127.0.0.1, started and stopped by the test, and a client
//! session whose query with `lookup(…)` runs on them.
//!
//! ```text
//! cargo test -p carbonstat-jobs --features distributed --test cluster
//! ```

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use carbonstat::datafusion::arrow::array::{Array, AsArray};
use carbonstat::datafusion::arrow::datatypes::Decimal128Type;
use carbonstat::datafusion::dataframe::DataFrameWriteOptions;
use carbonstat::datafusion::prelude::SessionContext;
use carbonstat::engine::cluster::{client_session, query};

mod common;

/// The processes of a cluster, killed when the test ends (passed or not).
struct Cluster {
    children: Vec<(String, Child)>,
    scheduler: String,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (_, c) in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A port free on 127.0.0.1 now, and the one after it.
fn free_port_pair() -> u16 {
    loop {
        let a = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = a.local_addr().unwrap().port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

fn wait_for_port(port: u16, what: &str, cluster: &mut Cluster) {
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        for (name, c) in &mut cluster.children {
            if let Ok(Some(status)) = c.try_wait() {
                panic!("{name} exited with {status} before {what} listened");
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{what} not listening on {port} after 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A scheduler and `executors` executors (one task at a time each), their
/// logs in `dir`.
fn start(dir: &Path, executors: usize) -> Cluster {
    start_with_env(dir, executors, &[])
}

/// [`start`] with `env` in the executors' environment (their credentials).
fn start_with_env(dir: &Path, executors: usize, env: &[(&str, &str)]) -> Cluster {
    let bin = env!("CARGO_BIN_EXE_carbonstat");
    let port = free_port_pair();
    let scheduler = format!("127.0.0.1:{port}");
    let log = |name: &str| std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    let mut cluster = Cluster {
        children: Vec::new(),
        scheduler: scheduler.clone(),
    };
    let child = Command::new(bin)
        .args(["scheduler", "--bind", &scheduler])
        .stdout(Stdio::null())
        .stderr(log("scheduler"))
        .spawn()
        .unwrap();
    cluster.children.push(("scheduler".into(), child));
    wait_for_port(port, "the scheduler", &mut cluster);
    for i in 0..executors {
        let port = free_port_pair();
        let name = format!("executor{i}");
        let child = Command::new(bin)
            .args([
                "executor",
                "--scheduler",
                &scheduler,
                "--bind",
                &format!("127.0.0.1:{port}"),
                "--work-dir",
                dir.join(&name).to_str().unwrap(),
                "--vcores",
                "1",
            ])
            // each task it receives and each input it fetches, logged (the
            // tests count them)
            .env("RUST_LOG", "warn,ballista_executor=info,carbonstat=info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log(&name))
            .spawn()
            .unwrap();
        cluster.children.push((name.clone(), child));
        wait_for_port(port, &name, &mut cluster);
    }
    cluster
}

/// 100 000 records in four Parquet files: record i is in region `r{i mod 4}`
/// and of energy i mod 5 (raw_coal, diesel, natural_gas, heat, coke), 1 unit
/// each; and the coefficients to look up.
async fn write_inputs(dir: &Path) {
    let local = SessionContext::new();
    local
        .sql(
            "SELECT concat('r', CAST(value % 4 AS VARCHAR)) AS region_code,
                    CASE value % 5 WHEN 0 THEN 'raw_coal' WHEN 1 THEN 'diesel'
                         WHEN 2 THEN 'natural_gas' WHEN 3 THEN 'heat' ELSE 'coke' END AS energy_code,
                    1.0 AS quantity
             FROM generate_series(0, 99999)",
        )
        .await
        .unwrap()
        .repartition(carbonstat::datafusion::logical_expr::Partitioning::RoundRobinBatch(4))
        .unwrap()
        .write_parquet(
            dir.join("records").to_str().unwrap(),
            DataFrameWriteOptions::new(),
            None,
        )
        .await
        .unwrap();
    local
        .sql(
            "SELECT * FROM (VALUES ('raw_coal', 0.7143), ('diesel', 1.4571), ('natural_gas', 0.00133),
                                   ('heat', 0.03412), ('coke', 0.9714)) t(energy_code, tce_per_unit)",
        )
        .await
        .unwrap()
        .write_parquet(
            dir.join("coefficients").to_str().unwrap(),
            DataFrameWriteOptions::new(),
            None,
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_with_lookup_runs_on_a_scheduler_and_two_executors() {
    let dir = tempfile::tempdir().unwrap();
    write_inputs(dir.path()).await;
    let cluster = start(dir.path(), 2);

    let ctx = client_session(&cluster.scheduler, 4).await.unwrap();
    for table in ["records", "coefficients"] {
        ctx.register_parquet(
            table,
            dir.path().join(table).to_str().unwrap(),
            Default::default(),
        )
        .await
        .unwrap();
    }
    let sql = "SELECT region_code,
                      sum(CAST(quantity * get_field(lookup('coefficients', energy_code), 'tce_per_unit')
                               AS DECIMAL(38, 6))) AS tce,
                      count(*) AS records
               FROM records GROUP BY region_code ORDER BY region_code";
    // a stuck cluster fails the test (and stops the processes) instead of
    // hanging it: the query takes about a second
    let batches = tokio::time::timeout(Duration::from_secs(120), query(&ctx, sql))
        .await
        .unwrap_or_else(|_| {
            Err(carbonstat::Error::Internal(
                "the cluster did not answer within 120 s".into(),
            ))
        })
        .unwrap_or_else(|e| {
            let logs: String = ["scheduler", "executor0", "executor1"]
                .iter()
                .map(|n| {
                    format!(
                        "--- {n}\n{}",
                        std::fs::read_to_string(dir.path().join(format!("{n}.log")))
                            .unwrap_or_default()
                    )
                })
                .collect();
            panic!("{e}\n{logs}")
        });
    // 4 and 5 have no common divisor: each (region, energy) pair has 100 000 /
    // 20 = 5 000 records of 1 unit, so each region has 25 000 records and
    // 5 000 × (0.7143 + 1.4571 + 0.00133 + 0.03412 + 0.9714)
    // = 5 000 × 3.17825 = 15 891.25 tce (DECIMAL(38, 6): 15891250000 × 10^-6)
    let mut rows = Vec::new();
    for b in &batches {
        let region = b.column(0);
        let region = carbonstat::datafusion::arrow::compute::cast(
            region,
            &carbonstat::datafusion::arrow::datatypes::DataType::Utf8,
        )
        .unwrap();
        let tce = b.column(1).as_primitive::<Decimal128Type>();
        let n = carbonstat::datafusion::arrow::compute::cast(
            b.column(2),
            &carbonstat::datafusion::arrow::datatypes::DataType::Int64,
        )
        .unwrap();
        for i in 0..b.num_rows() {
            rows.push((
                region.as_string::<i32>().value(i).to_string(),
                tce.value(i),
                n.as_primitive::<carbonstat::datafusion::arrow::datatypes::Int64Type>()
                    .value(i),
            ));
            assert!(!tce.is_null(i));
        }
    }
    let expected: Vec<(String, i128, i64)> = (0..4)
        .map(|r| (format!("r{r}"), 15_891_250_000, 25_000))
        .collect();
    assert_eq!(rows, expected);

    // it ran on the cluster: the client's plan is Ballista's distributed query
    let plan = ctx
        .sql(sql)
        .await
        .unwrap()
        .create_physical_plan()
        .await
        .unwrap();
    let shown = format!(
        "{}",
        carbonstat::datafusion::physical_plan::displayable(plan.as_ref()).indent(false)
    );
    assert!(shown.contains("DistributedQueryExec"), "{shown}");
    drop(cluster);
}

/// Every published file under `out` but the manifests (which name the run,
/// its times and its config), by path relative to `out`.
fn published_files(out: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, root: &Path, files: &mut std::collections::BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, files);
            } else {
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                if rel != "manifest.json" && !rel.starts_with("manifests/") {
                    files.insert(rel, std::fs::read(&path).unwrap());
                }
            }
        }
    }
    let mut files = std::collections::BTreeMap::new();
    walk(out, out, &mut files);
    files
}

fn logs(dir: &Path, executors: usize) -> String {
    std::iter::once("scheduler".to_string())
        .chain((0..executors).map(|i| format!("executor{i}")))
        .map(|n| {
            let text = std::fs::read_to_string(dir.join(format!("{n}.log"))).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(20).collect();
            format!(
                "--- {n} (last lines)\n{}\n",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            )
        })
        .collect()
}

/// `carbonstat run` of `config` (a path), at most `limit` (its output goes
/// to files beside the config, read when it ends: a pipe nobody reads would
/// stop it once full).
fn run_config(config: &Path, limit: Duration) -> std::process::Output {
    let out_file = config.with_extension("stdout");
    let err_file = config.with_extension("stderr");
    let mut child = Command::new(env!("CARGO_BIN_EXE_carbonstat"))
        .args([
            "--quiet",
            "run",
            "--config",
            config.to_str().unwrap(),
            "--force",
        ])
        .stdout(std::fs::File::create(&out_file).unwrap())
        .stderr(std::fs::File::create(&err_file).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    std::process::Output {
        status,
        stdout: std::fs::read(&out_file).unwrap_or_default(),
        stderr: std::fs::read(&err_file).unwrap_or_default(),
    }
}

/// The same config run here and on a scheduler with two executors
/// (`engine.cluster`) publishes the same bytes, and `verify` of the cluster's
/// run re-computes it here (the cluster stopped) and finds it identical.
fn same_bytes_on_a_cluster(config: &str, dir: &Path, limit: Duration) {
    same_bytes_with_executor_env(config, dir, limit, &[])
}

/// [`same_bytes_on_a_cluster`] with `env` in the executors' environment.
fn same_bytes_with_executor_env(config: &str, dir: &Path, limit: Duration, env: &[(&str, &str)]) {
    let local_config = dir.join("local.yaml");
    std::fs::write(
        &local_config,
        config.replace("output: OUT", "output: out-local"),
    )
    .unwrap();
    let local = run_config(&local_config, limit);
    assert!(
        local.status.success(),
        "local run: {}",
        String::from_utf8_lossy(&local.stderr)
    );

    let cluster = start_with_env(dir, 2, env);
    let address = cluster.scheduler.clone();
    let cluster_config = dir.join("cluster.yaml");
    std::fs::write(
        &cluster_config,
        config
            .replace("output: OUT", "output: out-cluster")
            .replace(
                "engine:\n",
                &format!("engine:\n  cluster: df://{address}\n"),
            ),
    )
    .unwrap();
    let on_cluster = run_config(&cluster_config, limit);
    let cluster_logs = logs(dir, 2);
    drop(cluster);
    // the steps ran on the executors, not in the client
    for name in ["executor0", "executor1"] {
        let log = std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap();
        assert!(
            log.matches("Received task").count() >= 10,
            "{name} ran fewer than 10 tasks:\n{cluster_logs}"
        );
    }
    assert!(
        on_cluster.status.success(),
        "run on the cluster: {}\n{cluster_logs}",
        String::from_utf8_lossy(&on_cluster.stderr)
    );
    // and the executors wrote the intermediate tables: the sample's steps
    // create 49 tables, of which 3 (recursive CTEs) run in the client, and
    // each table is at least one file
    let written: usize = ["executor0", "executor1"]
        .iter()
        .map(|n| {
            std::fs::read_to_string(dir.join(format!("{n}.log")))
                .unwrap()
                .matches("wrote a table file")
                .count()
        })
        .sum();
    assert!(
        written >= 46,
        "the executors wrote {written} table files:\n{cluster_logs}"
    );

    let here = published_files(&dir.join("out-local"));
    let there = published_files(&dir.join("out-cluster"));
    assert!(here.len() > 10, "{} files published", here.len());
    assert_eq!(
        here.keys().collect::<Vec<_>>(),
        there.keys().collect::<Vec<_>>()
    );
    for (path, bytes) in &here {
        assert!(
            bytes == &there[path],
            "{path} differs between the local run and the cluster's"
        );
    }
    let manifest = |d: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(dir.join(d).join("manifest.json")).unwrap()).unwrap()
    };
    assert_eq!(
        manifest("out-local")["outputs"],
        manifest("out-cluster")["outputs"]
    );
    // the manifest records where it ran
    assert_eq!(
        manifest("out-cluster")["config"]["effective"]["engine"]["cluster"],
        format!("df://{address}")
    );

    // verify re-computes here: the cluster is gone (the manifest keeps no
    // secret: an auditor's credentials are those of the environment, here
    // the executors')
    let verify = Command::new(env!("CARGO_BIN_EXE_carbonstat"))
        .envs(env.iter().copied())
        .args([
            "--quiet",
            "verify",
            dir.join("out-cluster/manifest.json").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "verify of the cluster's run: {}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
}

/// The sample region (data-samples/pipeline.yaml) on a cluster.
#[test]
fn the_sample_on_a_cluster_publishes_the_local_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::sample_config("OUT");
    same_bytes_on_a_cluster(&config, dir.path(), Duration::from_secs(600));
}

/// A generated national dataset of 10^6 enterprise records (`carbonstat
/// sample`, 5 600 enterprises × 6 years in 16 provinces: 1 005 696 records
/// in six files, 3 984 regions, the size whose lookup tables once passed
/// gRPC's message limit when plans carried them) on a cluster.
#[test]
fn a_million_records_on_a_cluster_publish_the_local_bytes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = tempfile::tempdir().unwrap();
    let generated = dir.path().join("gen");
    let out = Command::new(env!("CARGO_BIN_EXE_carbonstat"))
        .args([
            "--quiet",
            "sample",
            "--enterprises",
            "5600",
            "--provinces",
            "16",
            "--factors",
        ])
        .arg(root.join("factors/cn-2026-12"))
        .arg("--out")
        .arg(&generated)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = std::fs::read_to_string(generated.join("pipeline.yaml"))
        .unwrap()
        .replace(": energy/", &format!(": {}/energy/", generated.display()))
        .replace(
            ": sector_energy.csv",
            &format!(": {}/sector_energy.csv", generated.display()),
        )
        .replace(": gdp.csv", &format!(": {}/gdp.csv", generated.display()))
        .replace(
            ": regions.csv",
            &format!(": {}/regions.csv", generated.display()),
        )
        .replace(
            ": targets.csv",
            &format!(": {}/targets.csv", generated.display()),
        )
        .replace("output: out", "output: OUT");
    assert!(
        config.contains("output: OUT") && config.contains("engine:\n"),
        "{config}"
    );
    same_bytes_on_a_cluster(&config, dir.path(), Duration::from_secs(900));
}

/// A moto S3 server on 127.0.0.1 (`MOTO_SERVER`, which `make test` sets to
/// the one it installs into .venv) with a bucket, and its endpoint.
fn moto_with_bucket(bucket: &str) -> (Reaped, String) {
    use std::io::{Read, Write};
    let bin = std::env::var("MOTO_SERVER")
        .unwrap_or_else(|_| format!("{}/../.venv/bin/moto_server", env!("CARGO_MANIFEST_DIR")));
    assert!(
        Path::new(&bin).exists(),
        "no moto S3 server at {bin}: `make test` installs it (.venv), or set MOTO_SERVER"
    );
    let port = free_port_pair();
    let server = Reaped(
        Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    let mut stream = loop {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "moto_server did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    // moto takes unsigned requests: a bucket is one PUT
    write!(
        stream,
        "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    (server, format!("http://127.0.0.1:{port}"))
}

/// The sample with every input on S3 (a moto server): the executors fetch
/// the files from the store themselves, with the config's endpoint and the
/// credentials of their own environment (the config's secret is not sent to
/// the cluster), and publish the local run's bytes.
#[test]
fn inputs_on_s3_are_read_by_the_executors_from_the_store() {
    use carbonstat::store::Location;
    use object_store::ObjectStoreExt;
    let dir = tempfile::tempdir().unwrap();
    let (_moto, endpoint) = moto_with_bucket("inputs");
    let storage = format!(
        "storage:\n  endpoint: {endpoint}\n  allow_http: true\n  region: us-east-1\n  options:\n    aws_access_key_id: testing\n    aws_secret_access_key: testing\n"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let data = root.join("data-samples/data");
    let mut uploaded = Vec::new();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let storage_section = carbonstat::store::Storage {
        endpoint: Some(endpoint.clone()),
        region: Some("us-east-1".into()),
        allow_http: Some(true),
        options: [
            ("aws_access_key_id".to_string(), "testing".to_string()),
            ("aws_secret_access_key".to_string(), "testing".to_string()),
        ]
        .into(),
    };
    for rel in [
        "energy/energy_2020-2022.csv",
        "energy/energy_2023-2025.csv",
        "sector_energy.csv",
        "gdp.csv",
        "regions.csv",
        "targets.csv",
        "production.csv",
        "sinks.csv",
        "groups.csv",
        "green_power.csv",
    ] {
        let url = format!("s3://inputs/data/{rel}");
        let loc = Location::parse(Path::new("/"), &url, &storage_section).unwrap();
        let bytes = std::fs::read(data.join(rel)).unwrap();
        rt.block_on(loc.store.put(&loc.prefix, bytes.into()))
            .unwrap();
        uploaded.push(url);
    }
    drop(rt);
    let config = common::sample_config("OUT").replace(
        &format!("{}/data-samples/data/", root.display()),
        "s3://inputs/data/",
    );
    assert!(
        config.contains("energy: s3://inputs/data/energy/*.csv"),
        "{config}"
    );
    let config = format!("{config}{storage}");
    same_bytes_with_executor_env(
        &config,
        dir.path(),
        Duration::from_secs(600),
        &[
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ],
    );
    // each file was fetched from the store by an executor
    let logs: String = ["executor0", "executor1"]
        .iter()
        .map(|n| std::fs::read_to_string(dir.path().join(format!("{n}.log"))).unwrap())
        .collect();
    for url in &uploaded {
        assert!(
            logs.lines()
                .any(|l| l.contains("fetched a remote input") && l.contains(url.as_str())),
            "no executor fetched {url}:\n{logs}"
        );
    }
}

/// A child process killed (if still running) and reaped when dropped.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An executor killed in the middle of a run on a cluster: the run either
/// publishes the local run's bytes (Ballista ran the lost tasks again on the
/// other executor, after it took the killed one for lost) or fails with a
/// message, and in both cases what was published before stays whole: the
/// output holds a complete run that `verify` finds identical.
#[test]
fn an_executor_killed_mid_run_leaves_the_published_state_whole() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::sample_config("out");
    // a run published here first
    let local_config = dir.path().join("local.yaml");
    std::fs::write(&local_config, &config).unwrap();
    let local = run_config(&local_config, Duration::from_secs(300));
    assert!(
        local.status.success(),
        "{}",
        String::from_utf8_lossy(&local.stderr)
    );
    let before = published_files(&dir.path().join("out"));

    let mut cluster = start(dir.path(), 2);
    let cluster_config = dir.path().join("cluster.yaml");
    std::fs::write(
        &cluster_config,
        config.replace(
            "engine:\n",
            &format!("engine:\n  cluster: df://{}\n", cluster.scheduler),
        ),
    )
    .unwrap();
    let mut client = Reaped(
        Command::new(env!("CARGO_BIN_EXE_carbonstat"))
            .args([
                "run",
                "--config",
                cluster_config.to_str().unwrap(),
                "--force",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // kill executor 1 once the run is into its SQL steps on the cluster
    let stderr = client.0.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(|l| l.ok())
        {
            if line.contains("step done") && line.contains("15_factors.sql") {
                let _ = tx.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let started = Instant::now();
    let killed = rx.recv_timeout(Duration::from_secs(240)).is_ok();
    if !killed {
        panic!("the run did not get past 15_factors.sql within 240 s");
    }
    // the run is still going, and both executors have had work
    assert!(
        client.0.try_wait().unwrap().is_none(),
        "the run ended before the executor was killed"
    );
    for name in ["executor0", "executor1"] {
        let log = std::fs::read_to_string(dir.path().join(format!("{name}.log"))).unwrap();
        assert!(
            log.contains("Received task"),
            "{name} ran no task before the kill:\n{log}"
        );
    }
    let (_, executor) = cluster
        .children
        .iter_mut()
        .find(|(n, _)| n == "executor1")
        .unwrap();
    executor.kill().unwrap();
    executor.wait().unwrap();
    // it ends (Ballista takes the executor for lost after 30 s without a
    // heartbeat and runs its tasks again, up to 4 times each)
    let mut status = None;
    while started.elapsed() < Duration::from_secs(600) {
        if let Some(s) = client.0.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    if status.is_none() {
        let _ = client.0.kill();
    }
    let messages = reader.join().unwrap();
    let cluster_logs = logs(dir.path(), 2);
    drop(cluster);
    let status = status.unwrap_or_else(|| {
        panic!("the run did not end 600 s after an executor was killed\n{messages}\n{cluster_logs}")
    });
    let after = published_files(&dir.path().join("out"));
    if status.success() {
        // run again on the other executor: the same bytes
        assert_eq!(before, after, "the cluster's run published other bytes");
    } else {
        // failed: a message, and the earlier run untouched
        assert!(messages.contains("error:"), "{messages}");
        assert_eq!(before, after, "a failed run changed what was published");
        assert!(
            !dir.path().join("out/_lock.json").exists(),
            "the lock was left behind"
        );
    }
    let verify = Command::new(env!("CARGO_BIN_EXE_carbonstat"))
        .args([
            "--quiet",
            "verify",
            dir.path().join("out/manifest.json").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    eprintln!(
        "executor killed: the run {} after {:.0} s",
        if status.success() {
            "published (tasks run again)"
        } else {
            "failed cleanly"
        },
        started.elapsed().as_secs_f64()
    );
}
