//! For auditors: re-run a published run from its manifest and compare every
//! byte (`verify`), and show how one published number was made (`explain`).
//!
//! Both rebuild the run's config from the manifest (`config.effective`, with
//! relative paths resolved against `config.base`, or a directory the auditor
//! names), fetch the inputs and the factor set again, and compute in a scratch
//! location: the published output is only read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::arrow::util::display::ArrayFormatter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Serialize;

use crate::config::{Config, LoadedConfig};
use crate::error::{Error, Result};
use crate::factors::sha256_hex;
use crate::manifest::{MANIFEST_FILE, Manifest, OutputFile, Program};
use crate::pipeline::{Computed, RunOptions, collect, compute, input_keys, load_factors, work_dir};
use crate::publish::{OutputStore, write_all};
use crate::storage::{Location, Storage};

/// A published run: where it is and its manifest.
pub struct Published {
    pub out: OutputStore,
    pub manifest: Manifest,
    pub manifest_url: String,
}

/// Open a manifest by URL or path (`…/manifest.json`, or the output location itself).
pub async fn open_published(url: &str, storage: &Storage) -> Result<Published> {
    let root = url
        .trim_end_matches('/')
        .strip_suffix(MANIFEST_FILE)
        .map(|r| r.trim_end_matches('/'))
        .unwrap_or(url.trim_end_matches('/'));
    let root = if root.is_empty() { "." } else { root };
    let cwd = std::env::current_dir().map_err(|e| Error::io("current directory", e))?;
    let loc = Location::parse(&cwd, root, storage).map_err(|m| Error::Output {
        url: url.to_string(),
        message: m,
    })?;
    let out = OutputStore { loc };
    let manifest = out.read_manifest().await?.ok_or_else(|| Error::Output {
        url: url.to_string(),
        message: format!("no {MANIFEST_FILE} here: give the manifest of a published run"),
    })?;
    Ok(Published {
        manifest_url: format!("{}/{MANIFEST_FILE}", out.loc.display),
        out,
        manifest,
    })
}

/// The run's config, rebuilt from its manifest. Relative paths resolve against
/// `base` (default: the directory recorded in the manifest). Storage options
/// whose values were redacted are dropped: the environment provides them.
pub fn config_from_manifest(m: &Manifest, base: Option<&Path>) -> Result<LoadedConfig> {
    let mut config: Config =
        serde_json::from_value(m.config.effective.clone()).map_err(|e| Error::Output {
            url: MANIFEST_FILE.into(),
            message: format!("config.effective is not a carbonstat config: {e}"),
        })?;
    config.storage.options.retain(|_, v| v != "***");
    let base_dir = base
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(&m.config.base));
    Ok(LoadedConfig {
        raw: serde_json::to_string(&config).unwrap_or_default(),
        path: PathBuf::from(&m.config.path),
        base_dir,
        config,
    })
}

/// One thing verification found wrong.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Finding {
    ProgramDiffers {
        published: Program,
        verifier: Program,
    },
    FactorFileChanged {
        name: String,
        published: Option<String>,
        now: Option<String>,
    },
    InputChanged {
        input: String,
        path: String,
        published: String,
        now: String,
    },
    InputMissing {
        input: String,
        path: String,
    },
    InputAdded {
        input: String,
        path: String,
    },
    InputsUnreadable {
        message: String,
    },
    PublishedFileChanged {
        path: String,
        manifest: String,
        now: String,
    },
    PublishedFileMissing {
        path: String,
    },
    RerunFailed {
        message: String,
    },
    OutputDiffers {
        dataset: String,
        partition: String,
        published_rows: u64,
        rerun_rows: u64,
        rows: Vec<RowDiff>,
    },
    OutputMissing {
        dataset: String,
        partition: String,
    },
    OutputExtra {
        dataset: String,
        partition: String,
    },
}

/// A published row and the re-run's row at the same position, only the columns
/// that differ (plus the partition-local key).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RowDiff {
    pub row: usize,
    pub published: BTreeMap<String, String>,
    pub rerun: BTreeMap<String, String>,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::ProgramDiffers {
                published,
                verifier,
            } => write!(
                f,
                "program: published by carbonstat {} ({}), verified with {} ({}); bytes can differ between versions",
                published.version, published.git_commit, verifier.version, verifier.git_commit
            ),
            Finding::FactorFileChanged {
                name,
                published,
                now,
            } => write!(
                f,
                "factor set file {name}: {} in the manifest, {} now",
                published.as_deref().unwrap_or("absent"),
                now.as_deref().unwrap_or("absent")
            ),
            Finding::InputChanged {
                input,
                path,
                published,
                now,
            } => write!(
                f,
                "input {input} {path} changed: sha256 {published} in the manifest, {now} now"
            ),
            Finding::InputMissing { input, path } => {
                write!(
                    f,
                    "input {input} {path} is in the manifest but not found now"
                )
            }
            Finding::InputAdded { input, path } => {
                write!(
                    f,
                    "input {input} {path} is found now but not in the manifest"
                )
            }
            Finding::InputsUnreadable { message } => write!(f, "inputs cannot be read: {message}"),
            Finding::PublishedFileChanged {
                path,
                manifest,
                now,
            } => write!(
                f,
                "published file {path} changed since the run: sha256 {manifest} in the manifest, {now} now"
            ),
            Finding::PublishedFileMissing { path } => {
                write!(f, "published file {path} named by the manifest is missing")
            }
            Finding::RerunFailed { message } => write!(f, "the re-run failed: {message}"),
            Finding::OutputDiffers {
                dataset,
                partition,
                published_rows,
                rerun_rows,
                rows,
            } => {
                write!(
                    f,
                    "{dataset} {partition} differs: {published_rows} rows published, {rerun_rows} re-computed"
                )?;
                for d in rows {
                    write!(f, "\n    row {}:", d.row + 1)?;
                    for (k, v) in &d.published {
                        let r = d.rerun.get(k).map(String::as_str).unwrap_or("(none)");
                        if v == r {
                            write!(f, " {k}={v}")?;
                        } else {
                            write!(f, " {k}: published {v} | re-run {r};")?;
                        }
                    }
                }
                Ok(())
            }
            Finding::OutputMissing { dataset, partition } => {
                write!(
                    f,
                    "{dataset} {partition} is published but the re-run does not produce it"
                )
            }
            Finding::OutputExtra { dataset, partition } => {
                write!(
                    f,
                    "{dataset} {partition} is produced by the re-run but not published"
                )
            }
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub manifest: String,
    pub run_id: String,
    pub files: usize,
    pub rows: u64,
    pub findings: Vec<Finding>,
}

impl VerifyReport {
    /// Findings that make the verification fail (a different program version
    /// alone is a warning).
    pub fn failed(&self) -> bool {
        self.findings
            .iter()
            .any(|f| !matches!(f, Finding::ProgramDiffers { .. }))
    }
}

fn batches_of(bytes: &[u8]) -> Result<Vec<RecordBatch>> {
    let reader =
        ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::copy_from_slice(bytes))?.build()?;
    Ok(reader.collect::<std::result::Result<Vec<_>, _>>()?)
}

/// Every row as column → text.
fn rows_of(batches: &[RecordBatch]) -> Result<Vec<BTreeMap<String, String>>> {
    let mut out = Vec::new();
    for b in batches {
        let fmts: Vec<_> = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &Default::default()))
            .collect::<std::result::Result<_, _>>()?;
        for r in 0..b.num_rows() {
            let mut row = BTreeMap::new();
            for (i, f) in b.schema().fields().iter().enumerate() {
                let v = if b.column(i).is_null(r) {
                    "NULL".to_string()
                } else {
                    fmts[i].value(r).to_string()
                };
                row.insert(f.name().clone(), v);
            }
            out.push(row);
        }
    }
    Ok(out)
}

fn diff_rows(
    published: &[BTreeMap<String, String>],
    rerun: &[BTreeMap<String, String>],
    key: &[&str],
    limit: usize,
) -> Vec<RowDiff> {
    let mut out = Vec::new();
    let empty = BTreeMap::new();
    for i in 0..published.len().max(rerun.len()) {
        let p = published.get(i).unwrap_or(&empty);
        let r = rerun.get(i).unwrap_or(&empty);
        if p == r {
            continue;
        }
        let cols: Vec<&String> = p
            .keys()
            .chain(r.keys())
            .filter(|k| key.contains(&k.as_str()) || p.get(*k) != r.get(*k))
            .collect();
        let pick = |m: &BTreeMap<String, String>| {
            cols.iter()
                .filter_map(|k| m.get(*k).map(|v| ((*k).clone(), v.clone())))
                .collect()
        };
        out.push(RowDiff {
            row: i,
            published: pick(p),
            rerun: pick(r),
        });
        if out.len() >= limit {
            break;
        }
    }
    out
}

/// Re-check a published run: its factor set and inputs against their hashes,
/// its published files against the manifest, and a re-computation of every
/// file against the published bytes.
pub async fn verify(p: &Published, base: Option<&Path>) -> Result<VerifyReport> {
    let m = &p.manifest;
    let mut findings = Vec::new();
    let verifier = Program::this();
    if verifier != m.program {
        findings.push(Finding::ProgramDiffers {
            published: m.program.clone(),
            verifier,
        });
    }
    let cfg = config_from_manifest(m, base)?;
    let work = work_dir(&cfg)?;

    // the published files, as the manifest names them
    let mut published_bytes = BTreeMap::new();
    for f in &m.outputs {
        match p.out.get(&f.path).await? {
            None => findings.push(Finding::PublishedFileMissing {
                path: f.path.clone(),
            }),
            Some(bytes) => {
                let now = sha256_hex(&bytes);
                if now != f.sha256 {
                    findings.push(Finding::PublishedFileChanged {
                        path: f.path.clone(),
                        manifest: f.sha256.clone(),
                        now,
                    });
                }
                published_bytes.insert((f.dataset.clone(), f.partition.clone()), bytes);
            }
        }
    }

    // the factor set
    let factors = load_factors(&cfg, work.path()).await?;
    if factors.hash != m.factor_set.sha256 {
        let now: BTreeMap<&str, &str> = factors
            .files
            .iter()
            .map(|f| (f.name.as_str(), f.sha256.as_str()))
            .collect();
        let then: BTreeMap<&str, &str> = m
            .factor_set
            .files
            .iter()
            .map(|f| (f.name.as_str(), f.sha256.as_str()))
            .collect();
        for name in now
            .keys()
            .chain(then.keys())
            .collect::<std::collections::BTreeSet<_>>()
        {
            if now.get(name) != then.get(name) {
                findings.push(Finding::FactorFileChanged {
                    name: name.to_string(),
                    published: then.get(name).map(|s| s.to_string()),
                    now: now.get(name).map(|s| s.to_string()),
                });
            }
        }
    }

    // the inputs
    let inputs = match async {
        let listed = crate::ingest::list_inputs(&cfg).await?;
        crate::ingest::fetch_inputs(&listed, work.path()).await
    }
    .await
    {
        Ok(i) => Some(i),
        Err(e) => {
            findings.push(Finding::InputsUnreadable {
                message: e.to_string(),
            });
            None
        }
    };
    let Some(inputs) = inputs else {
        for r in &m.inputs {
            findings.push(Finding::InputMissing {
                input: r.input.clone(),
                path: r.file.path.clone(),
            });
        }
        return Ok(report(p, findings));
    };
    let now: BTreeMap<(String, String), String> = input_keys(&inputs)
        .into_iter()
        .map(|(i, path, sha)| ((i, path), sha))
        .collect();
    let then: BTreeMap<(String, String), String> = m
        .inputs
        .iter()
        .map(|r| {
            (
                (r.input.clone(), r.file.path.clone()),
                r.file.sha256.clone(),
            )
        })
        .collect();
    for (k, sha) in &then {
        match now.get(k) {
            None => findings.push(Finding::InputMissing {
                input: k.0.clone(),
                path: k.1.clone(),
            }),
            Some(s) if s != sha => findings.push(Finding::InputChanged {
                input: k.0.clone(),
                path: k.1.clone(),
                published: sha.clone(),
                now: s.clone(),
            }),
            _ => {}
        }
    }
    for k in now.keys().filter(|k| !then.contains_key(*k)) {
        findings.push(Finding::InputAdded {
            input: k.0.clone(),
            path: k.1.clone(),
        });
    }

    // the re-run, into a scratch directory
    let computed = match compute(&cfg, factors, inputs, &RunOptions::default()).await {
        Ok(c) => c,
        Err(e) => {
            findings.push(Finding::RerunFailed {
                message: e.to_string(),
            });
            return Ok(report(p, findings));
        }
    };
    let scratch = OutputStore::open(
        Location::parse(work.path(), "rerun", &Storage::default()).map_err(Error::Internal)?,
    )?;
    let rerun = write_all(&computed.ctx, &scratch, "verify", &m.fingerprint).await?;
    compare_outputs(m, &rerun, &published_bytes, &scratch, &mut findings).await?;
    Ok(report(p, findings))
}

fn report(p: &Published, findings: Vec<Finding>) -> VerifyReport {
    VerifyReport {
        manifest: p.manifest_url.clone(),
        run_id: p.manifest.run_id.clone(),
        files: p.manifest.outputs.len(),
        rows: p.manifest.outputs.iter().map(|o| o.rows).sum(),
        findings,
    }
}

async fn compare_outputs(
    m: &Manifest,
    rerun: &[OutputFile],
    published: &BTreeMap<(String, String), Vec<u8>>,
    scratch: &OutputStore,
    findings: &mut Vec<Finding>,
) -> Result<()> {
    let by_key = |files: &[OutputFile]| -> BTreeMap<(String, String), OutputFile> {
        files
            .iter()
            .map(|f| ((f.dataset.clone(), f.partition.clone()), f.clone()))
            .collect()
    };
    let then = by_key(&m.outputs);
    let now = by_key(rerun);
    for (k, f) in &then {
        let Some(r) = now.get(k) else {
            findings.push(Finding::OutputMissing {
                dataset: k.0.clone(),
                partition: k.1.clone(),
            });
            continue;
        };
        if r.sha256 == f.sha256 {
            continue;
        }
        let rerun_bytes = scratch
            .get(&format!(
                "{}/verify/{}",
                crate::publish::STAGING_PREFIX,
                r.path
            ))
            .await?
            .unwrap_or_default();
        let key = crate::schema::DATASETS
            .iter()
            .find(|d| d.name == f.dataset)
            .map(|d| d.sort_key.to_vec())
            .unwrap_or_default();
        let rows = match published.get(k) {
            Some(bytes) => diff_rows(
                &rows_of(&batches_of(bytes)?)?,
                &rows_of(&batches_of(&rerun_bytes)?)?,
                &key,
                5,
            ),
            None => vec![],
        };
        findings.push(Finding::OutputDiffers {
            dataset: k.0.clone(),
            partition: k.1.clone(),
            published_rows: f.rows,
            rerun_rows: r.rows,
            rows,
        });
    }
    for k in now.keys().filter(|k| !then.contains_key(*k)) {
        findings.push(Finding::OutputExtra {
            dataset: k.0.clone(),
            partition: k.1.clone(),
        });
    }
    Ok(())
}

// ---------------------------------------------------------------- explain --

/// How one published number was made.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub region_code: String,
    pub region_name: String,
    pub year: i32,
    pub indicator: String,
    pub unit: String,
    /// The value the re-computation gives (equal to the published one).
    pub value: Option<f64>,
    /// The value in the published file, when explaining a published run.
    pub published_value: Option<f64>,
    /// The formula in words, then with the numbers.
    pub formula: String,
    pub formula_with_values: String,
    /// The formula evaluated here from the terms below; equals `value` exactly.
    pub formula_result: Option<f64>,
    pub terms: Vec<Term>,
    pub rounding: Option<String>,
    pub gdp_chain: Vec<GdpYear>,
    pub by_energy: Vec<Contribution>,
    pub by_sector: Vec<Contribution>,
    pub top_enterprises: Vec<Contribution>,
    pub factors_used: Vec<FactorUsed>,
    pub sql_steps: Vec<crate::manifest::StepRecord>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Term {
    pub name: String,
    pub value: Option<f64>,
    pub unit: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct GdpYear {
    pub year: i32,
    pub gdp: f64,
    pub gdp_index: Option<f64>,
    pub gdp_const: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Contribution {
    pub key: String,
    pub name: String,
    pub tce: f64,
    pub co2_t: f64,
    pub records: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FactorUsed {
    pub energy_code: String,
    pub kind: String,
    pub value: f64,
    pub unit: String,
    pub factor_year: Option<i32>,
    pub scope: Option<String>,
    pub source_id: Option<String>,
    pub quality: Option<String>,
}

fn nbs_round(x: f64) -> f64 {
    // as DataFusion's round(x, 4)
    let f = 10f64.powi(4);
    (x * f).round() / f
}

fn f64s(b: &RecordBatch, i: usize) -> Result<Vec<Option<f64>>> {
    let a = datafusion::arrow::compute::cast(b.column(i), &DataType::Float64)?;
    let a = a.as_primitive::<Float64Type>();
    Ok((0..a.len())
        .map(|r| (!a.is_null(r)).then(|| a.value(r)))
        .collect())
}

fn strings(b: &RecordBatch, i: usize) -> Result<Vec<String>> {
    let a = datafusion::arrow::compute::cast(b.column(i), &DataType::Utf8)?;
    let a = a.as_string::<i32>();
    Ok((0..a.len())
        .map(|r| {
            if a.is_null(r) {
                String::new()
            } else {
                a.value(r).to_string()
            }
        })
        .collect())
}

async fn query(ctx: &datafusion::prelude::SessionContext, sql: String) -> Result<Vec<RecordBatch>> {
    collect(ctx, &sql).await
}

fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The region_indicators column an explanation is asked for.
pub fn indicator_column(indicator: &str) -> Result<&'static crate::schema::Column> {
    crate::schema::REGION_INDICATORS
        .columns
        .iter()
        .find(|col| col.name == indicator && col.ty == crate::schema::ColType::Float)
        .ok_or_else(|| Error::Config {
            file: PathBuf::from("--indicator"),
            message: format!(
                "'{indicator}' is not a numeric column of region_indicators; one of: {}",
                crate::schema::REGION_INDICATORS
                    .columns
                    .iter()
                    .filter(|c| c.ty == crate::schema::ColType::Float)
                    .map(|c| c.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
}

/// Explain `indicator` of `region` in `year` from a computed run.
pub async fn explain(
    c: &Computed,
    region: &str,
    year: i32,
    indicator: &str,
    published_value: Option<f64>,
) -> Result<Explanation> {
    let ctx = &c.ctx;
    let spec = indicator_column(indicator)?;
    let base_year: i32 = c_base_year(ctx).await?;
    let basis_year = if indicator.ends_with("_change_base") {
        base_year
    } else {
        year - 1
    };
    let rows = query(
        ctx,
        format!(
            "SELECT * FROM region_indicators WHERE region_code = {} AND year IN ({year}, {basis_year}) ORDER BY year DESC",
            lit(region)
        ),
    )
    .await?;
    let mut cur: Option<BTreeMap<String, Option<f64>>> = None;
    let mut prev: Option<BTreeMap<String, Option<f64>>> = None;
    let mut region_name = String::new();
    for b in &rows {
        let schema = b.schema();
        let years = f64s(b, schema.index_of("year")?)?;
        let names = strings(b, schema.index_of("region_name")?)?;
        for r in 0..b.num_rows() {
            let mut m = BTreeMap::new();
            for (i, f) in schema.fields().iter().enumerate() {
                if matches!(
                    f.data_type(),
                    DataType::Float64 | DataType::Int32 | DataType::Int64
                ) {
                    m.insert(f.name().clone(), f64s(b, i)?[r]);
                }
            }
            if years[r] == Some(year as f64) {
                region_name = names[r].clone();
                cur = Some(m);
            } else {
                prev = Some(m);
            }
        }
    }
    let cur = cur.ok_or_else(|| {
        Error::Internal(format!(
            "region {region} has no row for {year} in region_indicators"
        ))
    })?;
    let get = |m: &BTreeMap<String, Option<f64>>, k: &str| m.get(k).copied().flatten();
    let value = get(&cur, indicator);

    let t = |name: &str, v: Option<f64>, unit: &str| Term {
        name: name.into(),
        value: v,
        unit: unit.into(),
    };
    let fmt = |v: Option<f64>| v.map_or("NULL".to_string(), |x| format!("{x}"));
    let mut rounding = None;
    let (formula, with_values, result, terms) = if let Some(base) = indicator
        .strip_suffix("_change_yoy")
        .or(indicator.strip_suffix("_change_base"))
    {
        let (now, then) = (get(&cur, base), prev.as_ref().and_then(|p| get(p, base)));
        let nbs = c_nbs_rounding(ctx).await?;
        let (rn, rt) = if nbs {
            rounding = Some(
                "both intensities rounded to 4 decimals before dividing (NBS practice)".into(),
            );
            (now.map(nbs_round), then.map(nbs_round))
        } else {
            (now, then)
        };
        let res = match (rn, rt) {
            (Some(a), Some(b)) if b != 0.0 => Some(a / b - 1.0),
            _ => None,
        };
        (
            format!("{base}({year}) / {base}({basis_year}) - 1"),
            format!("{} / {} - 1", fmt(rn), fmt(rt)),
            res,
            vec![
                t(&format!("{base} {year}"), now, "per 10^4 yuan"),
                t(&format!("{base} {basis_year}"), then, "per 10^4 yuan"),
            ],
        )
    } else if let Some(numerator) = match indicator {
        "energy_intensity" => Some("energy_tce"),
        "energy_intensity_controlled" => Some("energy_tce_controlled"),
        "co2_intensity" => Some("co2_t"),
        _ => None,
    } {
        let (n, g) = (get(&cur, numerator), get(&cur, "gdp_const"));
        let res = match (n, g) {
            (Some(n), Some(g)) => Some(n / (g * 10000.0)),
            _ => None,
        };
        (
            format!("{numerator} / (gdp_const x 10^4)"),
            format!("{} / ({} x 10^4)", fmt(n), fmt(g)),
            res,
            vec![
                t(
                    numerator,
                    n,
                    if numerator == "co2_t" { "t CO2" } else { "tce" },
                ),
                t("gdp_const", g, "10^8 yuan at base-year prices"),
            ],
        )
    } else if let Some(part) = match indicator {
        "coal_share" => Some("coal_tce"),
        "non_fossil_share" => Some("non_fossil_tce"),
        _ => None,
    } {
        let (n, d) = (get(&cur, part), get(&cur, "energy_mix_tce"));
        let res = match (n, d) {
            (Some(n), Some(d)) if d != 0.0 => Some(n / d),
            _ => None,
        };
        (
            format!("{part} / energy_mix_tce"),
            format!("{} / {}", fmt(n), fmt(d)),
            res,
            vec![t(part, n, "tce"), t("energy_mix_tce", d, "tce")],
        )
    } else if indicator == "high_energy_share" {
        let (n, d) = (get(&cur, "high_energy_tce"), get(&cur, "energy_tce"));
        let res = match (n, d) {
            (Some(n), Some(d)) if d != 0.0 => Some(n / d),
            _ => None,
        };
        (
            "high_energy_tce / energy_tce".into(),
            format!("{} / {}", fmt(n), fmt(d)),
            res,
            vec![t("high_energy_tce", n, "tce"), t("energy_tce", d, "tce")],
        )
    } else {
        // a total: the sum of the records below, shown by energy and sector
        (
            format!("sum over the region's records of {indicator}"),
            fmt(value),
            value,
            vec![t(indicator, value, spec.unit)],
        )
    };

    // the GDP chain from the base year to this year
    let gdp = query(
        ctx,
        format!(
            "SELECT g.year, g.gdp, g.gdp_index, c.gdp_const FROM gdp_ok g LEFT JOIN gdp_const c \
             ON c.region_code = g.region_code AND c.year = g.year WHERE g.region_code = {} ORDER BY g.year",
            lit(region)
        ),
    )
    .await?;
    let mut gdp_chain = Vec::new();
    for b in &gdp {
        let (y, g, i, k) = (f64s(b, 0)?, f64s(b, 1)?, f64s(b, 2)?, f64s(b, 3)?);
        for r in 0..b.num_rows() {
            gdp_chain.push(GdpYear {
                year: y[r].unwrap_or_default() as i32,
                gdp: g[r].unwrap_or_default(),
                gdp_index: i[r],
                gdp_const: k[r],
            });
        }
    }

    // contributions: records of the region and every region below it
    let scope = format!(
        "FROM records_computed r JOIN region_closure a ON a.region_code = r.region_code \
         WHERE a.ancestor_code = {} AND r.year = {year}",
        lit(region)
    );
    let contributions = |key: &str, name: &str, limit: &str| {
        format!(
            "SELECT {key} AS k, {name} AS n, CAST(sum(r.tce) AS DOUBLE) AS tce, \
             CAST(sum(r.co2_direct_t) + sum(r.co2_indirect_t) AS DOUBLE) AS co2, count(*) AS records \
             {scope} GROUP BY {key} ORDER BY co2 DESC, k {limit}"
        )
    };
    let read_contrib = |batches: Vec<RecordBatch>| -> Result<Vec<Contribution>> {
        let mut out = Vec::new();
        for b in &batches {
            let (k, n, tce, co2, cnt) = (
                strings(b, 0)?,
                strings(b, 1)?,
                f64s(b, 2)?,
                f64s(b, 3)?,
                f64s(b, 4)?,
            );
            for r in 0..b.num_rows() {
                out.push(Contribution {
                    key: k[r].clone(),
                    name: n[r].clone(),
                    tce: tce[r].unwrap_or_default(),
                    co2_t: co2[r].unwrap_or_default(),
                    records: cnt[r].unwrap_or_default() as i64,
                });
            }
        }
        Ok(out)
    };
    let by_energy =
        read_contrib(query(ctx, contributions("r.energy_code", "min(r.category)", "")).await?)?;
    let by_sector = read_contrib(
        query(ctx, contributions("CASE WHEN regexp_like(r.sector_code, '^[A-T]?[0-9]') THEN substr(regexp_replace(r.sector_code, '^[A-Z]', ''), 1, 2) ELSE r.sector_code END", "CASE WHEN bool_or(r.high_energy) THEN 'energy-intensive' ELSE '' END", "")).await?,
    )?;
    let top_enterprises = read_contrib(
        query(
            ctx,
            contributions(
                "coalesce(r.enterprise_id, concat('sector ', r.sector_code))",
                "min(coalesce(r.enterprise_name, ''))",
                "LIMIT 10",
            ),
        )
        .await?,
    )?;

    // the factor rows the records used
    let factors = query(
        ctx,
        format!(
            "SELECT DISTINCT r.energy_code, r.tce_per_base_unit, r.base_unit, r.tce_factor_year, r.co2_factor, \
             r.indirect_factor, r.indirect_factor_scope, r.indirect_factor_area, r.factor_year, e.tce_source_id, e.tce_quality, \
             e.co2_source_id, e.co2_quality {scope_join} ORDER BY 1",
            scope_join = scope.replacen(
                "FROM records_computed r",
                "FROM records_computed r JOIN energy_catalog e ON e.energy_code = r.energy_code",
                1
            )
        ),
    )
    .await?;
    let mut factors_used = Vec::new();
    let electricity = c
        .factors
        .standard_coal
        .iter()
        .find(|r| r.energy_code == "electricity");
    for b in &factors {
        let code = strings(b, 0)?;
        let (tce, unit, tyear, co2, ind) = (
            f64s(b, 1)?,
            strings(b, 2)?,
            f64s(b, 3)?,
            f64s(b, 4)?,
            f64s(b, 5)?,
        );
        let (iscope, iarea, fyear) = (strings(b, 6)?, strings(b, 7)?, f64s(b, 8)?);
        let (tsrc, tq, csrc, cq) = (
            strings(b, 9)?,
            strings(b, 10)?,
            strings(b, 11)?,
            strings(b, 12)?,
        );
        for r in 0..b.num_rows() {
            let some = |s: &String| (!s.is_empty()).then(|| s.clone());
            if let Some(v) = tce[r] {
                factors_used.push(FactorUsed {
                    energy_code: code[r].clone(),
                    kind: if tyear[r].is_some() {
                        "generation coal rate (equal value)".into()
                    } else {
                        "standard coal coefficient".into()
                    },
                    value: v,
                    unit: format!("tce per {}", unit[r]),
                    factor_year: tyear[r].map(|y| y as i32),
                    scope: None,
                    // primary electricity is valued like electricity: that row's source
                    source_id: if tyear[r].is_some() {
                        Some("generation-coal-rate".into())
                    } else {
                        some(&tsrc[r]).or_else(|| electricity.map(|e| e.source_id.clone()))
                    },
                    quality: some(&tq[r]).or_else(|| {
                        if tyear[r].is_some() {
                            None
                        } else {
                            electricity.map(|e| e.quality.clone())
                        }
                    }),
                });
            }
            if let Some(v) = co2[r] {
                factors_used.push(FactorUsed {
                    energy_code: code[r].clone(),
                    kind: "combustion CO2 factor".into(),
                    value: v,
                    unit: format!("t CO2 per {}", unit[r]),
                    factor_year: None,
                    scope: None,
                    source_id: some(&csrc[r]),
                    quality: some(&cq[r]),
                });
            }
            if let Some(v) = ind[r] {
                let heat = iscope[r] == "heat";
                factors_used.push(FactorUsed {
                    energy_code: code[r].clone(),
                    kind: if heat {
                        "heat CO2 factor".into()
                    } else {
                        "grid CO2 factor".into()
                    },
                    value: v,
                    unit: if heat {
                        "t CO2 per GJ".into()
                    } else {
                        "t CO2 per MWh".into()
                    },
                    factor_year: fyear[r].map(|y| y as i32),
                    scope: some(&iscope[r]).map(|s| {
                        if iarea[r].is_empty() {
                            s
                        } else {
                            format!("{s} {}", iarea[r])
                        }
                    }),
                    source_id: None,
                    quality: None,
                });
            }
        }
    }
    // sources of grid and heat rows, from the factor set
    for f in factors_used.iter_mut().filter(|f| f.source_id.is_none()) {
        if f.kind == "grid CO2 factor" {
            if let Some(row) = c.factors.grid_factors.iter().find(|g| {
                Some(g.data_year) == f.factor_year
                    && f.scope.as_deref() == Some(&format!("{} {}", g.scope, g.area_code))
            }) {
                f.source_id = Some(row.source_id.clone());
                f.quality = Some(row.quality.clone());
            }
        } else if let Some(row) = c
            .factors
            .heat_factors
            .iter()
            .find(|h| Some(h.data_year) == f.factor_year)
        {
            f.source_id = Some(row.source_id.clone());
            f.quality = Some(row.quality.clone());
        }
    }

    let steps = crate::steps::STEPS
        .iter()
        .filter(|s| s.name != "60_targets.sql")
        .map(|s| crate::manifest::StepRecord {
            name: format!("sql/{}", s.name),
            sha256: s.sha256(),
        })
        .collect();
    Ok(Explanation {
        region_code: region.to_string(),
        region_name,
        year,
        indicator: indicator.to_string(),
        unit: spec.unit.to_string(),
        value,
        published_value,
        formula,
        formula_with_values: with_values,
        formula_result: result,
        terms,
        rounding,
        gdp_chain,
        by_energy,
        by_sector,
        top_enterprises,
        factors_used,
        sql_steps: steps,
    })
}

async fn c_base_year(ctx: &datafusion::prelude::SessionContext) -> Result<i32> {
    let b = collect(ctx, "SELECT base_year FROM run_params").await?;
    Ok(f64s(&b[0], 0)?[0].unwrap_or_default() as i32)
}

async fn c_nbs_rounding(ctx: &datafusion::prelude::SessionContext) -> Result<bool> {
    let b = collect(ctx, "SELECT CAST(nbs_rounding AS INT) FROM run_params").await?;
    Ok(f64s(&b[0], 0)?[0] == Some(1.0))
}

/// The published value of `indicator` for a region and year, read from the
/// published file the manifest names.
pub async fn published_value(
    p: &Published,
    region: &str,
    year: i32,
    indicator: &str,
) -> Result<Option<f64>> {
    let Some(f) = p
        .manifest
        .outputs
        .iter()
        .find(|o| o.dataset == "region_indicators" && o.partition == format!("year={year}"))
    else {
        return Ok(None);
    };
    let Some(bytes) = p.out.get(&f.path).await? else {
        return Ok(None);
    };
    for b in batches_of(&bytes)? {
        let schema = b.schema();
        let regions = strings(&b, schema.index_of("region_code")?)?;
        let values = f64s(&b, schema.index_of(indicator)?)?;
        if let Some(r) = regions.iter().position(|c| c == region) {
            return Ok(values[r]);
        }
    }
    Ok(None)
}
