//! For auditors: re-run a published run from its manifest and compare every
//! byte (`verify`), and show how one published number was made (`explain`).
//!
//! Both rebuild the run's config from the manifest (`config.effective`, with
//! relative paths resolved against `config.base`, or a directory the auditor
//! names), fetch the inputs and the factor set again, and compute in a scratch
//! location: the published output is only read.

pub(crate) mod explain;
pub(crate) mod published;
pub(crate) mod verify;

pub use explain::{
    BudgetRow, Contribution, Explanation, FactorUsed, GdpYear, Subject, Term, explain,
    explain_published, explain_subject, explain_subject_published, indicator_column,
    published_value, published_value_in, subject_column,
};
pub use published::{PublishedTables, publishes_explain_datasets};
pub use verify::{VerifyReport, verify};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::{Config, LoadedConfig};
use crate::error::{Error, Result};
use crate::publish::OutputStore;
use crate::publish::manifest::{MANIFEST_FILE, Manifest, Program};
use crate::store::{Location, Storage};

/// A published run: where it is and its manifest.
pub struct Published {
    pub out: OutputStore,
    pub manifest: Manifest,
    pub manifest_url: String,
}

/// Open a manifest by URL or path: `…/manifest.json`, the output location
/// itself, or a run's kept manifest `…/manifests/<run_id>.json` (its output
/// is the directory above `manifests/`).
pub async fn open_published(url: &str, storage: &Storage) -> Result<Published> {
    let given = url.trim_end_matches('/');
    let (root, name) = manifest_place(given);
    let root = if root.is_empty() { "." } else { root };
    let cwd = std::env::current_dir().map_err(|e| Error::io("current directory", e))?;
    // a local file that is no manifest (a config, say) is a usage error,
    // not the output directory it cannot be
    if name == MANIFEST_FILE && root == given && cwd.join(given).is_file() {
        return Err(Error::Usage(format!(
            "{url} is a file, not a published run: give its manifest.json, a kept manifests/<run_id>.json, or the \
             output directory"
        )));
    }
    let loc = Location::parse(&cwd, root, storage).map_err(|m| Error::Output {
        url: url.to_string(),
        message: m,
    })?;
    let out = OutputStore { loc };
    let manifest = out.read_manifest_at(&name).await?.ok_or_else(|| {
        Error::Usage(format!(
            "{url}: no {name} there: give the manifest of a published run (its manifest.json, a kept \
             manifests/<run_id>.json, or the output directory)"
        ))
    })?;
    Ok(Published {
        manifest_url: format!("{}/{name}", out.loc.display),
        out,
        manifest,
    })
}

/// The output location and the manifest's path under it, of what a user
/// gave: `…/manifest.json`; a kept `…/manifests/<run_id>.json` (the output
/// is the directory above `manifests/`); another `….json` beside its
/// output; or the output location itself.
fn manifest_place(given: &str) -> (&str, String) {
    if let Some(root) = given.strip_suffix(MANIFEST_FILE) {
        return (root.trim_end_matches('/'), MANIFEST_FILE.to_string());
    }
    if !given.ends_with(".json") {
        return (given, MANIFEST_FILE.to_string());
    }
    let (dir, file) = given.rsplit_once('/').unwrap_or(("", given));
    match dir.rsplit_once('/').unwrap_or(("", dir)) {
        (out, "manifests") => (out, format!("manifests/{file}")),
        _ => (dir, file.to_string()),
    }
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
    // re-computed in this process: where the published run ran (its threads,
    // memory, or a cluster, engine.cluster) does not change what it published
    config.engine.cluster = None;
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
                if dataset == "bulletin" {
                    // pages, not rows: the bytes differ
                    write!(
                        f,
                        "{dataset} {partition} differs: the page's bytes are not those the re-run renders"
                    )?;
                } else {
                    write!(
                        f,
                        "{dataset} {partition} differs: {published_rows} rows published, {rerun_rows} re-computed"
                    )?;
                }
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
