//! Floor measurement for issue 21 (docs/benchmarks.md, session 16), not part
//! of the product: one pass over the records' Parquet files doing the
//! mechanics a fused records operator would do — decode the text columns,
//! intern the key columns to integer codes, parse year, month and quantity,
//! look up a coefficient by integer index, compute five fixed-point amounts
//! and sum them per year key in a hash map — without the row rules and with
//! made-up coefficients (its sums mean nothing). It answers how many
//! nanoseconds per row such a pass costs on a machine:
//!
//!   cargo build --release --features distributed --example records_floor
//!   $CARGO_TARGET_DIR/release/examples/records_floor DIR_OF_PARQUET_FILES [threads]
//!
//! (the files of `carbonstat sample --format parquet`: each thread takes
//! every n-th file; a file is one year, so the threads' keys do not overlap).
use datafusion::arrow::array::{AsArray, RecordBatch, StringArray};
use hashbrown::HashMap;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::time::Instant;

#[derive(Default, Clone, Copy)]
struct State {
    q: i128,
    tce: i128,
    tce_eq: i128,
    co2d: i128,
    co2i: i128,
    records: u32,
    months: u32,
    msum: u32,
    mor: u32,
    name: u32,
}

/// Interns strings, with a one-entry cache for runs of equal values.
#[derive(Default)]
struct Interner {
    map: HashMap<String, u32>,
    last: String,
    last_code: Option<u32>,
}

impl Interner {
    fn code(&mut self, s: &str) -> u32 {
        if let Some(c) = self.last_code
            && self.last == s
        {
            return c;
        }
        let n = self.map.len() as u32;
        let c = *self.map.entry_ref(s).or_insert(n);
        self.last.clear();
        self.last.push_str(s);
        self.last_code = Some(c);
        c
    }
}

fn parse_int(s: &str) -> Option<u32> {
    s.trim().parse().ok()
}

/// A text column of a batch (panics if it is not Utf8: the files of
/// `carbonstat sample` hold text only).
fn text<'a>(b: &'a RecordBatch, name: &str) -> &'a StringArray {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_string::<i32>()
}

/// An amount as fixed-point millionths (DECIMAL(38, 6) in the product).
fn fixed(v: f64) -> i128 {
    (v * 1e6).round() as i128
}

type Key = (u32, u32, u32, u16, u16, u8, u8);

fn run_file(
    path: &std::path::Path,
    agg: &mut HashMap<Key, State>,
    it: &mut [Interner; 8],
) -> usize {
    let f = std::fs::File::open(path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .with_batch_size(8192)
        .build()
        .unwrap();
    let mut rows = 0;
    for b in reader {
        let b = b.unwrap();
        rows += b.num_rows();
        let (ent, name, reg, sec, year, month, energy, usec, flow, qty, unit) = (
            text(&b, "enterprise_id"),
            text(&b, "enterprise_name"),
            text(&b, "region_code"),
            text(&b, "sector_code"),
            text(&b, "year"),
            text(&b, "month"),
            text(&b, "energy_code"),
            text(&b, "use"),
            text(&b, "flow"),
            text(&b, "quantity"),
            text(&b, "unit"),
        );
        for i in 0..b.num_rows() {
            let e = it[0].code(ent.value(i).trim());
            let nm = it[1].code(name.value(i).trim());
            let r = it[2].code(reg.value(i).trim());
            let s = it[3].code(sec.value(i).trim());
            let en = it[4].code(energy.value(i).trim());
            let u = it[5].code(usec.value(i).trim());
            let fl = it[6].code(flow.value(i).trim());
            let un = it[7].code(unit.value(i).trim());
            let (Some(y), m) = (parse_int(year.value(i)), parse_int(month.value(i))) else {
                continue;
            };
            let Ok(q) = qty.value(i).trim().parse::<f64>() else {
                continue;
            };
            // a made-up coefficient per energy, unit and year: an index, as a
            // factor table keyed by codes would be
            let c = 0.1 + (((en as usize) * 7 + un as usize + y as usize) % 64) as f64 * 0.01;
            let sign = if fl == 1 { -1.0 } else { 1.0 };
            let qb = q * c;
            let st = agg
                .entry((e, r, s, y as u16, en as u16, u as u8, fl as u8))
                .or_default();
            st.q += fixed(qb);
            st.tce += fixed(sign * qb * c);
            st.tce_eq += fixed(sign * qb * c * 1.01);
            st.co2d += fixed(sign * qb * 2.5 * if u == 0 { 1.0 } else { 0.0 });
            st.co2i += fixed(sign * qb / 10.0 * 0.58);
            st.records += 1;
            if let Some(m) = m {
                st.months += 1;
                st.msum += 1 << m;
                st.mor |= 1 << m;
            }
            st.name = st.name.min(nm);
        }
    }
    rows
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .expect("usage: records_floor DIR [threads]");
    let threads: usize = std::env::args()
        .nth(2)
        .map(|t| t.parse().unwrap())
        .unwrap_or(2);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    files.sort();
    let t0 = Instant::now();
    let chunks: Vec<Vec<_>> = (0..threads)
        .map(|t| files.iter().skip(t).step_by(threads).cloned().collect())
        .collect();
    let handles: Vec<_> = chunks
        .into_iter()
        .map(|fs| {
            std::thread::spawn(move || {
                let mut agg = HashMap::new();
                let mut it: [Interner; 8] = Default::default();
                let rows: usize = fs.iter().map(|f| run_file(f, &mut agg, &mut it)).sum();
                (rows, agg.len(), t0.elapsed())
            })
        })
        .collect();
    let mut total = 0;
    for h in handles {
        let (rows, groups, el) = h.join().unwrap();
        println!(
            "thread: {rows} rows, {groups} groups, {:.2} s",
            el.as_secs_f64()
        );
        total += rows;
    }
    let el = t0.elapsed().as_secs_f64();
    println!(
        "{total} rows in {el:.2} s: {:.2} M rows/s, {:.0} ns per row per thread",
        total as f64 / el / 1e6,
        el * threads as f64 / total as f64 * 1e9
    );
}
