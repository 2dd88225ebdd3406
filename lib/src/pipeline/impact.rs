//! `carbonstat factors diff --impact`: the indicators of a config computed
//! with two factor sets, side by side.

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use serde::Serialize;

use crate::config::LoadedConfig;
use crate::engine::queries;
use crate::error::{Error, Result};
use crate::pipeline::{RunOptions, compute, load_all, work_dir};

/// How one region's indicator moves from set a to set b.
#[derive(Debug, Clone, Serialize)]
pub struct Impact {
    pub region_code: String,
    pub region_name: String,
    pub year: i32,
    pub indicator: String,
    pub a: Option<f64>,
    pub b: Option<f64>,
    /// b / a − 1
    pub change: Option<f64>,
}

/// The indicators compared: every numeric column of the published
/// region_indicators dataset (README's data dictionary), in its order.
pub fn impact_indicators() -> Vec<&'static str> {
    use crate::publish::schema::{ColType, REGION_INDICATORS};
    REGION_INDICATORS
        .columns
        .iter()
        .filter(|c| matches!(c.ty, ColType::Int | ColType::BigInt | ColType::Float))
        .map(|c| c.name)
        .collect()
}

pub(crate) type Values = BTreeMap<(String, i32), (String, Vec<Option<f64>>)>;

pub(crate) async fn indicators(cfg: &LoadedConfig, factors_location: &str) -> Result<Values> {
    let mut cfg = cfg.clone();
    cfg.config.factors = factors_location.to_string();
    let work = work_dir(&cfg)?;
    let (factors, inputs) = load_all(&cfg, work.path()).await?;
    let c = compute(&cfg, factors, inputs, &RunOptions::default()).await?;
    let names = impact_indicators();
    let mut out = Values::new();
    for b in queries::IMPACT_INDICATORS.collect(&c.ctx, &[]).await? {
        let column = |name: &str| {
            b.column_by_name(name).ok_or_else(|| {
                Error::Internal(format!(
                    "sql/queries/{} gives no column {name} of region_indicators",
                    queries::IMPACT_INDICATORS.name
                ))
            })
        };
        let codes = datafusion::arrow::compute::cast(column("region_code")?, &DataType::Utf8)?;
        let region_names =
            datafusion::arrow::compute::cast(column("region_name")?, &DataType::Utf8)?;
        let years = datafusion::arrow::compute::cast(column("year")?, &DataType::Float64)?;
        let (codes, region_names, years) = (
            codes.as_string::<i32>(),
            region_names.as_string::<i32>(),
            years.as_primitive::<Float64Type>(),
        );
        let cols: Vec<_> = names
            .iter()
            .map(|n| {
                Ok(datafusion::arrow::compute::cast(
                    column(n)?,
                    &DataType::Float64,
                )?)
            })
            .collect::<Result<_>>()?;
        for r in 0..b.num_rows() {
            let vals = cols
                .iter()
                .map(|c| {
                    let c = c.as_primitive::<Float64Type>();
                    (!c.is_null(r)).then(|| c.value(r))
                })
                .collect();
            out.insert(
                (codes.value(r).to_string(), years.value(r) as i32),
                (region_names.value(r).to_string(), vals),
            );
        }
    }
    Ok(out)
}

/// Compute the config's inputs with set `a` and with set `b`; every indicator
/// that moves, region by region and year by year.
pub async fn impact(cfg: &LoadedConfig, a: &str, b: &str) -> Result<Vec<Impact>> {
    let va = indicators(cfg, a).await?;
    let vb = indicators(cfg, b).await?;
    let mut out = Vec::new();
    for (key, (name, xs)) in &va {
        let Some((_, ys)) = vb.get(key) else { continue };
        for (i, ind) in impact_indicators().iter().enumerate() {
            if xs[i] != ys[i] {
                out.push(Impact {
                    region_code: key.0.clone(),
                    region_name: name.clone(),
                    year: key.1,
                    indicator: ind.to_string(),
                    a: xs[i],
                    b: ys[i],
                    change: match (xs[i], ys[i]) {
                        (Some(x), Some(y)) if x != 0.0 => Some(y / x - 1.0),
                        _ => None,
                    },
                });
            }
        }
    }
    Ok(out)
}
