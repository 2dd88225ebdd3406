//! What `explain` reads from a published run instead of computing it again:
//! for a region the datasets 55_explain.sql publishes (region_contributions,
//! region_factors, region_budget_rows, region_gdp) and region_indicators; for
//! an enterprise or a group enterprise_totals, group_indicators,
//! enterprise_annual, process_emissions, group_members and green_power. Each
//! partition is read from the file the manifest names (never from a listing,
//! where an older run's files may sit beside them). The factor set the
//! manifest records gives the sources and series of the factor rows, and for
//! an enterprise or a group the factors of each energy, province and year
//! (15_factors.sql run on it alone, without any input).

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int32Array, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::{
    ArrowPredicateFn, ParquetRecordBatchReaderBuilder, RowFilter,
};
use datafusion::prelude::SessionContext;

use crate::audit::Published;
use crate::audit::verify::batches_of;
use crate::config::LoadedConfig;
use crate::error::{Error, Result};
use crate::factors::FactorSet;
use crate::publish::schema::{
    Dataset, ENTERPRISE_ANNUAL, ENTERPRISE_TOTALS, GREEN_POWER, GROUP_INDICATORS, GROUP_MEMBERS,
    PARTITION_COLUMN, PROCESS_EMISSIONS, REGION_BUDGET_ROWS, REGION_CONTRIBUTIONS, REGION_FACTORS,
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

impl PublishedTables {
    /// The tables to explain an enterprise or a group in `year`: the year's
    /// partitions of the six datasets, and the factor tables of the run's
    /// factor set and config. Of the datasets with a row per enterprise only
    /// the rows of the subject's members are kept (the files are sorted by
    /// enterprise, so the reader skips the pages of the others).
    pub async fn for_subject_year(
        p: &Published,
        cfg: &LoadedConfig,
        factors: FactorSet,
        subject: super::Subject,
        id: &str,
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
        let ctx = crate::engine::session::new_session(cfg)?;
        let (groups, members) = match subject {
            super::Subject::Group => {
                let group: HashSet<String> = [id.to_string()].into();
                register_rows(
                    &ctx,
                    p,
                    &GROUP_MEMBERS,
                    Some(year),
                    Some(("group_id", &group)),
                )
                .await?;
                let mut members = HashSet::new();
                for b in ctx.table(GROUP_MEMBERS.view).await?.collect().await? {
                    let ids = cast(
                        b.column_by_name("enterprise_id").ok_or_else(|| {
                            Error::Internal("group_members without enterprise_id".into())
                        })?,
                        &DataType::Utf8,
                    )?;
                    let ids = ids.as_string::<i32>();
                    members.extend(
                        (0..ids.len())
                            .filter(|&i| ids.is_valid(i))
                            .map(|i| ids.value(i).to_string()),
                    );
                }
                (group, members)
            }
            super::Subject::Enterprise => {
                register_rows(
                    &ctx,
                    p,
                    &GROUP_MEMBERS,
                    Some(year),
                    Some(("group_id", &HashSet::new())),
                )
                .await?;
                (HashSet::new(), [id.to_string()].into())
            }
        };
        register_rows(
            &ctx,
            p,
            &GROUP_INDICATORS,
            Some(year),
            Some(("group_id", &groups)),
        )
        .await?;
        for d in [
            &ENTERPRISE_TOTALS,
            &ENTERPRISE_ANNUAL,
            &PROCESS_EMISSIONS,
            &GREEN_POWER,
        ] {
            register_rows(&ctx, p, d, Some(year), Some(("enterprise_id", &members))).await?;
        }
        // the factors of every energy in the members' provinces and every
        // year, chosen as the run chose them: 15_factors.sql reads only the
        // region codes of the regions input (for their provinces)
        crate::engine::session::register_run(&ctx, &cfg.config, &factors)?;
        ctx.sql("CREATE VIEW regions_norm AS SELECT DISTINCT region_code FROM enterprise_annual")
            .await?
            .collect()
            .await?;
        let step = crate::engine::steps::step("15_factors.sql")
            .ok_or_else(|| Error::Internal("no step 15_factors.sql".into()))?;
        crate::engine::steps::run_steps(&ctx, std::slice::from_ref(step)).await?;
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
    register_rows(ctx, p, d, year, None).await
}

/// [`register`], keeping only the rows whose text column is one of the
/// values when `keep` is given: the reader evaluates that column first and
/// decodes the others only for the rows kept.
async fn register_rows(
    ctx: &SessionContext,
    p: &Published,
    d: &Dataset,
    year: Option<i32>,
    keep: Option<(&str, &HashSet<String>)>,
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
        let read = match keep {
            None => batches_of(&bytes)?,
            Some((column, values)) => batches_where(bytes, column, values)?,
        };
        for b in read {
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
                columns.push(cast(c, field.data_type())?);
            }
            columns.push(Arc::new(Int32Array::from(vec![y; b.num_rows()])));
            batches.push(RecordBatch::try_new(schema.clone(), columns)?);
        }
    }
    let table = MemTable::try_new(schema, vec![batches])?;
    ctx.register_table(d.view, Arc::new(table))?;
    Ok(())
}

/// The rows of a Parquet file whose text `column` is one of `values`.
fn batches_where(
    bytes: Vec<u8>,
    column: &str,
    values: &HashSet<String>,
) -> Result<Vec<RecordBatch>> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))?;
    let mask = ProjectionMask::columns(builder.parquet_schema(), [column]);
    let values = values.clone();
    let predicate = ArrowPredicateFn::new(mask, move |b: RecordBatch| {
        let c = cast(b.column(0), &DataType::Utf8)?;
        let c = c.as_string::<i32>();
        Ok(BooleanArray::from_iter((0..c.len()).map(|i| {
            Some(c.is_valid(i) && values.contains(c.value(i)))
        })))
    });
    let reader = builder
        .with_row_filter(RowFilter::new(vec![Box::new(predicate)]))
        .build()?;
    Ok(reader.collect::<std::result::Result<Vec<_>, _>>()?)
}
