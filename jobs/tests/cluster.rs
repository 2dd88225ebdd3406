//! Cluster mode (feature `cluster`): a scheduler and two executors of the
//! real binary on 127.0.0.1, started and stopped by the test, and a client
//! session whose query with `lookup(…)` runs on them.
//!
//! ```text
//! cargo test -p carbonstat-jobs --features cluster --test cluster
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
