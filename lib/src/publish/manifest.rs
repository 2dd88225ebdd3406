//! `manifest.json`: the record of a run, written last. It names every input by
//! content hash, the factor set, the config, the SQL steps and the program
//! version, and every output file with its row count and sha256, so that an
//! auditor can tell exactly what a published number was made from. Times live
//! here only, never inside data files.

use serde::{Deserialize, Serialize};

use crate::factors::FactorFile;
use crate::input::InputFile;

pub const MANIFEST_FILE: &str = "manifest.json";
pub const MANIFEST_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub manifest_version: u32,
    pub run_id: String,
    pub program: Program,
    pub started_at: String,
    pub finished_at: String,
    /// sha256 over everything that determines the outputs (inputs, factor set,
    /// config, SQL, program version): equal fingerprints, equal outputs.
    pub fingerprint: String,
    pub config: ConfigRecord,
    #[serde(default)]
    pub engine: EngineRecord,
    pub factor_set: FactorSetRecord,
    pub sql_steps: Vec<StepRecord>,
    pub inputs: Vec<InputRecord>,
    pub input_totals: Vec<InputTotal>,
    pub outputs: Vec<OutputFile>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Program {
    pub name: String,
    pub version: String,
    /// The git commit the binary was built from ("-dirty" with local changes).
    #[serde(default)]
    pub git_commit: String,
    pub datafusion: String,
}

impl Program {
    pub fn this() -> Program {
        Program {
            name: "carbonstat".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            git_commit: env!("CARBONSTAT_GIT_COMMIT").into(),
            datafusion: datafusion::DATAFUSION_VERSION.into(),
        }
    }
}

/// The engine settings of a run. None of them changes a published byte (tests
/// prove it for partitions 1, 2 and 8 and for a spilling memory limit); they
/// are recorded so a re-run can reproduce the conditions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct EngineRecord {
    pub target_partitions: usize,
    pub threads: Option<usize>,
    pub memory_limit: Option<crate::config::ByteSize>,
    pub spill_dir_set: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ConfigRecord {
    /// The file as given on the command line.
    pub path: String,
    /// The directory relative paths in the config resolve against.
    #[serde(default)]
    pub base: String,
    /// sha256 of the file's bytes.
    pub sha256: String,
    /// sha256 of `effective` serialized as canonical JSON (sorted keys, no spaces).
    #[serde(default)]
    pub canonical_sha256: String,
    /// The config as the run understood it, defaults filled in, secrets redacted.
    pub effective: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FactorSetRecord {
    pub id: String,
    pub title: String,
    pub location: String,
    pub sha256: String,
    pub files: Vec<FactorFile>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StepRecord {
    pub name: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InputRecord {
    pub input: String,
    /// path, format, size, sha256, last_modified, e_tag, encoding, sheet,
    /// header_row: the file as the run read it
    #[serde(flatten)]
    pub file: InputFile,
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InputTotal {
    pub input: String,
    pub files: u64,
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutputFile {
    pub dataset: String,
    pub partition: String,
    /// Relative to the output location.
    pub path: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}
