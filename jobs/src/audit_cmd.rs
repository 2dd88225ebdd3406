//! `carbonstat verify` and `carbonstat explain`: for auditors.

use std::path::{Path, PathBuf};

use carbonstat::audit::{
    Explanation, Published, PublishedTables, Subject, config_from_manifest, explain,
    explain_published, explain_subject, explain_subject_published, open_published, published_value,
    published_value_in, publishes_explain_datasets, verify,
};
use carbonstat::config::LoadedConfig;
use carbonstat::pipeline::{RunOptions, compute, load_all, load_factors, work_dir};
use carbonstat::store::Storage;

use crate::OutputFormat;

pub fn verify_cmd(
    manifest: &str,
    base: Option<&Path>,
    format: OutputFormat,
    storage: &Storage,
) -> carbonstat::Result<()> {
    let rt = crate::runtime(None)?;
    let report = rt.block_on(async {
        let p = open_published(manifest, storage).await?;
        verify(&p, base).await
    })?;
    match format {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report)
                .map_err(|e| carbonstat::Error::Internal(e.to_string()))?
        ),
        OutputFormat::Text => {
            for f in &report.findings {
                println!(
                    "{}: {f}",
                    if report.failed() {
                        "DIFFERS"
                    } else {
                        "warning"
                    }
                );
            }
        }
    }
    if report.failed() {
        let n = report
            .findings
            .iter()
            .filter(|f| !matches!(f, carbonstat::audit::Finding::ProgramDiffers { .. }))
            .count();
        return Err(carbonstat::Error::NotVerified(format!(
            "not verified: {n} difference(s) between {} (run {}) and its inputs, factor set and re-computation",
            report.manifest, report.run_id
        )));
    }
    if format == OutputFormat::Text {
        println!(
            "verified: {} files, {} rows identical (run {}, {})",
            report.files, report.rows, report.run_id, report.manifest
        );
    }
    Ok(())
}

pub struct ExplainArgs {
    pub manifest: Option<String>,
    pub config: Option<PathBuf>,
    pub base: Option<PathBuf>,
    pub subject: ExplainSubject,
    pub year: i32,
    pub indicator: String,
    /// Compute the run again even when it published what explain reads.
    pub recompute: bool,
    pub format: OutputFormat,
    pub storage: Storage,
}

/// What `explain` is asked about.
pub enum ExplainSubject {
    Region(String),
    Enterprise(String),
    Group(String),
}

impl ExplainSubject {
    fn subject(&self) -> Option<Subject> {
        match self {
            ExplainSubject::Region(_) => None,
            ExplainSubject::Enterprise(_) => Some(Subject::Enterprise),
            ExplainSubject::Group(_) => Some(Subject::Group),
        }
    }
}

pub fn explain_cmd(a: ExplainArgs) -> carbonstat::Result<()> {
    match a.subject.subject() {
        None => {
            carbonstat::audit::indicator_column(&a.indicator)?;
        }
        Some(s) => {
            carbonstat::audit::subject_column(s, &a.indicator)?;
        }
    }
    let rt = crate::runtime(None)?;
    let e = rt.block_on(async {
        let (cfg, published): (LoadedConfig, Option<Published>) = match (&a.manifest, &a.config) {
            (Some(m), _) => {
                let p = open_published(m, &a.storage).await?;
                (
                    config_from_manifest(&p.manifest, a.base.as_deref())?,
                    Some(p),
                )
            }
            (None, Some(c)) => (LoadedConfig::load(c)?, None),
            (None, None) => {
                return Err(carbonstat::Error::Config {
                    file: PathBuf::from("(command line)"),
                    message:
                        "give --manifest <url> of a published run, or --config <pipeline.yaml>"
                            .into(),
                });
            }
        };
        let work = work_dir(&cfg)?;
        // a published run: read from what it published
        if let Some(p) = &published {
            if !a.recompute && publishes_explain_datasets(p) {
                let factors = load_factors(&cfg, work.path()).await?;
                return match &a.subject {
                    ExplainSubject::Region(region) => {
                        let tables =
                            PublishedTables::for_region_year(p, &cfg, factors, region, a.year).await?;
                        let published_v = published_value(p, region, a.year, &a.indicator).await?;
                        explain_published(&tables, region, a.year, &a.indicator, published_v).await
                    }
                    ExplainSubject::Enterprise(id) | ExplainSubject::Group(id) => {
                        let subject = match &a.subject {
                            ExplainSubject::Group(_) => Subject::Group,
                            _ => Subject::Enterprise,
                        };
                        let tables = PublishedTables::for_subject_year(
                            p, &cfg, factors, subject, id, a.year,
                        )
                        .await?;
                        let published_v = published_value_in(
                            p,
                            subject.dataset().name,
                            subject.key_column(),
                            id,
                            a.year,
                            &a.indicator,
                        )
                        .await?;
                        explain_subject_published(
                            &tables,
                            subject,
                            id,
                            a.year,
                            &a.indicator,
                            published_v,
                        )
                        .await
                    }
                };
            }
            if !a.recompute {
                tracing::warn!(
                    "{} was published without the datasets explain reads (a carbonstat before 55_explain.sql): computing the run again",
                    p.manifest_url
                );
            }
        }
        let (factors, inputs) = load_all(&cfg, work.path()).await?;
        let opts = RunOptions {
            keep_records: true,
            ..RunOptions::default()
        };
        let computed = compute(&cfg, factors, inputs, &opts).await?;
        let (subject, id) = match &a.subject {
            ExplainSubject::Region(region) => {
                let published_v = match &published {
                    Some(p) => published_value(p, region, a.year, &a.indicator).await?,
                    None => None,
                };
                return explain(&computed, region, a.year, &a.indicator, published_v).await;
            }
            ExplainSubject::Enterprise(e) => (Subject::Enterprise, e.as_str()),
            ExplainSubject::Group(g) => (Subject::Group, g.as_str()),
        };
        let published_v = match &published {
            Some(p) => {
                published_value_in(
                    p,
                    subject.dataset().name,
                    subject.key_column(),
                    id,
                    a.year,
                    &a.indicator,
                )
                .await?
            }
            None => None,
        };
        explain_subject(&computed, subject, id, a.year, &a.indicator, published_v).await
    })?;
    match a.format {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&e)
                .map_err(|e| carbonstat::Error::Internal(e.to_string()))?
        ),
        OutputFormat::Text => print!("{}", text(&e)),
    }
    Ok(())
}

fn v(x: Option<f64>) -> String {
    x.map_or("NULL".into(), |x| format!("{x}"))
}

fn text(e: &Explanation) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "{} of {} {} in {}: {} {}\n",
        e.indicator,
        e.region_code,
        e.region_name,
        e.year,
        v(e.value),
        e.unit
    ));
    if let Some(p) = e.published_value {
        s.push_str(&format!(
            "  published value: {p} ({})\n",
            if Some(p) == e.value {
                "reproduced exactly"
            } else {
                "DIFFERS from the re-computation"
            }
        ));
    }
    s.push_str(&format!(
        "\nformula: {}\n       = {}\n       = {}\n",
        e.formula,
        e.formula_with_values,
        v(e.formula_result)
    ));
    if let Some(r) = &e.rounding {
        s.push_str(&format!("rounding: {r}\n"));
    }
    s.push_str("\nterms:\n");
    for t in &e.terms {
        s.push_str(&format!("  {:<40} {:>22} {}\n", t.name, v(t.value), t.unit));
    }
    if !e.gdp_chain.is_empty() {
        s.push_str("\nGDP chain (10^8 yuan; gdp_const = previous year's x gdp_index / 100):\n  year          gdp   gdp_index      gdp_const\n");
        for g in &e.gdp_chain {
            s.push_str(&format!(
                "  {} {:>12} {:>11} {:>14}\n",
                g.year,
                g.gdp,
                g.gdp_index.map_or("".into(), |x| format!("{x}")),
                v(g.gdp_const)
            ));
        }
    }
    // a table with no rows is left out (an enterprise's or a group's
    // explanation has no sector breakdown: its sector is its own)
    let table = |s: &mut String, title: &str, rows: &[carbonstat::audit::Contribution]| {
        if rows.is_empty() {
            return;
        }
        s.push_str(&format!(
            "\n{title}:\n  {:<24} {:<18} {:>16} {:>16} {:>8}\n",
            "key", "", "tce", "t CO2", "records"
        ));
        for r in rows {
            let name: String = r.name.chars().take(16).collect();
            s.push_str(&format!(
                "  {:<24} {:<18} {:>16.6} {:>16.6} {:>8}\n",
                r.key, name, r.tce, r.co2_t, r.records
            ));
        }
    };
    table(&mut s, "by energy", &e.by_energy);
    table(&mut s, "by sector (GB/T 4754 division)", &e.by_sector);
    table(&mut s, "largest contributors (by CO2)", &e.top_enterprises);
    if !e.budget_rows.is_empty() {
        s.push_str("\nproduction and sinks rows (t CO2 = quantity in t or m3 x factor):\n");
        for b in &e.budget_rows {
            s.push_str(&format!(
                "  {:<14} {:<16} {:<34} {}:{:<5} {:>14} {:<6} x {:>10} {:<16} = {:>16.6}  source {} ({})\n",
                b.kind,
                b.key,
                b.name,
                b.source_file,
                b.source_line,
                b.quantity,
                b.unit,
                b.factor,
                b.factor_unit,
                b.amount_t,
                b.source_id.clone().unwrap_or_default(),
                b.quality.clone().unwrap_or_default()
            ));
        }
    }
    s.push_str("\nfactor rows used:\n");
    for f in &e.factors_used {
        s.push_str(&format!(
            "  {:<18} {:<34} {:>12} {:<16} year {:<6} {:<22} source {} ({})\n",
            f.energy_code,
            f.kind,
            f.value,
            f.unit,
            f.factor_year.map_or("-".into(), |y| y.to_string()),
            f.scope.clone().unwrap_or_default(),
            f.source_id.clone().unwrap_or_default(),
            f.quality.clone().unwrap_or_default()
        ));
    }
    s.push_str("\nmade by:\n");
    for st in &e.sql_steps {
        s.push_str(&format!("  {} (sha256 {})\n", st.name, &st.sha256[..16]));
    }
    s
}

/// `carbonstat report`: the bulletin of a published run, rendered into `out`.
pub fn report_cmd(
    manifest: &str,
    out: &Path,
    language: Option<&str>,
    template_dir: Option<PathBuf>,
    base: Option<&Path>,
    storage: &Storage,
) -> carbonstat::Result<()> {
    let rt = crate::runtime(None)?;
    let files = rt.block_on(async {
        let p = open_published(manifest, storage).await?;
        let cfg = config_from_manifest(&p.manifest, base)?;
        let mut opts = cfg.report_options();
        if let Some(l) = language {
            opts.language = match l {
                "zh" => carbonstat::config::Language::Zh,
                "en" => carbonstat::config::Language::En,
                other => {
                    return Err(carbonstat::Error::Config {
                        file: PathBuf::from("--language"),
                        message: format!("'{other}' is not zh or en"),
                    });
                }
            };
        }
        if let Some(d) = template_dir {
            opts.template_dir = Some(d);
        }
        let ctx = carbonstat::datafusion::prelude::SessionContext::new();
        carbonstat::report::register_published(&ctx, &p).await?;
        let fp = &p.manifest.fingerprint;
        carbonstat::report::render(&ctx, &fp[..16.min(fp.len())], &opts).await
    })?;
    carbonstat::report::write_dir(out, &files)?;
    println!(
        "wrote {} files of the bulletin to {} (open {}/index.html)",
        files.len(),
        out.display(),
        out.display()
    );
    Ok(())
}
