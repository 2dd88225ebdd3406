//! `lookup('table', key1, …, keyN)`: the row of a small table whose first N
//! columns equal the keys, as a struct of its other columns (NULL when no row
//! matches or a key is NULL). It is what
//!
//! ```sql
//! SELECT r.*, t.* EXCLUDE (<key columns>)
//! FROM r LEFT JOIN table t ON t.k1 = r.key1 AND … AND t.kN = r.keyN
//! ```
//!
//! gives when the keys are unique, done as a hash probe per row instead of a
//! join: a join copies every column of the (wide) record row into its output
//! batch, a lookup builds only the looked-up columns (figures in
//! docs/benchmarks.md, "Why the code is shaped this way").
//!
//! The table is read into memory when a statement that calls `lookup` on it is
//! planned (`crate::engine::steps::run_sql` finds the calls in the statement) and is
//! forgotten when a statement replaces it. Its key columns are text or
//! integers; a key that appears twice is an error (a join would repeat the
//! row), rows with a NULL key are never matched (as in a join).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Arc, RwLock};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, StringViewArray, StructArray, UInt32Array,
};
use datafusion::arrow::compute::{cast, concat_batches, take};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Int64Type, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::{ScalarValue, exec_err, internal_err, plan_err};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Value, visit_expressions,
};

/// The tables `lookup` can read, by (table name, number of key columns).
#[derive(Debug, Default)]
pub(crate) struct Lookups {
    tables: RwLock<HashMap<(String, usize), Arc<LookupTable>>>,
    /// On a cluster (`per_call`): for each table, a `Lookups` of that table
    /// alone, which a call naming it is planned with (`LookupUdf::simplify`),
    /// so that a plan carries each call's own table rather than every table
    /// read so far; one per table, so that equal calls stay equal.
    one_table: RwLock<Option<HashMap<TableId, Arc<Lookups>>>>,
    /// On a cluster: the directory every process reaches (the run's table
    /// directory) where a plan's tables are written once and named by
    /// reference, and the references written or read so far (feature
    /// `distributed`, `engine::cluster`'s codecs).
    stored_in: RwLock<Option<std::path::PathBuf>>,
    refs: RwLock<HashMap<TableId, TableRef>>,
}

/// A lookup table as a cluster's plan names it instead of carrying its
/// rows: its name and number of keys, the Arrow IPC file holding its rows in
/// the run's table directory, and that file's SHA-256 (checked by every
/// process that reads it).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct TableRef {
    pub name: String,
    pub keys: usize,
    pub path: std::path::PathBuf,
    pub sha256: String,
}

/// A lookup table's name and number of key columns.
type TableId = (String, usize);

impl Lookups {
    /// Read `table` into memory with its first `keys` columns as the key,
    /// unless it is already there.
    pub(crate) async fn load(
        &self,
        ctx: &SessionContext,
        table: &str,
        keys: usize,
    ) -> DfResult<()> {
        let id = (table.to_string(), keys);
        if self
            .tables
            .read()
            .expect("lookup registry")
            .contains_key(&id)
        {
            return Ok(());
        }
        let df = ctx.table(table).await?;
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await?;
        let batch = concat_batches(&schema, &batches)?;
        tracing::debug!(table, keys, rows = batch.num_rows(), "lookup table loaded");
        self.insert(table, batch, keys)
    }

    /// Drop what was read of `table` (it is being replaced).
    pub(crate) fn forget(&self, table: &str) {
        self.tables
            .write()
            .expect("lookup registry")
            .retain(|(name, _), _| name != table);
        if let Some(one) = self.one_table.write().expect("lookup registry").as_mut() {
            one.retain(|(name, _), _| name != table);
        }
    }

    /// Plan every call with its own table only (a session on a cluster,
    /// whose plans carry the tables; feature `distributed`); those tables are
    /// written once into `stored_in` and their plans name the file.
    #[cfg_attr(not(feature = "distributed"), allow(dead_code))]
    pub(crate) fn per_call(&self, stored_in: Option<std::path::PathBuf>) {
        self.one_table
            .write()
            .expect("lookup registry")
            .get_or_insert_with(HashMap::new);
        *self.stored_in.write().expect("lookup registry") = stored_in;
    }

    /// Where this registry's tables are written for a cluster's plans.
    #[cfg_attr(not(feature = "distributed"), allow(dead_code))]
    pub(crate) fn stored_in(&self) -> Option<std::path::PathBuf> {
        self.stored_in.read().expect("lookup registry").clone()
    }

    /// The reference a plan gives for table `id`, once written or read.
    #[cfg_attr(not(feature = "distributed"), allow(dead_code))]
    pub(crate) fn table_ref(&self, id: &(String, usize)) -> Option<TableRef> {
        self.refs.read().expect("lookup registry").get(id).cloned()
    }

    #[cfg_attr(not(feature = "distributed"), allow(dead_code))]
    pub(crate) fn set_ref(&self, r: TableRef) {
        self.refs
            .write()
            .expect("lookup registry")
            .insert((r.name.clone(), r.keys), r);
    }

    /// The `Lookups` of `table` alone, when calls are planned per call and
    /// this one holds more than that table.
    fn only(&self, table: &str, keys: usize) -> Option<Arc<Lookups>> {
        let id = (table.to_string(), keys);
        // a local session: no lock taken for writing
        self.one_table.read().expect("lookup registry").as_ref()?;
        let mut guard = self.one_table.write().expect("lookup registry");
        let one = guard.as_mut()?;
        if let Some(l) = one.get(&id) {
            return Some(l.clone());
        }
        let loaded = self.get(table, keys)?;
        let alone = Arc::new(Lookups {
            tables: RwLock::new(HashMap::from([(id.clone(), loaded)])),
            one_table: RwLock::new(None),
            stored_in: RwLock::new(self.stored_in()),
            refs: RwLock::default(),
        });
        one.insert(id, alone.clone());
        Some(alone)
    }

    /// Every table read so far, (name, number of keys) and its rows: what a
    /// plan sent to a cluster carries (feature `distributed`).
    #[cfg_attr(not(feature = "distributed"), allow(dead_code))]
    pub(crate) fn snapshot(&self) -> Vec<((String, usize), RecordBatch)> {
        let mut out: Vec<_> = self
            .tables
            .read()
            .expect("lookup registry")
            .iter()
            .map(|(id, t)| (id.clone(), t.batch.clone()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Add a table from its rows (read by `load`, or decoded from a plan on
    /// a cluster's process).
    pub(crate) fn insert(&self, table: &str, batch: RecordBatch, keys: usize) -> DfResult<()> {
        let loaded = LookupTable::new(table, batch, keys)?;
        self.tables
            .write()
            .expect("lookup registry")
            .insert((table.to_string(), keys), Arc::new(loaded));
        Ok(())
    }

    fn get(&self, table: &str, keys: usize) -> Option<Arc<LookupTable>> {
        self.tables
            .read()
            .expect("lookup registry")
            .get(&(table.to_string(), keys))
            .cloned()
    }
}

/// The `lookup(…)` calls of a SQL statement: (table, number of keys) for each
/// call whose first argument is a string literal.
pub(crate) fn calls_in(statement: &datafusion::sql::parser::Statement) -> Vec<(String, usize)> {
    let mut found = Vec::new();
    let datafusion::sql::parser::Statement::Statement(s) = statement else {
        return found;
    };
    let _ = visit_expressions(s.as_ref(), |e: &Expr| {
        if let Expr::Function(f) = e
            && f.name.to_string().eq_ignore_ascii_case("lookup")
            && let FunctionArguments::List(list) = &f.args
            && let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Value(v)))) =
                list.args.first()
            && let Value::SingleQuotedString(table) = &v.value
        {
            found.push((table.clone(), list.args.len() - 1));
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    found.sort();
    found.dedup();
    found
}

/// A key column, in the one layout per kind that both sides are compared in.
enum KeyColumn {
    Text(StringViewArray),
    Int(Int64Array),
}

impl KeyColumn {
    fn new(a: &ArrayRef) -> DfResult<KeyColumn> {
        Ok(match key_kind(a.data_type()) {
            Some(KeyKind::Text) => {
                KeyColumn::Text(cast(a, &DataType::Utf8View)?.as_string_view().clone())
            }
            Some(KeyKind::Int) => KeyColumn::Int(
                cast(a, &DataType::Int64)?
                    .as_primitive::<Int64Type>()
                    .clone(),
            ),
            None => return exec_err!("a lookup key is text or an integer, not {}", a.data_type()),
        })
    }

    fn kind(&self) -> KeyKind {
        match self {
            KeyColumn::Text(_) => KeyKind::Text,
            KeyColumn::Int(_) => KeyKind::Int,
        }
    }

    fn is_null(&self, i: usize) -> bool {
        match self {
            KeyColumn::Text(a) => a.is_null(i),
            KeyColumn::Int(a) => a.is_null(i),
        }
    }

    // A string of up to 12 bytes lives in its 16-byte view (length, then the
    // bytes, zero-padded: the layout arrow's own comparisons rely on), so
    // short keys are hashed and compared as one u128 without reading them.
    fn hash_into(&self, i: usize, h: &mut impl Hasher) {
        match self {
            KeyColumn::Text(a) => {
                let view = a.views()[i];
                if (view as u32) <= 12 {
                    h.write_u128(view);
                } else {
                    a.value(i).hash(h);
                }
            }
            KeyColumn::Int(a) => h.write_i64(a.value(i)),
        }
    }

    fn equals(&self, i: usize, other: &KeyColumn, j: usize) -> bool {
        match (self, other) {
            (KeyColumn::Text(a), KeyColumn::Text(b)) => {
                let (x, y) = (a.views()[i], b.views()[j]);
                if (x as u32) <= 12 || (y as u32) <= 12 {
                    x == y
                } else {
                    a.value(i) == b.value(j)
                }
            }
            (KeyColumn::Int(a), KeyColumn::Int(b)) => a.value(i) == b.value(j),
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Text,
    Int,
}

fn key_kind(t: &DataType) -> Option<KeyKind> {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Some(KeyKind::Text),
        DataType::Dictionary(_, v) => key_kind(v).filter(|k| *k == KeyKind::Text),
        t if t.is_integer() => Some(KeyKind::Int),
        _ => None,
    }
}

/// One table read for lookups: its rows, an index from key to row, and the
/// struct its other columns make.
struct LookupTable {
    batch: RecordBatch,
    keys: Vec<KeyColumn>,
    index: hashbrown::HashTable<u32>,
    state: hashbrown::DefaultHashBuilder,
    values: Fields,
}

impl std::fmt::Debug for LookupTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LookupTable")
            .field("rows", &self.batch.num_rows())
            .field(
                "keys",
                &self.keys.iter().map(KeyColumn::kind).collect::<Vec<_>>(),
            )
            .field("values", &self.values)
            .finish()
    }
}

impl LookupTable {
    fn new(name: &str, batch: RecordBatch, keys: usize) -> DfResult<LookupTable> {
        let schema = batch.schema();
        if keys == 0 || keys >= schema.fields().len() {
            return plan_err!(
                "lookup('{name}', …) needs 1 to {} key arguments: the table has {} columns and the keys are its first ones",
                schema.fields().len().saturating_sub(1),
                schema.fields().len()
            );
        }
        let key_columns = batch.columns()[..keys]
            .iter()
            .map(KeyColumn::new)
            .collect::<DfResult<Vec<_>>>()?;
        if batch.num_rows() > u32::MAX as usize {
            return plan_err!("{} rows are too many for a lookup table", batch.num_rows());
        }
        let state = hashbrown::DefaultHashBuilder::default();
        let mut index = hashbrown::HashTable::with_capacity(batch.num_rows());
        for row in 0..batch.num_rows() {
            let Some(hash) = row_hash(&state, &key_columns, row) else {
                continue;
            };
            let same = |&other: &u32| key_columns.iter().all(|k| k.equals(row, k, other as usize));
            if let Some(&first) = index.find(hash, same) {
                let shown = schema.fields()[..keys]
                    .iter()
                    .zip(batch.columns())
                    .map(|(f, c)| {
                        let v = ScalarValue::try_from_array(c, row)
                            .map_or_else(|_| "?".to_string(), |v| v.to_string());
                        format!("{}={v}", f.name())
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                return plan_err!(
                    "lookup table {name}: key ({shown}) is on rows {} and {}: a lookup needs one row per key",
                    first + 1,
                    row + 1
                );
            }
            let rehash = |&r: &u32| row_hash(&state, &key_columns, r as usize).unwrap_or(0);
            index.insert_unique(hash, row as u32, rehash);
        }
        let values = schema.fields()[keys..]
            .iter()
            .map(|f| Arc::new(f.as_ref().clone().with_nullable(true)))
            .collect::<Fields>();
        Ok(LookupTable {
            batch,
            keys: key_columns,
            index,
            state,
            values,
        })
    }

    /// The row of every probe row (NULL when none matches).
    fn rows_of(&self, probe: &[KeyColumn], n: usize) -> UInt32Array {
        let mut out = UInt32Array::builder(n);
        // records come in runs (an enterprise's months share its region):
        // a row with the keys of the row before it gets that row's answer
        let mut previous: Option<(usize, Option<u32>)> = None;
        for i in 0..n {
            if let Some((p, answer)) = previous
                && probe.iter().all(|k| !k.is_null(i) && k.equals(i, k, p))
            {
                out.append_option(answer);
                continue;
            }
            let Some(hash) = row_hash(&self.state, probe, i) else {
                out.append_null();
                continue;
            };
            let found = self
                .index
                .find(hash, |&r| {
                    self.keys
                        .iter()
                        .zip(probe)
                        .all(|(t, p)| t.equals(r as usize, p, i))
                })
                .copied();
            previous = Some((i, found));
            out.append_option(found);
        }
        out.finish()
    }
}

/// The hash of row `i`'s keys, None when one is NULL.
fn row_hash(state: &impl BuildHasher, keys: &[KeyColumn], i: usize) -> Option<u64> {
    if keys.iter().any(|k| k.is_null(i)) {
        return None;
    }
    let mut h = state.build_hasher();
    for k in keys {
        k.hash_into(i, &mut h);
    }
    Some(h.finish())
}

/// The `lookup` UDF of a session.
#[derive(Debug)]
pub(crate) struct LookupUdf {
    lookups: Arc<Lookups>,
    signature: Signature,
}

impl PartialEq for LookupUdf {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.lookups, &other.lookups)
    }
}

impl Eq for LookupUdf {}

impl Hash for LookupUdf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (Arc::as_ptr(&self.lookups) as usize).hash(state);
    }
}

impl LookupUdf {
    /// The tables this function reads.
    #[cfg_attr(not(feature = "distributed"), allow(dead_code))]
    pub(crate) fn lookups(&self) -> &Arc<Lookups> {
        &self.lookups
    }

    /// The table a call names (its first argument, a string literal).
    fn table(
        &self,
        name: Option<&ScalarValue>,
        keys: usize,
    ) -> DfResult<(String, Arc<LookupTable>)> {
        let Some(ScalarValue::Utf8(Some(t)) | ScalarValue::Utf8View(Some(t))) = name else {
            return plan_err!(
                "lookup: the first argument is the name of a table as a string literal, e.g. lookup('region_lookup', region_code)"
            );
        };
        match self.lookups.get(t, keys) {
            Some(table) => Ok((t.clone(), table)),
            None => plan_err!(
                "lookup('{t}', …) with {keys} key(s): the table is not loaded (lookup tables are read when a SQL step statement that calls lookup is run)"
            ),
        }
    }
}

impl ScalarUDFImpl for LookupUdf {
    fn name(&self) -> &str {
        "lookup"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        internal_err!("lookup's type comes from return_field_from_args")
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> DfResult<FieldRef> {
        let keys = args.arg_fields.len().saturating_sub(1);
        let (name, table) = self.table(args.scalar_arguments.first().copied().flatten(), keys)?;
        for (i, (arg, key)) in args.arg_fields[1..].iter().zip(&table.keys).enumerate() {
            let kind = key.kind();
            if key_kind(arg.data_type()) != Some(kind) && arg.data_type() != &DataType::Null {
                return plan_err!(
                    "lookup('{name}', …): key {} is {} but the table's column {} is {:?} (text or integer)",
                    i + 1,
                    arg.data_type(),
                    table.batch.schema().field(i).name(),
                    kind
                );
            }
        }
        Ok(Arc::new(Field::new(
            "lookup",
            DataType::Struct(table.values.clone()),
            true,
        )))
    }

    /// On a cluster, a call is planned with a function that holds only the
    /// table it names (see `Lookups::per_call`); elsewhere it stays as it is.
    fn simplify(
        &self,
        args: Vec<datafusion::logical_expr::Expr>,
        _info: &datafusion::logical_expr::simplify::SimplifyContext,
    ) -> DfResult<datafusion::logical_expr::simplify::ExprSimplifyResult> {
        use datafusion::logical_expr::simplify::ExprSimplifyResult;
        let table = match args.first() {
            Some(datafusion::logical_expr::Expr::Literal(
                ScalarValue::Utf8(Some(t)) | ScalarValue::Utf8View(Some(t)),
                _,
            )) => t.clone(),
            _ => return Ok(ExprSimplifyResult::Original(args)),
        };
        let Some(alone) = self.lookups.only(&table, args.len() - 1) else {
            return Ok(ExprSimplifyResult::Original(args));
        };
        let udf = Arc::new(lookup_udf(alone));
        Ok(ExprSimplifyResult::Simplified(
            datafusion::logical_expr::Expr::ScalarFunction(
                datafusion::logical_expr::expr::ScalarFunction::new_udf(udf, args),
            ),
        ))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let n = args.number_rows;
        let keys = args.args.len().saturating_sub(1);
        let name = match args.args.first() {
            Some(ColumnarValue::Scalar(s)) => Some(s.clone()),
            _ => None,
        };
        let (_, table) = self.table(name.as_ref(), keys)?;
        let probe = args.args[1..]
            .iter()
            .map(|a| {
                let a = a.to_array(n)?;
                if a.data_type() == &DataType::Null {
                    // an all-NULL key matches nothing
                    return Ok(KeyColumn::Int(Int64Array::new_null(n)));
                }
                KeyColumn::new(&a)
            })
            .collect::<DfResult<Vec<_>>>()?;
        let rows = table.rows_of(&probe, n);
        let columns = table.batch.columns()[keys..]
            .iter()
            .map(|c| take(c.as_ref(), &rows, None))
            .collect::<std::result::Result<Vec<ArrayRef>, _>>()?;
        let out = StructArray::try_new(table.values.clone(), columns, rows.nulls().cloned())?;
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// The `lookup` UDF reading from `lookups`.
pub(crate) fn lookup_udf(lookups: Arc<Lookups>) -> ScalarUDF {
    ScalarUDF::new_from_impl(LookupUdf {
        lookups,
        signature: Signature::variadic_any(Volatility::Stable),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int32Array, StringArray};
    use datafusion::sql::parser::DFParser;

    fn session() -> (SessionContext, Arc<Lookups>) {
        let ctx = SessionContext::new();
        let lookups = Arc::new(Lookups::default());
        ctx.register_udf(lookup_udf(lookups.clone()));
        (ctx, lookups)
    }

    fn register(ctx: &SessionContext, name: &str, columns: Vec<(&str, ArrayRef)>) {
        let batch = RecordBatch::try_from_iter(columns).unwrap();
        ctx.register_batch(name, batch).unwrap();
    }

    /// A table `name(k, v)` with the text keys `k` and v = 1, 2, … in order.
    fn keyed(ctx: &SessionContext, name: &str, keys: &[&str]) {
        let v = (1..=keys.len() as i32).collect::<Vec<_>>();
        register(
            ctx,
            name,
            vec![
                ("k", Arc::new(StringArray::from(keys.to_vec()))),
                ("v", Arc::new(Int32Array::from(v))),
            ],
        );
    }

    async fn run(ctx: &SessionContext, lookups: &Lookups, sql: &str) -> DfResult<Vec<RecordBatch>> {
        for s in DFParser::parse_sql(sql).unwrap() {
            for (t, k) in calls_in(&s) {
                lookups.load(ctx, &t, k).await?;
            }
        }
        ctx.sql(sql).await?.collect().await
    }

    /// The result of `sql` as a printed table.
    async fn shown(ctx: &SessionContext, lookups: &Lookups, sql: &str) -> String {
        let batches = run(ctx, lookups, sql).await.unwrap();
        datafusion::arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string()
    }

    #[tokio::test]
    async fn lookup_is_a_left_join_on_unique_keys() {
        let (ctx, lookups) = session();
        register(
            &ctx,
            "f",
            vec![
                (
                    "p",
                    Arc::new(StringArray::from(vec![
                        Some("35"),
                        Some("35"),
                        Some("11"),
                        None,
                    ])),
                ),
                (
                    "y",
                    Arc::new(Int32Array::from(vec![2023, 2024, 2024, 2024])),
                ),
                ("v", Arc::new(Int32Array::from(vec![1, 2, 3, 4]))),
            ],
        );
        register(
            &ctx,
            "r",
            // runs of equal keys, a run that changes one key of two, NULLs
            vec![
                (
                    "p",
                    Arc::new(StringArray::from(vec![
                        Some("35"),
                        Some("35"),
                        Some("35"),
                        Some("11"),
                        Some("12"),
                        Some("12"),
                        None,
                        None,
                        Some("35"),
                    ])),
                ),
                (
                    "y",
                    Arc::new(Int32Array::from(vec![
                        Some(2024),
                        Some(2024),
                        Some(2023),
                        Some(2024),
                        Some(2024),
                        Some(2024),
                        Some(2024),
                        Some(2024),
                        None,
                    ])),
                ),
            ],
        );
        let got = shown(
            &ctx,
            &lookups,
            "SELECT p, y, get_field(lookup('f', p, CAST(y AS BIGINT)), 'v') AS v FROM r ORDER BY p, y",
        )
        .await;
        let joined = shown(
            &ctx,
            &lookups,
            "SELECT r.p, r.y, f.v FROM r LEFT JOIN f ON f.p = r.p AND f.y = r.y ORDER BY r.p, r.y",
        )
        .await;
        assert_eq!(got, joined);
        assert!(got.contains("| 35 | 2024 | 2 |"), "{got}");
        assert!(got.contains("| 12 | 2024 |   |"), "{got}");
        // the row after a run of (35, 2024) changes the year only
        assert!(got.contains("| 35 | 2023 | 1 |"), "{got}");
    }

    #[tokio::test]
    async fn short_and_long_text_keys_match_by_value() {
        let (ctx, lookups) = session();
        keyed(
            &ctx,
            "t",
            &[
                "short",
                "a key longer than twelve",
                "twelve bytes",
                "thirteen byte",
            ],
        );
        // keys built at run time, in other buffers than the table's
        let got = shown(
            &ctx,
            &lookups,
            "SELECT get_field(lookup('t', concat('sho', 'rt')), 'v') AS a,
                get_field(lookup('t', concat('a key longer', ' than twelve')), 'v') AS b,
                get_field(lookup('t', concat('twelve', ' bytes')), 'v') AS c,
                get_field(lookup('t', concat('thirteen', ' byte')), 'v') AS d,
                get_field(lookup('t', concat('a key longer', ' than twelvE')), 'v') AS e,
                get_field(lookup('t', 'shor'), 'v') AS f",
        )
        .await;
        assert!(got.contains("| 1 | 2 | 3 | 4 |   |   |"), "{got}");
    }

    #[tokio::test]
    async fn a_repeated_key_is_an_error_naming_the_rows() {
        let (ctx, lookups) = session();
        keyed(&ctx, "t", &["a", "b", "a"]);
        let e = lookups.load(&ctx, "t", 1).await.unwrap_err().to_string();
        assert!(e.contains("k=a") && e.contains("rows 1 and 3"), "{e}");
    }

    #[tokio::test]
    async fn wrong_calls_are_plan_errors() {
        let (ctx, lookups) = session();
        keyed(&ctx, "t", &["a"]);
        // not loaded: no statement named it
        let e = ctx
            .sql("SELECT lookup('t', 'a')")
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("not loaded"), "{e}");
        // a float key against a text column
        let e = run(&ctx, &lookups, "SELECT lookup('t', 1.5)")
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("key 1 is Float64"), "{e}");
        // as many keys as columns: nothing left to return
        let e = run(&ctx, &lookups, "SELECT lookup('t', 'a', 1)")
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("1 to 1 key arguments"), "{e}");
        // the table named by a column, not a literal
        let e = ctx
            .sql("SELECT lookup(k, k) FROM t")
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("string literal"), "{e}");
    }

    #[test]
    fn calls_are_found_in_views_and_subqueries() {
        let s = DFParser::parse_sql(
            "CREATE VIEW x AS SELECT lookup('a', k)['v'] FROM (SELECT k FROM t WHERE lookup('b', k, y) IS NULL)",
        )
        .unwrap();
        assert_eq!(
            calls_in(&s[0]),
            vec![("a".to_string(), 1), ("b".to_string(), 2)]
        );
    }
}
