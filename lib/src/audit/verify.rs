//! `carbonstat verify`: re-run a published run from its manifest and compare
//! every output file, row by row where the bytes differ.

use std::collections::BTreeMap;
use std::path::Path;

use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::util::display::ArrayFormatter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Serialize;

use crate::audit::Finding;
use crate::audit::Published;
use crate::audit::RowDiff;
use crate::audit::config_from_manifest;
use crate::digest::sha256_hex;
use crate::error::{Error, Result};
use crate::pipeline::{RunOptions, compute, input_keys, load_factors, work_dir};
use crate::publish::manifest::{Manifest, OutputFile, Program};
use crate::publish::{OutputStore, write_all};
use crate::store::{Location, Storage};

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

pub(crate) fn batches_of(bytes: &[u8]) -> Result<Vec<RecordBatch>> {
    let reader =
        ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::copy_from_slice(bytes))?.build()?;
    Ok(reader.collect::<std::result::Result<Vec<_>, _>>()?)
}

/// Every row as column → text.
pub(crate) fn rows_of(batches: &[RecordBatch]) -> Result<Vec<BTreeMap<String, String>>> {
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

pub(crate) fn diff_rows(
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

    // the factor set (where the run found it, unless --base says the run's
    // files moved)
    let factors = load_factors(&cfg, work.path()).await.map_err(|e| match (e, base) {
        (Error::FactorSet { dir, message }, None) => Error::FactorSet {
            message: format!(
                "{message}; if the run's files moved since it ran in {}, give their directory now: \
                 carbonstat verify <manifest> --base DIR",
                cfg.base_dir.display()
            ),
            dir,
        },
        (e, _) => e,
    })?;
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
        let listed = crate::input::list_inputs(&cfg).await?;
        crate::input::fetch_inputs(&listed, work.path()).await
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
    let rerun = write_all(
        &computed.ctx,
        &scratch,
        "verify",
        &m.fingerprint,
        &cfg.report_options(),
    )
    .await?;
    compare_outputs(m, &rerun, &published_bytes, &scratch, &mut findings).await?;
    Ok(report(p, findings))
}

pub(crate) fn report(p: &Published, findings: Vec<Finding>) -> VerifyReport {
    VerifyReport {
        manifest: p.manifest_url.clone(),
        run_id: p.manifest.run_id.clone(),
        files: p.manifest.outputs.len(),
        rows: p.manifest.outputs.iter().map(|o| o.rows).sum(),
        findings,
    }
}

pub(crate) async fn compare_outputs(
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
        let key = crate::publish::schema::DATASETS
            .iter()
            .find(|d| d.name == f.dataset)
            .map(|d| d.sort_key.to_vec())
            .unwrap_or_default();
        let rows = match published.get(k) {
            // a bulletin page is not Parquet: its bytes differ, no rows to show
            Some(_) if f.dataset == crate::publish::write::BULLETIN_DATASET => vec![],
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
