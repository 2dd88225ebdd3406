//! What the engine reports of a finished plan: rows, spilled bytes, and
//! `CARBONSTAT_EXPLAIN_ANALYZE=1`'s plans with their metrics.

/// Rows a finished plan produced (its root operator's output); None when
/// the root operator keeps no count (a ScalarSubqueryExec).
pub(crate) fn output_rows(plan: &dyn datafusion::physical_plan::ExecutionPlan) -> Option<usize> {
    plan.metrics().and_then(|m| m.output_rows())
}

/// `CARBONSTAT_EXPLAIN_ANALYZE=1`: print every materialised statement's
/// physical plan with its metrics (rows, time per operator, spills) to stderr,
/// as `EXPLAIN ANALYZE` would, while the run goes on as usual; and so for
/// every published dataset's query (crate::publish::write::write_dataset).
pub(crate) fn explain_analyze() -> bool {
    std::env::var_os("CARBONSTAT_EXPLAIN_ANALYZE").is_some_and(|v| v != "0" && !v.is_empty())
}

/// With [`explain_analyze`]: print a finished plan with its metrics under
/// `-- title`.
pub(crate) fn show_analyzed(
    plan: &dyn datafusion::physical_plan::ExecutionPlan,
    title: impl FnOnce() -> String,
) {
    if explain_analyze() {
        let shown =
            datafusion::physical_plan::display::DisplayableExecutionPlan::with_metrics(plan)
                .indent(true);
        eprintln!("-- {}\n{shown}", title());
    }
}

/// Bytes the operators of a finished plan spilled to disk.
pub(crate) fn spilled_bytes(plan: &dyn datafusion::physical_plan::ExecutionPlan) -> usize {
    plan.metrics().and_then(|m| m.spilled_bytes()).unwrap_or(0)
        + plan
            .children()
            .iter()
            .map(|c| spilled_bytes(c.as_ref()))
            .sum::<usize>()
}
