//! A run's identity: the fingerprint over the effective config, the factor
//! set, the SQL steps, the program and every input's content hash; and
//! whether the published run already has it (the cheap no-op).

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::config::LoadedConfig;
use crate::engine::steps::STEPS;
use crate::error::{Error, Result};
use crate::factors::FactorSet;
use crate::input::{ListedInput, ResolvedInput};
use crate::publish::OutputStore;
use crate::publish::manifest::{Manifest, Program, StepRecord};

/// The config as the manifest shows it: defaults filled in, secrets redacted.
pub(crate) fn effective_config(cfg: &LoadedConfig) -> Result<serde_json::Value> {
    let mut c = cfg.config.clone();
    c.storage = c.storage.redacted();
    serde_json::to_value(&c).map_err(|e| Error::Internal(format!("config to JSON: {e}")))
}

/// sha256 over everything that determines the published bytes. Settings that
/// cannot change a number (engine, quality gate, where the output goes, lock,
/// storage credentials) are left out, so moving the output or changing the
/// thread count does not force a recomputation.
pub(crate) fn fingerprint(
    program: &Program,
    effective: &serde_json::Value,
    factors: &str,
    steps: &[StepRecord],
    inputs: &[(String, String, String)],
) -> String {
    let mut config = effective.clone();
    if let Some(o) = config.as_object_mut() {
        for k in ["engine", "quality", "output", "lock_ttl", "storage"] {
            o.remove(k);
        }
    }
    let material = json!({
        "program": program,
        "config": config,
        "factor_set": factors,
        "sql": steps,
        "inputs": inputs,
    });
    hex::encode(Sha256::digest(material.to_string().as_bytes()))
}

/// Are the inputs listed now the ones the manifest recorded (same path, size,
/// modification time and ETag)? Then their recorded hashes still hold.
pub(crate) fn unchanged_since(listed: &[ListedInput], m: &Manifest) -> bool {
    let now: Vec<(&str, &str, u64, &str, Option<&str>)> = listed
        .iter()
        .flat_map(|i| {
            i.files.iter().map(move |f| {
                (
                    i.spec.name,
                    f.path.as_str(),
                    f.size,
                    f.last_modified.as_str(),
                    f.e_tag.as_deref(),
                )
            })
        })
        .collect();
    let then: Vec<(&str, &str, u64, &str, Option<&str>)> = m
        .inputs
        .iter()
        .map(|r| {
            (
                r.input.as_str(),
                r.file.path.as_str(),
                r.file.size,
                r.file.last_modified.as_str(),
                r.file.e_tag.as_deref(),
            )
        })
        .collect();
    !then.is_empty() && now == then && then.iter().all(|t| !t.3.is_empty())
}

/// Does every file the manifest names exist with its size?
pub(crate) async fn outputs_present(out: &OutputStore, m: &Manifest) -> Result<bool> {
    for f in &m.outputs {
        if out.size(&f.path).await? != Some(f.bytes) {
            tracing::warn!(path = %f.path, "a file the published manifest names is missing or changed: recomputing");
            return Ok(false);
        }
    }
    Ok(true)
}

/// What a run's fingerprint is made of, besides the factor set and inputs.
pub(crate) struct Identity {
    pub program: Program,
    /// The effective config, secrets redacted.
    pub effective: serde_json::Value,
    pub steps: Vec<StepRecord>,
}

pub(crate) fn identity(cfg: &LoadedConfig) -> Result<Identity> {
    Ok(Identity {
        program: Program::this(),
        effective: effective_config(cfg)?,
        steps: STEPS
            .iter()
            .map(|s| StepRecord {
                name: s.name.to_string(),
                sha256: s.sha256(),
            })
            .collect(),
    })
}

impl Identity {
    pub(crate) fn fingerprint(
        &self,
        factors: &FactorSet,
        inputs: &[(String, String, String)],
    ) -> String {
        fingerprint(
            &self.program,
            &self.effective,
            &factors.hash,
            &self.steps,
            inputs,
        )
    }
}

/// (input, path, sha256) of every fetched file: the inputs' part of the fingerprint.
pub(crate) fn input_keys(inputs: &[ResolvedInput]) -> Vec<(String, String, String)> {
    inputs
        .iter()
        .flat_map(|i| {
            i.files
                .iter()
                .map(move |f| (i.spec.name.to_string(), f.path.clone(), f.sha256.clone()))
        })
        .collect()
}
