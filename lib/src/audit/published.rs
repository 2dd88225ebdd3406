//! What `explain --region` reads from a published run instead of computing
//! it again: the datasets 55_explain.sql publishes (region_contributions,
//! region_factors, region_budget_rows, region_gdp) and region_indicators,
//! each partition read from the file the manifest names (never from a
//! listing, where an older run's files may sit beside them), plus the factor
//! set the manifest records (the sources and series of the factor rows).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int32Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

use crate::audit::Published;
use crate::audit::verify::batches_of;
use crate::config::LoadedConfig;
use crate::error::{Error, Result};
use crate::factors::FactorSet;
use crate::publish::schema::{
    Dataset, PARTITION_COLUMN, REGION_BUDGET_ROWS, REGION_CONTRIBUTIONS, REGION_FACTORS,
    REGION_GDP, REGION_INDICATORS,
};

/// The step whose datasets explain reads: a run published before it existed
/// is explained by computing it again.
const EXPLAIN_STEP: &str = "55_explain.sql";

/// Whether the published run has the datasets explain reads.
pub fn publishes_explain_datasets(p: &Published) -> bool {
    p.manifest
        .sql_steps
        .iter()
        .any(|s| s.name.rsplit('/').next() == Some(EXPLAIN_STEP))
}

/// A session over the published partitions one explanation needs, under the
/// names the `published_*` queries (sql/queries/) read.
pub struct PublishedTables {
    pub(crate) ctx: SessionContext,
    pub(crate) factors: FactorSet,
    pub(crate) base_year: i32,
    pub(crate) nbs_rounding: bool,
}

impl PublishedTables {
    /// The tables to explain a region in `year`: region_indicators and
    /// region_gdp of every year (a change rate compares with an earlier year,
    /// the peak and the GDP chain span them all; both have a row per region
    /// and year), the other three of `year` only.
    pub async fn for_region_year(
        p: &Published,
        cfg: &LoadedConfig,
        factors: FactorSet,
        year: i32,
    ) -> Result<Self> {
        if !publishes_explain_datasets(p) {
            return Err(Error::Output {
                url: p.manifest_url.clone(),
                message: format!(
                    "the run was published without the datasets explain reads ({EXPLAIN_STEP}); explain it with --recompute"
                ),
            });
        }
        let ctx = SessionContext::new();
        register(&ctx, p, &REGION_INDICATORS, None).await?;
        register(&ctx, p, &REGION_GDP, None).await?;
        for d in [&REGION_CONTRIBUTIONS, &REGION_FACTORS, &REGION_BUDGET_ROWS] {
            register(&ctx, p, d, Some(year)).await?;
        }
        Ok(PublishedTables {
            ctx,
            factors,
            base_year: cfg.config.base_year,
            nbs_rounding: cfg.config.nbs_rounding,
        })
    }
}

/// The schema of a dataset's rows with the partition column `year` last.
fn with_year(d: &Dataset) -> SchemaRef {
    let file = d.file_schema();
    let mut fields: Vec<Field> = file.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new(PARTITION_COLUMN, DataType::Int32, false));
    Arc::new(Schema::new(fields))
}

/// Register `d` under its view's name as a table of its published
/// partitions (`year` only, or every year) with the partition column `year`,
/// each file read once and whole (explain needs a handful of small files;
/// the bulletin re-rendered from a run, report::register_published, all of
/// them).
pub(crate) async fn register(
    ctx: &SessionContext,
    p: &Published,
    d: &Dataset,
    year: Option<i32>,
) -> Result<()> {
    let schema = with_year(d);
    let mut batches = Vec::new();
    for f in p.manifest.outputs.iter().filter(|o| o.dataset == d.name) {
        let Some(y) = f
            .partition
            .strip_prefix(&format!("{PARTITION_COLUMN}="))
            .and_then(|y| y.parse::<i32>().ok())
        else {
            continue;
        };
        if year.is_some_and(|want| want != y) {
            continue;
        }
        let bytes = p.out.get(&f.path).await?.ok_or_else(|| Error::Output {
            url: p.manifest_url.clone(),
            message: format!(
                "published file {} named by the manifest is missing (carbonstat verify names every difference)",
                f.path
            ),
        })?;
        for b in batches_of(&bytes)? {
            let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
            for field in d.file_schema().fields() {
                let c = b.column_by_name(field.name()).ok_or_else(|| Error::Output {
                    url: p.manifest_url.clone(),
                    message: format!(
                        "published file {} has no column {}: not a file of this carbonstat's {}",
                        f.path,
                        field.name(),
                        d.name
                    ),
                })?;
                columns.push(datafusion::arrow::compute::cast(c, field.data_type())?);
            }
            columns.push(Arc::new(Int32Array::from(vec![y; b.num_rows()])));
            batches.push(RecordBatch::try_new(schema.clone(), columns)?);
        }
    }
    let table = MemTable::try_new(schema, vec![batches])?;
    ctx.register_table(d.view, Arc::new(table))?;
    Ok(())
}
