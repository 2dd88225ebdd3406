//! `carbonstat`: the command a statistics bureau runs from cron, and the tools
//! around it. Exit codes (README "Exit codes"): 0 published or up to date,
//! 1 runtime failure, 2 usage, config or input-file error, 3 data quality
//! threshold exceeded, 4 the output is locked by another run, 5 `verify`
//! found differences.

mod audit_cmd;
mod factors_cmd;
mod logging;
mod metrics;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "carbonstat",
    version,
    about = "Energy and carbon indicators for statistics bureaus, on Apache DataFusion"
)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Only warnings and errors on stderr.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Where to reach the store a manifest is in (before the manifest, with the
/// run's own `storage:` settings, has been read). The environment
/// (AWS_ENDPOINT, AWS_ALLOW_HTTP, …) works too.
#[derive(clap::Args, Clone, Default)]
pub struct StoreArgs {
    /// Endpoint of an S3-compatible store.
    #[arg(long)]
    endpoint: Option<String>,
    /// Region of the store (AWS_REGION works too).
    #[arg(long = "store-region")]
    store_region: Option<String>,
    /// Allow plain http to the endpoint.
    #[arg(long)]
    allow_http: bool,
}

impl StoreArgs {
    pub fn storage(&self) -> carbonstat::store::Storage {
        carbonstat::store::Storage {
            endpoint: self.endpoint.clone(),
            region: self.store_region.clone(),
            allow_http: self.allow_http.then_some(true),
            options: Default::default(),
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum SampleFormatArg {
    Csv,
    Parquet,
}

/// How a report is printed on stdout.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the pipeline: validate the inputs, compute the indicators, publish
    /// the reports and manifest.json.
    Run {
        /// The pipeline config (pipeline.yaml).
        #[arg(long, short)]
        config: PathBuf,
        /// Print no summary table on stdout.
        #[arg(long)]
        no_summary: bool,
        /// Recompute and republish even when the published run has the same
        /// fingerprint (inputs, factor set, config, program).
        #[arg(long)]
        force: bool,
    },
    /// Re-check a published run: inputs and factor set against their hashes,
    /// published files against the manifest, and a re-computation of every file.
    Verify {
        /// The manifest (path or URL, e.g. s3://bucket/reports/manifest.json).
        manifest: String,
        /// Directory the run's relative input paths resolve against (default:
        /// the one recorded in the manifest).
        #[arg(long)]
        base: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Render the bulletin (HTML pages with charts) of a published run again,
    /// e.g. an older run, or in another language or with other templates.
    Report {
        /// The manifest (path or URL) of the published run.
        #[arg(long)]
        manifest: String,
        /// Directory to write the pages to.
        #[arg(long)]
        out: PathBuf,
        /// zh or en (default: the run's report.language).
        #[arg(long)]
        language: Option<String>,
        /// A directory of templates (index.html, region.html, base.html,
        /// style.css) replacing the built-in ones (default: the run's).
        #[arg(long)]
        template_dir: Option<PathBuf>,
        #[arg(long)]
        base: Option<PathBuf>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Show how one published number was made.
    Explain {
        /// The manifest of the published run.
        #[arg(long, conflicts_with = "config")]
        manifest: Option<String>,
        /// Or a pipeline config, to explain a number before publishing.
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        base: Option<PathBuf>,
        /// A region: its row of region_indicators.
        #[arg(long, required_unless_present_any = ["enterprise", "group"], conflicts_with_all = ["enterprise", "group"])]
        region: Option<String>,
        /// Or an enterprise (credit code): its row of enterprise_totals.
        #[arg(long, conflicts_with = "group")]
        enterprise: Option<String>,
        /// Or a group id: its row of group_indicators.
        #[arg(long)]
        group: Option<String>,
        #[arg(long)]
        year: i32,
        /// A numeric column of the row's dataset, e.g. co2_intensity (region),
        /// co2_t (enterprise), co2_per_tce (group).
        #[arg(long)]
        indicator: String,
        /// Compute the run again from its inputs and sum the single records,
        /// instead of reading the explanation from what the run published
        /// (the same answer).
        #[arg(long, requires = "manifest")]
        recompute: bool,
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Inspect and check factor sets.
    Factors {
        #[command(subcommand)]
        command: factors_cmd::FactorsCommand,
    },
    /// Write a synthetic national dataset (regions, GDP, targets, monthly
    /// enterprise records) and its pipeline.yaml: seeded, deterministic, streamed.
    Sample {
        /// Number of enterprises (about 90 records each a year).
        #[arg(long, default_value_t = 10_000)]
        enterprises: u64,
        /// Years, e.g. 2020-2025.
        #[arg(long, default_value = "2020-2025")]
        years: String,
        #[arg(long, value_enum, default_value_t = SampleFormatArg::Csv)]
        format: SampleFormatArg,
        /// Provinces (1-16; each has 8 cities, 48 counties, 192 towns).
        #[arg(long, default_value_t = 4,
              value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=16))]
        provinces: usize,
        #[arg(long, default_value_t = 2020)]
        seed: u64,
        /// The factor set the written pipeline.yaml names.
        #[arg(long, default_value = "factors/cn-2024")]
        factors: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Benchmark floor: read the energy files of a config as the run does, and
    /// with DataFusion's own CSV reader (every column parsed, no other work).
    #[command(hide = true)]
    BenchScan {
        #[arg(long)]
        config: PathBuf,
    },
    /// Serve as a cluster's scheduler (Apache Ballista, with carbonstat's
    /// functions): the client sends its queries here (docs/distributed.md;
    /// needs a binary built with `--features distributed`).
    Scheduler {
        /// The address to listen on, host:port (e.g. 0.0.0.0:50050).
        #[arg(long)]
        bind: String,
    },
    /// Serve as a cluster's executor: runs the tasks the scheduler gives it
    /// (docs/distributed.md; needs a binary built with `--features distributed`).
    Executor {
        /// The scheduler, host:port.
        #[arg(long)]
        scheduler: String,
        /// The address of this executor's data (Flight) service, host:port;
        /// port + 1 is kept for its task service.
        #[arg(long)]
        bind: String,
        /// Where it keeps the shuffle files of running jobs.
        #[arg(long)]
        work_dir: PathBuf,
        /// Tasks it runs at once (default: one per core).
        #[arg(long)]
        vcores: Option<usize>,
    },
    /// Print the output datasets' columns, types, units and meanings.
    Schema {
        /// As the Markdown data dictionary of the README.
        #[arg(long)]
        markdown: bool,
    },
}

fn main() -> ExitCode {
    // before any thread exists (lib/src/engine/memory.rs says why)
    carbonstat::engine::memory::tune_allocator();
    let cli = Cli::parse();
    // `carbonstat … | head` ends quietly when head has read enough, as Unix
    // tools do, instead of failing on a closed pipe. Not the cluster's
    // servers: a peer that goes away must not end them.
    #[cfg(unix)]
    if !matches!(
        cli.command,
        Command::Scheduler { .. } | Command::Executor { .. }
    ) {
        // SAFETY: called once at start, before any other thread exists.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    logging::init(cli.log_format, cli.quiet);
    // A panic is a bug (ours or the engine's), never the user's fault: report it
    // in one line with exit code 1 instead of a backtrace.
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "error: internal error: {info}\nThis is a bug in carbonstat; please report it with the command and the config."
        );
    }));
    let log_format = cli.log_format;
    match std::panic::catch_unwind(|| execute(cli.command, log_format)) {
        Ok(code) => code,
        Err(_) => ExitCode::from(1),
    }
}

fn execute(command: Command, log_format: LogFormat) -> ExitCode {
    let result = match command {
        Command::Run {
            config,
            no_summary,
            force,
        } => run::run(run::Args {
            config: &config,
            print_summary: !no_summary,
            force,
            progress: matches!(log_format, LogFormat::Text),
        }),
        Command::Verify {
            manifest,
            base,
            format,
            store,
        } => audit_cmd::verify_cmd(&manifest, base.as_deref(), format, &store.storage()),
        Command::Report {
            manifest,
            out,
            language,
            template_dir,
            base,
            store,
        } => audit_cmd::report_cmd(
            &manifest,
            &out,
            language.as_deref(),
            template_dir,
            base.as_deref(),
            &store.storage(),
        ),
        Command::Explain {
            manifest,
            config,
            base,
            region,
            enterprise,
            group,
            year,
            indicator,
            recompute,
            format,
            store,
        } => audit_cmd::explain_cmd(audit_cmd::ExplainArgs {
            manifest,
            config,
            base,
            subject: match (region, enterprise, group) {
                (_, Some(e), _) => audit_cmd::ExplainSubject::Enterprise(e),
                (_, _, Some(g)) => audit_cmd::ExplainSubject::Group(g),
                (r, _, _) => audit_cmd::ExplainSubject::Region(r.unwrap_or_default()),
            },
            year,
            indicator,
            recompute,
            format,
            storage: store.storage(),
        }),
        Command::Scheduler { bind } => cluster_scheduler(&bind),
        Command::Executor {
            scheduler,
            bind,
            work_dir,
            vcores,
        } => cluster_executor(&scheduler, &bind, &work_dir, vcores),
        Command::Factors { command } => factors_cmd::run(command),
        Command::BenchScan { config } => bench_scan(&config),
        Command::Sample {
            enterprises,
            years,
            format,
            provinces,
            seed,
            factors,
            out,
        } => sample(enterprises, &years, format, provinces, seed, &factors, &out),
        Command::Schema { markdown } => {
            if markdown {
                print!("{}", carbonstat::publish::dictionary_markdown());
            } else {
                for d in carbonstat::publish::DATASETS {
                    println!("{} — {}", d.name, d.description);
                    for c in d.columns {
                        println!("  {:<42} {:<10} {}", c.name, c.unit, c.description);
                    }
                }
            }
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let shown = e.carried().unwrap_or(&e);
            match log_format {
                // one JSON object a line, as every other log line
                LogFormat::Json => tracing::error!(exit_code = e.exit_code(), "{shown}"),
                LogFormat::Text => eprintln!("error: {shown}"),
            }
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

fn sample(
    enterprises: u64,
    years: &str,
    format: SampleFormatArg,
    provinces: usize,
    seed: u64,
    factors: &std::path::Path,
    out: &std::path::Path,
) -> carbonstat::Result<()> {
    use carbonstat::sample::{SampleFormat, SampleSpec, write_sample};
    let bad = || carbonstat::Error::Config {
        file: PathBuf::from("--years"),
        message: format!("'{years}' is not a year range such as 2020-2025"),
    };
    let (a, b) = years.split_once('-').ok_or_else(bad)?;
    let (a, b): (i32, i32) = (
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    );
    if a > b {
        return Err(bad());
    }
    let spec = SampleSpec {
        enterprises,
        years: a..=b,
        format: match format {
            SampleFormatArg::Csv => SampleFormat::Csv,
            SampleFormatArg::Parquet => SampleFormat::Parquet,
        },
        seed,
        provinces,
    };
    let factors = std::path::absolute(factors).unwrap_or_else(|_| factors.to_path_buf());
    // the written pipeline.yaml names it: a run on it would fail there
    if !factors.join("factor-set.yaml").is_file() {
        return Err(carbonstat::Error::Usage(format!(
            "--factors {}: no factor set there (a directory with a factor-set.yaml; a relative path is taken \
             from the current directory): give the factor set the sample's pipeline.yaml is to name, e.g. \
             --factors <carbonstat checkout>/factors/cn-2026-12",
            factors.display()
        )));
    }
    let started = std::time::Instant::now();
    let r = write_sample(out, &spec, &factors)?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "wrote {} enterprise records ({} regions) to {} in {secs:.2} s: {:.2} M rows/s",
        r.energy_rows,
        r.regions,
        out.display(),
        r.energy_rows as f64 / secs / 1e6
    );
    Ok(())
}

/// Rows/s of the two ways to read the energy input (see `Command::BenchScan`).
fn bench_scan(config: &std::path::Path) -> carbonstat::Result<()> {
    use carbonstat::datafusion::arrow::array::AsArray;
    use carbonstat::datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};
    use carbonstat::datafusion::prelude::{CsvReadOptions, SessionContext};
    use carbonstat::input::{ENERGY, Format, fetch_inputs, list_inputs, register_raw};
    let cfg = carbonstat::config::LoadedConfig::load(config)?;
    let cols: Vec<&str> = ENERGY.columns().collect();
    let counts = cols
        .iter()
        .map(|c| format!("count(\"{c}\")"))
        .collect::<Vec<_>>()
        .join(", ");
    // rows, seconds of `SELECT count(*), count(<every column>)` over `table`
    let counts = counts.as_str();
    let scan = |ctx: SessionContext, table: &'static str| async move {
        let t = std::time::Instant::now();
        let b = ctx
            .sql(&format!("SELECT count(*), {counts} FROM {table}"))
            .await?
            .collect()
            .await?;
        let rows = b[0].column(0).as_primitive::<Int64Type>().value(0);
        Ok::<_, carbonstat::Error>((rows, t.elapsed().as_secs_f64()))
    };
    let rt = runtime(None)?;
    rt.block_on(async {
        let listed = list_inputs(&cfg).await?;
        let work = carbonstat::pipeline::work_dir(&cfg)?;
        let energy: Vec<_> = listed
            .into_iter()
            .filter(|i| i.spec.name == "energy")
            .collect();
        let inputs = fetch_inputs(&energy, work.path()).await?;
        // 1. carbonstat's reader (file and line per row, encoding, header mapping)
        let ctx = carbonstat::engine::new_session(&cfg)?;
        register_raw(&ctx, &inputs)?;
        let (rows, s) = scan(ctx, "raw_energy").await?;
        println!(
            "carbonstat reader: {rows} rows in {s:.2} s = {:.2} M rows/s",
            rows as f64 / s / 1e6
        );
        // 2. DataFusion's CSV reader, explicit all-text schema
        if inputs[0].files.iter().all(|f| f.format == Format::Csv) {
            let files: Vec<String> = inputs[0]
                .files
                .iter()
                .map(|f| f.local.display().to_string())
                .collect();
            let schema = Schema::new(
                cols.iter()
                    .map(|c| Field::new(*c, DataType::Utf8, true))
                    .collect::<Vec<_>>(),
            );
            let ctx = carbonstat::engine::new_session(&cfg)?;
            let t = std::time::Instant::now();
            let df = ctx
                .read_csv(
                    files,
                    CsvReadOptions::new().schema(&schema).has_header(true),
                )
                .await?;
            ctx.register_table("csv", df.into_view())?;
            // the time includes planning the CSV scan
            let (rows, _) = scan(ctx, "csv").await?;
            let s = t.elapsed().as_secs_f64();
            println!(
                "DataFusion CSV reader: {rows} rows in {s:.2} s = {:.2} M rows/s",
                rows as f64 / s / 1e6
            );
        }
        Ok::<_, carbonstat::Error>(())
    })
}

/// `carbonstat scheduler`: serves until the process is stopped.
#[cfg(feature = "distributed")]
fn cluster_scheduler(bind: &str) -> carbonstat::Result<()> {
    runtime(None)?.block_on(carbonstat::engine::cluster::run_scheduler(bind))
}

/// `carbonstat executor`: serves until the process or the scheduler stops it.
#[cfg(feature = "distributed")]
fn cluster_executor(
    scheduler: &str,
    bind: &str,
    work_dir: &std::path::Path,
    vcores: Option<usize>,
) -> carbonstat::Result<()> {
    runtime(None)?.block_on(carbonstat::engine::cluster::run_executor(
        scheduler, bind, work_dir, vcores,
    ))
}

#[cfg(not(feature = "distributed"))]
const NO_CLUSTER: &str = "this carbonstat was built without cluster support: build it with `cargo build --release --features distributed` (docs/distributed.md)";

#[cfg(not(feature = "distributed"))]
fn cluster_scheduler(_bind: &str) -> carbonstat::Result<()> {
    Err(carbonstat::Error::Usage(NO_CLUSTER.into()))
}

#[cfg(not(feature = "distributed"))]
fn cluster_executor(
    _scheduler: &str,
    _bind: &str,
    _work_dir: &std::path::Path,
    _vcores: Option<usize>,
) -> carbonstat::Result<()> {
    Err(carbonstat::Error::Usage(NO_CLUSTER.into()))
}

/// The async runtime a command runs in (`threads` worker threads, default: one per core).
pub fn runtime(threads: Option<usize>) -> carbonstat::Result<tokio::runtime::Runtime> {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = threads {
        b.worker_threads(n);
    }
    // Planning and (de)serializing the deeper plans of the later SQL steps
    // recurses far: the 2 MiB default overflows in a cluster's scheduler.
    b.thread_stack_size(16 << 20)
        .enable_all()
        .build()
        .map_err(|e| carbonstat::Error::io("starting the async runtime", e))
}
