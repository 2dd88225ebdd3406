//! What `explain` reads from a published run instead of computing it again:
//! for a region region_indicators, the rows of enterprise_annual and
//! sector_annual in it and below it, region_budget_rows and region_gdp; for
//! an enterprise or a group enterprise_totals, group_indicators, the
//! members' rows of enterprise_annual, process_emissions, group_members and
//! green_power. Each partition is read from the file the manifest names
//! (never from a listing, where an older run's files may sit beside them).
//! The factor set the manifest records gives the factors of each energy,
//! province and year (15_factors.sql run on it alone, without any input)
//! and their sources.

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int32Array, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::ScalarValue;
use datafusion::datasource::MemTable;
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::{
    ArrowPredicateFn, ParquetRecordBatchReaderBuilder, RowFilter,
};
use datafusion::prelude::SessionContext;

use crate::audit::{Published, Subject};
use crate::config::LoadedConfig;
use crate::error::{Error, Result};
use crate::factors::FactorSet;
use crate::publish::schema::{
    Dataset, ENTERPRISE_ANNUAL, ENTERPRISE_TOTALS, GREEN_POWER, GROUP_INDICATORS, GROUP_MEMBERS,
    PARTITION_COLUMN, PROCESS_EMISSIONS, REGION_BUDGET_ROWS, REGION_GDP, REGION_INDICATORS,
    SECTOR_ANNUAL,
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

/// A session over the published rows one explanation needs, under the names
/// the `published_*` queries (sql/queries/) read, with the factor tables.
pub struct PublishedTables {
    pub(crate) ctx: SessionContext,
    pub(crate) factors: FactorSet,
    pub(crate) base_year: i32,
    pub(crate) nbs_rounding: bool,
}

impl PublishedTables {
    /// The tables to explain `region` in `year`: region_indicators and
    /// region_gdp of every year (a change rate compares with an earlier year,
    /// the peak and the GDP chain span them all; both have a row per region
    /// and year), region_budget_rows of `year`, and the rows of
    /// enterprise_annual and sector_annual of `year` in the region and the
    /// regions below it.
    pub async fn for_region_year(
        p: &Published,
        cfg: &LoadedConfig,
        factors: FactorSet,
        region: &str,
        year: i32,
    ) -> Result<Self> {
        require_explain_datasets(p)?;
        let ctx = crate::engine::session::new_session(cfg)?;
        register(&ctx, p, &REGION_INDICATORS, None).await?;
        register(&ctx, p, &REGION_GDP, None).await?;
        register(&ctx, p, &REGION_BUDGET_ROWS, Some(year)).await?;
        let mut below = HashSet::new();
        for b in crate::engine::queries::PUBLISHED_REGION_BELOW
            .collect(
                &ctx,
                &[ScalarValue::from(region), ScalarValue::Int32(Some(year))],
            )
            .await?
        {
            below.extend(texts(&b, "region_code")?);
        }
        for d in [&ENTERPRISE_ANNUAL, &SECTOR_ANNUAL] {
            register_rows(&ctx, p, d, Some(year), Some(("region_code", &below))).await?;
        }
        factor_tables(&ctx, cfg, &factors, REGION_INDICATORS.view).await?;
        Ok(PublishedTables {
            ctx,
            factors,
            base_year: cfg.config.base_year,
            nbs_rounding: cfg.config.nbs_rounding,
        })
    }

    /// The tables to explain an enterprise or a group in `year`: the year's
    /// rows of the subject and its members in enterprise_totals,
    /// group_indicators, enterprise_annual, process_emissions, group_members
    /// and green_power (the files are sorted by enterprise or group, so the
    /// reader skips the pages of the others).
    pub async fn for_subject_year(
        p: &Published,
        cfg: &LoadedConfig,
        factors: FactorSet,
        subject: Subject,
        id: &str,
        year: i32,
    ) -> Result<Self> {
        require_explain_datasets(p)?;
        let ctx = crate::engine::session::new_session(cfg)?;
        let groups: HashSet<String> = match subject {
            Subject::Group => [id.to_string()].into(),
            Subject::Enterprise => HashSet::new(),
        };
        let keep = Some(("group_id", &groups));
        register_rows(&ctx, p, &GROUP_MEMBERS, Some(year), keep).await?;
        register_rows(&ctx, p, &GROUP_INDICATORS, Some(year), keep).await?;
        let members: HashSet<String> = match subject {
            Subject::Group => {
                let mut members = HashSet::new();
                for b in ctx.table(GROUP_MEMBERS.view).await?.collect().await? {
                    members.extend(texts(&b, "enterprise_id")?);
                }
                members
            }
            Subject::Enterprise => [id.to_string()].into(),
        };
        for d in [
            &ENTERPRISE_TOTALS,
            &ENTERPRISE_ANNUAL,
            &PROCESS_EMISSIONS,
            &GREEN_POWER,
        ] {
            register_rows(&ctx, p, d, Some(year), Some(("enterprise_id", &members))).await?;
        }
        factor_tables(&ctx, cfg, &factors, ENTERPRISE_ANNUAL.view).await?;
        Ok(PublishedTables {
            ctx,
            factors,
            base_year: cfg.config.base_year,
            nbs_rounding: cfg.config.nbs_rounding,
        })
    }
}

/// Refuse a run published without the datasets explain reads.
fn require_explain_datasets(p: &Published) -> Result<()> {
    if publishes_explain_datasets(p) {
        return Ok(());
    }
    Err(Error::Output {
        url: p.manifest_url.clone(),
        message: format!(
            "the run was published without the datasets explain reads ({EXPLAIN_STEP}); explain it with --recompute"
        ),
    })
}

/// The factor tables of the run's factor set and config, with the factors
/// of every energy and year in the provinces of the region codes of the
/// registered table `regions`, chosen as the run chose them: 15_factors.sql
/// reads nothing of the inputs but the region codes (for their provinces).
async fn factor_tables(
    ctx: &SessionContext,
    cfg: &LoadedConfig,
    factors: &FactorSet,
    regions: &str,
) -> Result<()> {
    crate::engine::session::register_run(ctx, &cfg.config, factors)?;
    ctx.sql(&format!(
        "CREATE VIEW regions_norm AS SELECT DISTINCT region_code FROM {regions}"
    ))
    .await?
    .collect()
    .await?;
    let step = crate::engine::steps::step("15_factors.sql")
        .ok_or_else(|| Error::Internal("no step 15_factors.sql".into()))?;
    crate::engine::steps::run_steps(ctx, std::slice::from_ref(step)).await
}

/// The non-null values of a text column.
fn texts(b: &RecordBatch, column: &str) -> Result<Vec<String>> {
    let c = b
        .column_by_name(column)
        .ok_or_else(|| Error::Internal(format!("no column {column}")))?;
    let c = cast(c, &DataType::Utf8)?;
    let c = c.as_string::<i32>();
    Ok((0..c.len())
        .filter(|&i| c.is_valid(i))
        .map(|i| c.value(i).to_string())
        .collect())
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
    // the file's columns: all but the partition column, added last
    let file_fields = &schema.fields()[..schema.fields().len() - 1];
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
        for b in read_batches(bytes, keep)? {
            let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
            for field in file_fields {
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

/// The rows of a Parquet file, or only those whose text column is one of
/// the values of `keep`.
fn read_batches(
    bytes: Vec<u8>,
    keep: Option<(&str, &HashSet<String>)>,
) -> Result<Vec<RecordBatch>> {
    let mut builder = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))?;
    if let Some((column, values)) = keep {
        let mask = ProjectionMask::columns(builder.parquet_schema(), [column]);
        let values = values.clone();
        let predicate = ArrowPredicateFn::new(mask, move |b: RecordBatch| {
            let c = cast(b.column(0), &DataType::Utf8)?;
            let c = c.as_string::<i32>();
            Ok(BooleanArray::from_iter((0..c.len()).map(|i| {
                Some(c.is_valid(i) && values.contains(c.value(i)))
            })))
        });
        builder = builder.with_row_filter(RowFilter::new(vec![Box::new(predicate)]));
    }
    Ok(builder
        .build()?
        .collect::<std::result::Result<Vec<_>, _>>()?)
}
