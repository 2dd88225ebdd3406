//! The gates between validation and computation: the reject ratio
//! (`quality.max_reject_ratio`), cycles in the regions' parent codes, and a
//! base_year the gdp input does not have.

use std::collections::HashMap;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::prelude::SessionContext;

use crate::config::LoadedConfig;
use crate::engine::queries;
use crate::error::{Error, Result};
use crate::pipeline::readback::text;
use crate::publish::manifest::InputTotal;

/// Refuse a regions table whose parent links loop: a roll-up would count a
/// region twice.
pub(crate) async fn check_region_cycles(ctx: &SessionContext) -> Result<()> {
    let batches = queries::REGION_PARENTS.collect(ctx, &[]).await?;
    // code → (parent, file, line)
    let mut parent: HashMap<String, (String, String, i64)> = HashMap::new();
    for b in &batches {
        let codes = text(b, 0)?;
        let parents = text(b, 1)?;
        let files = text(b, 2)?;
        let lines = b.column(3).as_primitive::<Int64Type>();
        for i in 0..b.num_rows() {
            if !parents.is_null(i) {
                parent.insert(
                    codes.value(i).to_string(),
                    (
                        parents.value(i).to_string(),
                        files.value(i).to_string(),
                        lines.value(i),
                    ),
                );
            }
        }
    }
    let mut starts: Vec<&String> = parent.keys().collect();
    starts.sort();
    for start in starts {
        let mut path = vec![start.as_str()];
        let mut cur = start.as_str();
        while let Some((p, _, _)) = parent.get(cur) {
            if p == start {
                // each region of the cycle with the line that gives its parent
                let rows: Vec<String> = path
                    .iter()
                    .map(|c| {
                        let (p, _, line) = &parent[*c];
                        format!("line {line}: {c} under {p}")
                    })
                    .collect();
                return Err(Error::InputFile {
                    input: "regions".into(),
                    file: parent[start.as_str()].1.clone(),
                    message: format!(
                        "parent_code links form a cycle: {} → {start} ({}); a region cannot be its own ancestor: \
                         correct the parent_code of one of these rows",
                        path.join(" → "),
                        rows.join(", ")
                    ),
                });
            }
            if path.len() > 64 {
                break;
            }
            path.push(p);
            cur = p;
        }
    }
    Ok(())
}

/// Refuse a base_year the gdp input has no row for (when it has rows): GDP
/// at constant prices chains from the base year's GDP, so every intensity
/// and change rate of the run would be empty, and the notes would blame
/// each region's GDP rather than the config.
pub(crate) async fn check_base_year(cfg: &LoadedConfig, ctx: &SessionContext) -> Result<()> {
    use datafusion::arrow::compute::cast;
    use datafusion::arrow::datatypes::DataType;
    // one row: run_params has one
    for b in queries::BASE_YEAR_GDP.collect(ctx, &[]).await? {
        // base_year, gdp_rows, base_year_rows, first_year, last_year
        let v = |i: usize| -> Result<Option<i64>> {
            let c = cast(b.column(i), &DataType::Int64)?;
            let c = c.as_primitive::<Int64Type>();
            Ok((b.num_rows() == 1 && c.is_valid(0)).then(|| c.value(0)))
        };
        if v(1)?.unwrap_or(0) > 0 && v(2)? == Some(0) {
            return Err(Error::Config {
                file: cfg.path.clone(),
                message: format!(
                    "base_year: {} has no row in the gdp input (its years: {}-{}): GDP at constant prices \
                     chains from the base year's GDP, so every intensity and change rate would be empty; set \
                     base_year to the year the plans' intensities are measured from, with its GDP in the gdp input",
                    v(0)?.unwrap_or_default(),
                    v(3)?.unwrap_or_default(),
                    v(4)?.unwrap_or_default()
                ),
            });
        }
    }
    Ok(())
}

pub(crate) async fn quality_gate(
    cfg: &LoadedConfig,
    ctx: &SessionContext,
    totals: &[InputTotal],
) -> Result<()> {
    let max = cfg.config.quality.max_reject_ratio;
    let failing: Vec<&InputTotal> = totals
        .iter()
        .filter(|t| t.rows_read > 0 && t.rows_rejected as f64 / t.rows_read as f64 > max)
        .collect();
    if failing.is_empty() {
        return Ok(());
    }
    let mut msg = String::new();
    for t in &failing {
        msg.push_str(&format!(
            "input {}: {} of {} rows rejected ({:.2} %), above quality.max_reject_ratio {} ({:.2} %)\n",
            t.input,
            t.rows_rejected,
            t.rows_read,
            100.0 * t.rows_rejected as f64 / t.rows_read as f64,
            max,
            100.0 * max
        ));
    }
    let first = queries::FIRST_REJECTS.collect(ctx, &[]).await?;
    msg.push_str("first rejected rows:\n");
    for b in &first {
        let file = text(b, 0)?;
        let line = b.column(1).as_primitive::<Int64Type>();
        let rule = text(b, 2)?;
        let col = text(b, 3)?;
        let m = text(b, 4)?;
        for i in 0..b.num_rows() {
            let column = if col.value(i).is_empty() {
                String::new()
            } else {
                format!(" column {}", col.value(i))
            };
            msg.push_str(&format!(
                "  {} line {}{}: [{}] {}\n",
                file.value(i),
                line.value(i),
                column,
                rule.value(i),
                m.value(i)
            ));
        }
    }
    msg.push_str(&format!(
        "nothing was published. Correct the rows (or raise quality.max_reject_ratio in {}) and run again.",
        cfg.path.display()
    ));
    Err(Error::Quality(msg))
}
