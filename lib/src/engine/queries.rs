//! The queries that read a run's results back from its session: the counts
//! and rejects of the manifest, the quality gate, the terminal summary,
//! `factors diff --impact` and `explain`. Like the steps (steps.rs) each is a
//! file of `sql/queries/`, compiled into the binary, so an auditor reads what
//! a number on the screen comes from without reading Rust.
//!
//! A value (a region code, a year) enters a query only as a parameter (`$1`,
//! `$2` …) bound with `DataFrame::with_param_values`, never spliced into the
//! text; what varies in the shape of a query (which grouping, which columns)
//! is a choice between whole files. Each query declares its parameters here
//! and a run refuses values of another number or type. The queries only read:
//! they are planned with DDL and DML refused.

use datafusion::arrow::array::RecordBatch;
use datafusion::common::ScalarValue;
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::SessionContext;

use crate::engine::metrics::show_analyzed;
use crate::error::{Error, Result};

/// The type of a query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Param {
    /// A text value (`ScalarValue::Utf8`), e.g. a region code.
    Text,
    /// A 32-bit integer (`ScalarValue::Int32`), e.g. a year.
    Int,
}

impl Param {
    fn accepts(self, value: &ScalarValue) -> bool {
        matches!(
            (self, value),
            (Param::Text, ScalarValue::Utf8(_)) | (Param::Int, ScalarValue::Int32(_))
        )
    }
}

/// One file of `sql/queries/` and the types of its parameters, `$1` first.
#[derive(Debug)]
pub(crate) struct Query {
    pub name: &'static str,
    pub sql: &'static str,
    pub params: &'static [Param],
}

macro_rules! queries {
    ($($id:ident = $file:literal [$($param:ident),*];)*) => {
        $(
            pub(crate) const $id: Query = Query {
                name: $file,
                sql: include_str!(concat!("../../../sql/queries/", $file)),
                params: &[$(Param::$param),*],
            };
        )*
        /// Every query, for the tests that check them all.
        #[cfg(test)]
        pub(crate) const QUERIES: &[&Query] = &[$(&$id),*];
    };
}

queries! {
    INPUT_COUNTS = "input_counts.sql" [];
    REJECTS_BY_RULE = "rejects_by_rule.sql" [];
    FIRST_REJECTS = "first_rejects.sql" [];
    REGION_PARENTS = "region_parents.sql" [];
    BASE_YEAR_GDP = "base_year_gdp.sql" [];
    SUMMARY = "summary.sql" [];
    SILENT_MEMBERS = "silent_members.sql" [];
    UNJUDGED_TARGETS = "unjudged_targets.sql" [];
    BUDGET_WITHOUT_ENERGY = "budget_without_energy.sql" [];
    SUMMARY_GROUPS = "summary_groups.sql" [];
    BULLETIN_REGIONS = "bulletin_regions.sql" [];
    BULLETIN_TARGETS = "bulletin_targets.sql" [];
    BULLETIN_SECTORS = "bulletin_sectors.sql" [];
    BULLETIN_META = "bulletin_meta.sql" [];
    BULLETIN_REJECTS = "bulletin_rejects.sql" [];
    IMPACT_INDICATORS = "impact_indicators.sql" [];
    EXPLAIN_RUN_PARAMS = "explain_run_params.sql" [];
    EXPLAIN_REGION_YEARS = "explain_region_years.sql" [Text, Int, Int];
    EXPLAIN_GDP_CHAIN = "explain_gdp_chain.sql" [Text];
    EXPLAIN_BY_ENERGY = "explain_by_energy.sql" [Text, Int];
    EXPLAIN_BY_SECTOR = "explain_by_sector.sql" [Text, Int];
    EXPLAIN_TOP_ENTERPRISES = "explain_top_enterprises.sql" [Text, Int];
    EXPLAIN_FACTORS = "explain_factors.sql" [Text, Int];
    EXPLAIN_PROCESS_ROWS = "explain_process_rows.sql" [Text, Int];
    EXPLAIN_SINK_ROWS = "explain_sink_rows.sql" [Text, Int];
    EXPLAIN_CO2_YEARS = "explain_co2_years.sql" [Text, Int];
    EXPLAIN_SUBJECT_ROW = "explain_subject_row.sql" [Text, Text, Int];
    EXPLAIN_MEMBER_BY_ENERGY = "explain_member_by_energy.sql" [Text, Text, Int];
    EXPLAIN_MEMBER_TOP = "explain_member_top.sql" [Text, Text, Int];
    EXPLAIN_MEMBER_FACTORS = "explain_member_factors.sql" [Text, Text, Int];
    EXPLAIN_MEMBER_PROCESS_ROWS = "explain_member_process_rows.sql" [Text, Text, Int];
    EXPLAIN_MEMBER_GREEN_ROWS = "explain_member_green_rows.sql" [Text, Text, Int];
    PUBLISHED_REGION_YEARS = "published_region_years.sql" [Text, Int, Int];
    PUBLISHED_GDP_CHAIN = "published_gdp_chain.sql" [Text];
    PUBLISHED_REGION_BELOW = "published_region_below.sql" [Text, Int];
    PUBLISHED_BY_ENERGY = "published_by_energy.sql" [Int];
    PUBLISHED_BY_SECTOR = "published_by_sector.sql" [Int];
    PUBLISHED_TOP_REPORTERS = "published_top_reporters.sql" [Int];
    PUBLISHED_FACTORS = "published_factors.sql" [Int];
    PUBLISHED_BUDGET_ROWS = "published_budget_rows.sql" [Text, Int, Text];
    PUBLISHED_MEMBER_BY_ENERGY = "published_member_by_energy.sql" [Text, Text, Int];
    PUBLISHED_MEMBER_TOP = "published_member_top.sql" [Text, Text, Int];
    PUBLISHED_MEMBER_FACTORS = "published_member_factors.sql" [Text, Text, Int];
    PUBLISHED_MEMBER_PROCESS_ROWS = "published_member_process_rows.sql" [Text, Text, Int];
    PUBLISHED_MEMBER_GREEN_ROWS = "published_member_green_rows.sql" [Text, Text, Int];
}

impl Query {
    /// Run the query with `values` bound to `$1`, `$2` … and collect its rows.
    pub(crate) async fn collect(
        &self,
        ctx: &SessionContext,
        values: &[ScalarValue],
    ) -> Result<Vec<RecordBatch>> {
        let step = format!("sql/queries/{}", self.name);
        if values.len() != self.params.len()
            || !self.params.iter().zip(values).all(|(p, v)| p.accepts(v))
        {
            return Err(Error::Internal(format!(
                "{step} takes parameters {:?}, given {:?}",
                self.params,
                values
                    .iter()
                    .map(ScalarValue::data_type)
                    .collect::<Vec<_>>()
            )));
        }
        let wrap = |source| Error::sql(step.clone(), source);
        let read_only = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        let frame = ctx
            .sql_with_options(self.sql, read_only)
            .await
            .map_err(wrap)?
            .with_param_values(values.to_vec())
            .map_err(wrap)?;
        let plan = frame.create_physical_plan().await.map_err(wrap)?;
        let rows = datafusion::physical_plan::collect(plan.clone(), ctx.task_ctx()).await;
        // CARBONSTAT_EXPLAIN_ANALYZE=1: the plan with its metrics, also of a
        // query that failed (where it stopped, what it held)
        show_analyzed(plan.as_ref(), || match &rows {
            Ok(_) => step.clone(),
            Err(_) => format!("{step} (failed)"),
        });
        rows.map_err(wrap)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use datafusion::sql::parser::{DFParser, Statement};
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

    use super::*;

    /// Every file parses as exactly one query (a broken query fails here, not
    /// in a user's run).
    #[test]
    fn every_query_parses_as_one_select() {
        for q in QUERIES {
            let statements = DFParser::parse_sql(q.sql)
                .unwrap_or_else(|e| panic!("sql/queries/{}: {e}", q.name));
            assert_eq!(statements.len(), 1, "sql/queries/{}", q.name);
            assert!(
                matches!(&statements[0], Statement::Statement(s)
                    if matches!(**s, datafusion::sql::sqlparser::ast::Statement::Query(_))),
                "sql/queries/{} is not a query",
                q.name
            );
        }
    }

    /// The placeholders of a file are $1 … $n for its n declared parameters
    /// (comments do not count: the tokenizer reads them as whitespace).
    #[test]
    fn placeholders_match_the_declared_parameters() {
        for q in QUERIES {
            let tokens = Tokenizer::new(&GenericDialect {}, q.sql)
                .tokenize()
                .unwrap_or_else(|e| panic!("sql/queries/{}: {e}", q.name));
            let used: BTreeSet<String> = tokens
                .into_iter()
                .filter_map(|t| match t {
                    Token::Placeholder(p) => Some(p),
                    _ => None,
                })
                .collect();
            let declared: BTreeSet<String> =
                (1..=q.params.len()).map(|i| format!("${i}")).collect();
            assert_eq!(used, declared, "sql/queries/{}", q.name);
        }
    }

    /// Every file of sql/queries/ is one of the queries (none is left unread
    /// by the tests above).
    #[test]
    fn every_file_is_listed() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sql/queries");
        let files: BTreeSet<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let listed: BTreeSet<String> = QUERIES.iter().map(|q| q.name.to_string()).collect();
        assert_eq!(files, listed);
    }

    /// Values bind as parameters: a quote in a value is data, not SQL.
    #[tokio::test]
    async fn values_are_bound_not_spliced() {
        let ctx = SessionContext::new();
        ctx.sql("CREATE TABLE regions_ok (region_code VARCHAR, parent_code VARCHAR) AS VALUES ('15''06', NULL)")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let q = Query {
            name: "test",
            sql: "SELECT count(*) AS n FROM regions_ok WHERE region_code = $1",
            params: &[Param::Text],
        };
        let count = |batches: Vec<RecordBatch>| {
            use datafusion::arrow::array::AsArray;
            use datafusion::arrow::datatypes::Int64Type;
            batches[0].column(0).as_primitive::<Int64Type>().value(0)
        };
        let quoted = ScalarValue::from("15'06");
        assert_eq!(count(q.collect(&ctx, &[quoted]).await.unwrap()), 1);
        let injected = ScalarValue::from("x' OR '1' = '1");
        assert_eq!(count(q.collect(&ctx, &[injected]).await.unwrap()), 0);
    }

    /// A value of the wrong type or number is refused before planning.
    #[tokio::test]
    async fn parameters_of_another_type_are_refused() {
        let ctx = SessionContext::new();
        let e = EXPLAIN_GDP_CHAIN
            .collect(&ctx, &[ScalarValue::Int32(Some(150622))])
            .await
            .unwrap_err();
        assert!(e.to_string().contains("explain_gdp_chain.sql"), "{e}");
        let e = EXPLAIN_BY_ENERGY
            .collect(&ctx, &[ScalarValue::from("150622")])
            .await
            .unwrap_err();
        assert!(e.to_string().contains("takes parameters"), "{e}");
    }
}
