//! `carbonstat run`: the nightly job. Thin: the work is in the library and the
//! SQL steps; this prints what a person at a terminal wants to see.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use carbonstat::config::LoadedConfig;
use carbonstat::pipeline::{RunOptions, RunOutcome, RunReport, SummaryRow};
use indicatif::{ProgressBar, ProgressStyle};

pub struct Args<'a> {
    pub config: &'a Path,
    pub print_summary: bool,
    pub force: bool,
    /// Show a spinner with the current stage (only ever on a terminal).
    pub progress: bool,
}

pub fn run(args: Args) -> carbonstat::Result<()> {
    let cfg = LoadedConfig::load(args.config)?;
    let started = std::time::Instant::now();
    let result = run_loaded(&cfg, &args);
    if let Some(path) = cfg.metrics_textfile() {
        // a monitoring file that cannot be written must not change the run's outcome
        if let Err(e) = crate::metrics::write_textfile(&path, &result, started.elapsed()) {
            tracing::warn!(file = %path.display(), "metrics textfile not written: {e}");
        }
    }
    if let Some(gateway) = &cfg.config.metrics.pushgateway {
        let job = cfg.config.metrics.job.as_deref().unwrap_or("carbonstat");
        if let Err(e) = crate::metrics::push(gateway, job, &result, started.elapsed()) {
            tracing::warn!("metrics not pushed to the Pushgateway: {e}");
        }
    }
    result.map(|_| ())
}

/// The run, returning the manifest it published or found up to date.
fn run_loaded(
    cfg: &LoadedConfig,
    args: &Args,
) -> carbonstat::Result<carbonstat::publish::Manifest> {
    let runtime = crate::runtime(cfg.config.engine.threads)?;
    // In cron or with JSON logs there is no terminal to draw on: no spinner.
    let spinner = (args.progress && std::io::stderr().is_terminal()).then(|| {
        let pb = ProgressBar::new_spinner();
        pb.set_style(
            ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        pb.enable_steady_tick(Duration::from_millis(120));
        pb
    });
    let opts = RunOptions {
        force: args.force,
        on_stage: spinner.clone().map(|pb| {
            Arc::new(move |stage: &str| pb.set_message(stage.to_string()))
                as carbonstat::pipeline::StageHook
        }),
        keep_records: false,
    };
    let outcome = runtime.block_on(carbonstat::pipeline::run(cfg, &opts));
    if let Some(pb) = spinner {
        pb.finish_and_clear();
    }
    match outcome? {
        RunOutcome::Published(report) => {
            if args.print_summary {
                print!("{}", format_report(&report));
            }
            Ok(report.manifest)
        }
        RunOutcome::UpToDate { manifest, output } => {
            println!(
                "up to date: {output} already holds run {} with the same inputs, factor set, config and program (fingerprint {}); --force recomputes",
                manifest.run_id,
                &manifest.fingerprint[..16]
            );
            Ok(*manifest)
        }
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or("".into(), |x| format!("{:+.2}%", x * 100.0))
}

fn num(v: Option<f64>, decimals: usize) -> String {
    v.map_or("".into(), |x| format!("{x:.decimals$}"))
}

fn warning(level: Option<i32>) -> &'static str {
    match level {
        Some(1) => "1 red",
        Some(2) => "2 yellow",
        Some(3) => "3 green",
        _ => "",
    }
}

/// The terminal summary: inputs, rejects, then one line per region and year.
pub fn format_report(report: &RunReport) -> String {
    let m = &report.manifest;
    let mut s = String::new();
    s.push_str(&format!(
        "carbonstat {} — run {} — factor set {} ({})\n\n",
        m.program.version,
        m.run_id,
        m.factor_set.id,
        &m.factor_set.sha256[..12]
    ));
    s.push_str("inputs            files      read  accepted  rejected\n");
    for t in &m.input_totals {
        s.push_str(&format!(
            "  {:<15} {:>5} {:>9} {:>9} {:>9}\n",
            t.input, t.files, t.rows_read, t.rows_accepted, t.rows_rejected
        ));
    }
    if !report.rejects_by_rule.is_empty() {
        s.push_str("rejects by rule (details: reports/rejects/)\n");
        for (input, rule, n) in &report.rejects_by_rule {
            s.push_str(&format!("  {input:<15} {rule:<22} {n:>6}\n"));
        }
    }
    s.push('\n');
    s.push_str(&summary_table(&report.summary));
    s.push_str(&format!(
        "\nEI = energy intensity (tce per 10^4 yuan at {} prices, basis: {}), CI = CO2 intensity (t per 10^4 yuan);\n\
         yoy = change against the previous year, base = against {}; warning levels: 1 red, 2 yellow, 3 green\n\
         (in a plan's target year: 3 the plan's reduction met, 2 missed, 1 the intensity rose);\n\
         net CO2 = CO2 + process CO2 − sinks; peak = the year of the highest CO2 so far (✓: the three years after it all below it).\n",
        m.config.effective["base_year"],
        m.config.effective["energy_intensity_basis"].as_str().unwrap_or(""),
        m.config.effective["base_year"],
    ));
    if !report.plausibility.is_empty() {
        s.push_str(&format!("\nto look at ({}):\n", report.plausibility.len()));
        for note in report.plausibility.iter().take(10) {
            s.push_str(&format!("  {note}\n"));
        }
        if report.plausibility.len() > 10 {
            s.push_str(&format!(
                "  … and {} more (the log has every one)\n",
                report.plausibility.len() - 10
            ));
        }
    }
    if !report.groups.is_empty() {
        s.push_str(&groups_table(&report.groups));
    }
    s.push_str(&format!(
        "Published {} files ({} rows) and manifest.json to {}\n",
        m.outputs.len(),
        m.outputs.iter().map(|o| o.rows).sum::<u64>(),
        report.output
    ));
    s
}

/// Every group in its latest year; a zero-carbon park with its checks.
fn groups_table(rows: &[carbonstat::pipeline::GroupSummaryRow]) -> String {
    let share = |v: Option<f64>| v.map_or(String::new(), |v| format!("{:.1}%", v * 100.0));
    let mut s = format!(
        "\ngroups (latest year; details: reports/group_indicators/)\n{:<12} {:<16} {:<16} {:>4} {:>9} {:>12} {:>9} {:>16} {:>18} {:>7}\n",
        "group",
        "name",
        "kind",
        "year",
        "members",
        "tce equiv.",
        "tCO2/tce",
        "limit",
        "clean share (min)",
        "green"
    );
    for r in rows {
        let name: String = r.group_name.chars().take(7).collect();
        let check = |c: &str| {
            if c.is_empty() {
                String::new()
            } else {
                format!(" {c}")
            }
        };
        s.push_str(&format!(
            "{:<12} {:<w$} {:<16} {:>4} {:>9} {:>12.0} {:>9} {:>16} {:>18} {:>7}\n",
            r.group_id,
            name,
            r.kind,
            r.year,
            format!("{}/{}", r.members_reporting, r.members),
            r.energy_tce_equivalent,
            r.co2_per_tce.map_or(String::new(), |v| format!("{v:.3}")),
            r.co2_per_tce_limit.map_or(String::new(), |v| format!(
                "≤ {v}{}",
                check(&r.co2_per_tce_check)
            )),
            match r.clean_energy_share_min {
                Some(m) => format!(
                    "{} (≥ {}){}",
                    share(r.clean_energy_share),
                    share(Some(m)),
                    check(&r.clean_energy_share_check)
                ),
                None => share(r.clean_energy_share),
            },
            share(r.green_power_share),
            // CJK characters are two columns wide on a terminal
            w = 16 - name.chars().filter(|c| !c.is_ascii()).count(),
        ));
    }
    s.push_str(
        "members = reporting/in force; tce equiv. = the members' energy at equivalent value (当量值), the base of tCO2/tce;\n\
         the regions' energy tce above is at equal value (等价值), with the coal of exported power taken out: compare a\n\
         group with its region's energy_tce_equivalent (region_indicators), not with that column.\n\
         tCO2/tce = energy CO2 per tce at equivalent value, certified green power at zero (发改环资〔2025〕910号).\n",
    );
    s
}

fn summary_table(rows: &[SummaryRow]) -> String {
    let mut s = format!(
        "{:<10} {:<14} {:>4} {:>12} {:>12} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9} {:>12} {:>8}\n",
        "region",
        "name",
        "year",
        "energy tce",
        "CO2 t",
        "EI",
        "EI yoy",
        "EI base",
        "CI",
        "CI yoy",
        "CI base",
        "warn EI",
        "warn CI",
        "net CO2 t",
        "peak"
    );
    for r in rows {
        let name: String = r.region_name.chars().take(7).collect();
        s.push_str(&format!(
            "{:<10} {:<w$} {:>4} {:>12.0} {:>12.0} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9} {:>12.0} {:>8}\n",
            r.region_code,
            name,
            r.year,
            r.energy_tce,
            r.co2_t,
            num(r.energy_intensity, 4),
            pct(r.energy_intensity_change_yoy),
            pct(r.energy_intensity_change_base),
            num(r.co2_intensity, 4),
            pct(r.co2_intensity_change_yoy),
            pct(r.co2_intensity_change_base),
            warning(r.energy_warning),
            warning(r.co2_warning),
            r.co2_net_t,
            match r.co2_peak_year {
                Some(y) if r.peaked => format!("{y} ✓"),
                Some(y) => y.to_string(),
                None => String::new(),
            },
            // CJK characters are two columns wide on a terminal
            w = 14 - name.chars().filter(|c| !c.is_ascii()).count(),
        ));
    }
    s
}
