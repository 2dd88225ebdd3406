//! A synthetic national dataset for benchmarks and tests (`carbonstat sample`):
//! provinces → cities → counties → towns, enterprises of realistic kinds with
//! their energy mixes, monthly records, GDP with real indices, sector
//! statistics and targets. Seeded and deterministic; streamed (each
//! enterprise's attributes come from a hash of the seed and its number, so
//! memory does not grow with the number of enterprises).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::parquet::arrow::ArrowWriter;

use crate::engine::ids::uscc_check_char;
use crate::error::{Error, Result};

/// Province codes (GB/T 2260) used in order.
const PROVINCES: &[(&str, &str)] = &[
    ("150000", "内蒙古自治区"),
    ("140000", "山西省"),
    ("130000", "河北省"),
    ("410000", "河南省"),
    ("360000", "江西省"),
    ("530000", "云南省"),
    ("370000", "山东省"),
    ("320000", "江苏省"),
    ("440000", "广东省"),
    ("510000", "四川省"),
    ("610000", "陕西省"),
    ("210000", "辽宁省"),
    ("330000", "浙江省"),
    ("340000", "安徽省"),
    ("420000", "湖北省"),
    ("430000", "湖南省"),
];
const CITIES_PER_PROVINCE: u64 = 8;
const COUNTIES_PER_CITY: u64 = 6;
const TOWNS_PER_COUNTY: u64 = 4;

/// (sector, share in 1000, [(energy, use, flow, unit, monthly quantity scale)]).
/// Power plants are 2 % of the enterprises (a county of 50 reporting
/// enterprises has one): more made most counties net exporters of
/// electricity, with a negative CO2 under the net-import rule.
type Stream = (&'static str, &'static str, &'static str, &'static str, f64);
const KINDS: &[(&str, u64, &[Stream])] = &[
    (
        "C3419",
        470,
        &[
            ("electricity", "fuel", "consumption", "10^4 kWh", 40.0),
            ("natural_gas", "fuel", "consumption", "10^4 m3", 3.0),
        ],
    ),
    (
        "H6110",
        220,
        &[
            ("electricity", "fuel", "consumption", "kWh", 80_000.0),
            ("heat", "fuel", "consumption", "GJ", 300.0),
            ("natural_gas", "fuel", "consumption", "m3", 5_000.0),
        ],
    ),
    (
        "C3011",
        90,
        &[
            ("raw_coal", "fuel", "consumption", "t", 8_000.0),
            ("electricity", "fuel", "consumption", "10^4 kWh", 600.0),
            ("diesel", "fuel", "consumption", "t", 30.0),
        ],
    ),
    (
        "C2614",
        60,
        &[
            ("raw_coal", "fuel", "consumption", "t", 20_000.0),
            ("raw_coal", "feedstock", "consumption", "t", 30_000.0),
            ("natural_gas", "fuel", "consumption", "10^4 m3", 100.0),
            ("electricity", "fuel", "consumption", "10^4 kWh", 2_000.0),
        ],
    ),
    (
        "C3120",
        60,
        &[
            ("coke", "fuel", "consumption", "t", 15_000.0),
            ("electricity", "fuel", "consumption", "10^4 kWh", 3_000.0),
            ("natural_gas", "fuel", "consumption", "10^4 m3", 50.0),
        ],
    ),
    (
        "B0610",
        80,
        &[
            ("electricity", "fuel", "consumption", "10^4 kWh", 300.0),
            ("diesel", "fuel", "consumption", "t", 600.0),
        ],
    ),
    (
        "D4411",
        6,
        &[
            ("raw_coal", "fuel", "consumption", "t", 120_000.0),
            ("electricity", "fuel", "output", "10^4 kWh", 25_000.0),
            ("heat", "fuel", "output", "GJ", 60_000.0),
        ],
    ),
    (
        "D4415",
        8,
        &[
            ("wind_power", "fuel", "consumption", "10^4 kWh", 5_000.0),
            // sent out: generation less the plant's own use (厂用电, 2 %)
            ("electricity", "fuel", "output", "10^4 kWh", 4_900.0),
        ],
    ),
    (
        "D4416",
        6,
        &[
            ("solar_power", "fuel", "consumption", "10^4 kWh", 2_000.0),
            ("electricity", "fuel", "output", "10^4 kWh", 1_960.0),
        ],
    ),
];

const SEASON: [f64; 12] = [
    1.15, 1.08, 1.01, 0.95, 0.91, 0.90, 0.93, 0.94, 0.91, 0.98, 1.07, 1.17,
];

/// splitmix64: a hash of the seed and a number, the source of every attribute.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn unit_f(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleFormat {
    Csv,
    Parquet,
}

#[derive(Debug, Clone)]
pub struct SampleSpec {
    pub enterprises: u64,
    pub years: std::ops::RangeInclusive<i32>,
    pub format: SampleFormat,
    pub seed: u64,
    pub provinces: usize,
}

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct SampleReport {
    pub energy_rows: u64,
    pub files: Vec<String>,
    pub regions: u64,
}

struct Geo {
    provinces: usize,
}

impl Geo {
    fn counties(&self) -> u64 {
        self.provinces as u64 * CITIES_PER_PROVINCE * COUNTIES_PER_CITY
    }
    /// The county code of county number n (0-based).
    fn county(&self, n: u64) -> String {
        let per_p = CITIES_PER_PROVINCE * COUNTIES_PER_CITY;
        let p = (n / per_p) as usize;
        let c = (n % per_p) / COUNTIES_PER_CITY + 1;
        let k = n % COUNTIES_PER_CITY + 1;
        format!("{}{:02}{:02}", &PROVINCES[p].0[..2], c, k)
    }
}

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::io(path.display().to_string(), e)
}

/// Create `out/name`, let `body` write it, flush, and record it in the report.
fn write_file(
    out: &Path,
    name: &str,
    report: &mut SampleReport,
    body: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> Result<()> {
    let path = out.join(name);
    let mut w = std::io::BufWriter::new(std::fs::File::create(&path).map_err(|e| io(&path, e))?);
    body(&mut w)
        .and_then(|_| w.flush())
        .map_err(|e| io(&path, e))?;
    report.files.push(name.to_string());
    Ok(())
}

/// Write a synthetic dataset and its pipeline.yaml into `out`.
pub fn write_sample(out: &Path, spec: &SampleSpec, factors: &Path) -> Result<SampleReport> {
    let provinces = spec.provinces.clamp(1, PROVINCES.len());
    let geo = Geo { provinces };
    std::fs::create_dir_all(out.join("energy")).map_err(|e| io(out, e))?;
    let mut report = SampleReport::default();

    // regions: province > city > county > town
    let mut regions = 0u64;
    write_file(out, "regions.csv", &mut report, |w| {
        writeln!(w, "region_code,name,parent_code,level")?;
        for (pcode, pname) in PROVINCES.iter().take(provinces) {
            writeln!(w, "{pcode},{pname},,province")?;
            regions += 1;
            for c in 1..=CITIES_PER_PROVINCE {
                let city = format!("{}{c:02}00", &pcode[..2]);
                writeln!(w, "{city},{pname}{c}市,{pcode},city")?;
                regions += 1;
                for k in 1..=COUNTIES_PER_CITY {
                    let county = format!("{}{c:02}{k:02}", &pcode[..2]);
                    writeln!(w, "{county},{pname}{c}市{k}县,{city},county")?;
                    regions += 1;
                    for t in 0..TOWNS_PER_COUNTY {
                        writeln!(w, "{county}{:03},{county}镇{t},{county},town", 100 + t)?;
                        regions += 1;
                    }
                }
            }
        }
        Ok(())
    })?;
    report.regions = regions;

    // GDP of every county, real indices around 105
    let first = *spec.years.start();
    let last = *spec.years.end();
    write_file(out, "gdp.csv", &mut report, |w| {
        writeln!(w, "region_code,year,gdp,gdp_index")?;
        for n in 0..geo.counties() {
            let code = geo.county(n);
            let mut gdp = 100.0 + 900.0 * unit_f(mix(spec.seed ^ n.wrapping_mul(31)));
            for y in spec.years.clone() {
                if y == first {
                    writeln!(w, "{code},{y},{gdp:.2},")?;
                } else {
                    let idx = 103.0 + 5.0 * unit_f(mix(spec.seed ^ (n << 8) ^ y as u64));
                    gdp *= idx / 100.0 * 1.02;
                    writeln!(w, "{code},{y},{gdp:.2},{idx:.1}")?;
                }
            }
        }
        Ok(())
    })?;

    // targets and sector statistics (households) of every county
    write_file(out, "targets.csv", &mut report, |w| {
        writeln!(w, "region_code,plan,base_year,target_year,indicator,value")?;
        for n in 0..geo.counties() {
            let code = geo.county(n);
            writeln!(
                w,
                "{code},FYP,{first},{last},energy_intensity_reduction,0.135"
            )?;
            writeln!(w, "{code},FYP,{first},{last},co2_intensity_reduction,0.18")?;
        }
        Ok(())
    })?;
    write_file(out, "sector_energy.csv", &mut report, |w| {
        writeln!(
            w,
            "region_code,sector_code,year,energy_code,use,flow,quantity,unit"
        )?;
        for n in 0..geo.counties() {
            let code = geo.county(n);
            for y in spec.years.clone() {
                let s = 1.0 + unit_f(mix(spec.seed ^ (n << 12) ^ y as u64));
                writeln!(
                    w,
                    "{code},HH,{y},electricity,fuel,consumption,{:.1},10^4 kWh",
                    5000.0 * s
                )?;
                writeln!(
                    w,
                    "{code},HH,{y},raw_coal,fuel,consumption,{:.1},t",
                    8000.0 * s
                )?;
            }
        }
        Ok(())
    })?;

    // enterprise records: one file per year
    let total_share: u64 = KINDS.iter().map(|k| k.1).sum();
    for y in spec.years.clone() {
        let name = match spec.format {
            SampleFormat::Csv => format!("energy/energy_{y}.csv"),
            SampleFormat::Parquet => format!("energy/energy_{y}.parquet"),
        };
        let path = out.join(&name);
        let mut sink = Sink::open(&path, spec.format)?;
        let trend = 1.0 + 0.03 * (y - first) as f64;
        for e in 0..spec.enterprises {
            let h = mix(spec.seed.wrapping_mul(0x100_0000_01B3) ^ e);
            let mut pick = h % total_share;
            let kind = KINDS
                .iter()
                .find(|k| {
                    if pick < k.1 {
                        true
                    } else {
                        pick -= k.1;
                        false
                    }
                })
                .unwrap_or(&KINDS[0]);
            let county = geo.county(mix(h) % geo.counties());
            let town = mix(h ^ 7) % (TOWNS_PER_COUNTY + 1);
            let region = if town == TOWNS_PER_COUNTY {
                county.clone()
            } else {
                format!("{county}{:03}", 100 + town)
            };
            let body = format!("91{county}MA{:07}", e % 10_000_000);
            let id = match uscc_check_char(&body) {
                Some(c) => format!("{body}{c}"),
                None => continue,
            };
            let size = 0.2 + 1.6 * unit_f(mix(h ^ 0xABCD));
            // a plant's output moves with its input: one noise for all of its
            // streams in a month, so it never sends out more energy than it
            // took in (independent noise let a wind farm export 10 % more
            // than it generated, and a town's energy at equal value go
            // negative)
            let plant = kind.2.iter().any(|s| s.2 == "output");
            for month in 1..=12u32 {
                for (i, s) in kind.2.iter().enumerate() {
                    let stream = if plant { 0 } else { i as u64 };
                    let noise = 0.95
                        + 0.1
                            * unit_f(mix(h ^ ((y as u64) << 20) ^ ((month as u64) << 8) ^ stream));
                    let q = s.4 * size * SEASON[month as usize - 1] * trend * noise;
                    sink.row(&id, &e, &region, kind.0, y, month, s.0, s.1, s.2, q, s.3)?;
                }
            }
        }
        report.energy_rows += sink.finish()?;
        report.files.push(name);
    }

    let energy = match spec.format {
        SampleFormat::Csv => "energy/*.csv",
        SampleFormat::Parquet => "energy/*.parquet",
    };
    let config = format!(
        "# written by `carbonstat sample`\ninputs:\n  energy: {energy}\n  sector_energy: sector_energy.csv\n  gdp: gdp.csv\n  regions: regions.csv\n  targets: targets.csv\nfactors: {}\noutput: out\nbase_year: {first}\nengine:\n  memory_limit: 1536MiB\n",
        factors.display()
    );
    let path = out.join("pipeline.yaml");
    std::fs::write(&path, config).map_err(|e| io(&path, e))?;
    report.files.push("pipeline.yaml".into());
    Ok(report)
}

const BATCH: usize = 65_536;

enum Sink {
    Csv(std::io::BufWriter<std::fs::File>, std::path::PathBuf, u64),
    Parquet(
        Box<ArrowWriter<std::fs::File>>,
        Vec<StringBuilder>,
        usize,
        u64,
        SchemaRef,
    ),
}

const COLUMNS: [&str; 11] = [
    "enterprise_id",
    "enterprise_name",
    "region_code",
    "sector_code",
    "year",
    "month",
    "energy_code",
    "use",
    "flow",
    "quantity",
    "unit",
];

impl Sink {
    fn open(path: &Path, format: SampleFormat) -> Result<Sink> {
        let f = std::fs::File::create(path).map_err(|e| io(path, e))?;
        Ok(match format {
            SampleFormat::Csv => {
                let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
                writeln!(w, "{}", COLUMNS.join(",")).map_err(|e| io(path, e))?;
                Sink::Csv(w, path.to_path_buf(), 0)
            }
            SampleFormat::Parquet => {
                let schema: SchemaRef = Arc::new(Schema::new(
                    COLUMNS
                        .iter()
                        .map(|c| Field::new(*c, DataType::Utf8, true))
                        .collect::<Vec<_>>(),
                ));
                let props = crate::publish::writer_properties();
                let w = ArrowWriter::try_new(f, schema.clone(), Some(props))?;
                Sink::Parquet(
                    Box::new(w),
                    COLUMNS.iter().map(|_| StringBuilder::new()).collect(),
                    0,
                    0,
                    schema,
                )
            }
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn row(
        &mut self,
        id: &str,
        e: &u64,
        region: &str,
        sector: &str,
        year: i32,
        month: u32,
        energy: &str,
        use_: &str,
        flow: &str,
        q: f64,
        unit: &str,
    ) -> Result<()> {
        // three decimals, written without float formatting
        let milli = (q * 1000.0).round() as u64;
        let mut ib = itoa::Buffer::new();
        let whole = ib.format(milli / 1000).to_string();
        let frac = milli % 1000;
        match self {
            Sink::Csv(w, path, n) => {
                let mut eb = itoa::Buffer::new();
                let r = (|| -> std::io::Result<()> {
                    w.write_all(id.as_bytes())?;
                    w.write_all(b",E")?;
                    w.write_all(eb.format(*e).as_bytes())?;
                    w.write_all(b",")?;
                    w.write_all(region.as_bytes())?;
                    w.write_all(b",")?;
                    w.write_all(sector.as_bytes())?;
                    w.write_all(b",")?;
                    w.write_all(eb.format(year).as_bytes())?;
                    w.write_all(b",")?;
                    w.write_all(eb.format(month).as_bytes())?;
                    w.write_all(b",")?;
                    w.write_all(energy.as_bytes())?;
                    w.write_all(b",")?;
                    w.write_all(use_.as_bytes())?;
                    w.write_all(b",")?;
                    w.write_all(flow.as_bytes())?;
                    w.write_all(b",")?;
                    w.write_all(whole.as_bytes())?;
                    w.write_all(&[
                        b'.',
                        b'0' + (frac / 100) as u8,
                        b'0' + (frac / 10 % 10) as u8,
                        b'0' + (frac % 10) as u8,
                        b',',
                    ])?;
                    w.write_all(unit.as_bytes())?;
                    w.write_all(b"\n")
                })();
                r.map_err(|err| io(path, err))?;
                *n += 1;
            }
            Sink::Parquet(_, cols, rows, n, _) => {
                let q = format!("{whole}.{frac:03}");
                let name = format!("E{e}");
                let (ys, ms) = (year.to_string(), month.to_string());
                for (c, v) in cols.iter_mut().zip([
                    id, &name, region, sector, &ys, &ms, energy, use_, flow, &q, unit,
                ]) {
                    c.append_value(v);
                }
                *rows += 1;
                *n += 1;
                if *rows >= BATCH {
                    self.flush()?;
                }
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if let Sink::Parquet(w, cols, rows, _, schema) = self
            && *rows > 0
        {
            let arrays: Vec<ArrayRef> = cols
                .iter_mut()
                .map(|c| Arc::new(c.finish()) as ArrayRef)
                .collect();
            w.write(&RecordBatch::try_new(schema.clone(), arrays)?)?;
            *rows = 0;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<u64> {
        self.flush()?;
        match self {
            Sink::Csv(mut w, path, n) => {
                w.flush().map_err(|e| io(&path, e))?;
                Ok(n)
            }
            Sink::Parquet(w, _, _, n, _) => {
                w.close()?;
                Ok(n)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_valid() {
        let factors = Path::new(env!("CARGO_MANIFEST_DIR")).join("../factors/cn-2024");
        let spec = SampleSpec {
            enterprises: 200,
            years: 2020..=2021,
            format: SampleFormat::Csv,
            seed: 7,
            provinces: 2,
        };
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let ra = write_sample(a.path(), &spec, &factors).unwrap();
        write_sample(b.path(), &spec, &factors).unwrap();
        for f in &ra.files {
            assert_eq!(
                std::fs::read(a.path().join(f)).unwrap(),
                std::fs::read(b.path().join(f)).unwrap(),
                "{f}"
            );
        }
        let text = std::fs::read_to_string(a.path().join("energy/energy_2020.csv")).unwrap();
        assert_eq!(
            text.lines().count() as u64 - 1
                + std::fs::read_to_string(a.path().join("energy/energy_2021.csv"))
                    .unwrap()
                    .lines()
                    .count() as u64
                - 1,
            ra.energy_rows
        );
        for line in text.lines().skip(1).take(500) {
            let id = line.split(',').next().unwrap();
            assert_eq!(crate::engine::ids::uscc_error(id), None, "{id}");
        }
        // 2 provinces × 8 cities × 6 counties × 4 towns + the levels above
        assert_eq!(ra.regions, 2 + 16 + 96 + 384);
    }

    /// No plant sends out more energy than it took in, at equal value with a
    /// generous coal rate (0.31 kgce/kWh, above every year's rate) and heat at
    /// 0.03412 tce/GJ. A thermal plant: 120 000 t coal × 0.7143 = 85 716 tce in;
    /// 2.5 × 10^8 kWh × 0.00031 + 60 000 GJ × 0.03412 = 77 500 + 2 047 = 79 547
    /// tce out. A wind farm: 5 000 × 10^4 kWh in, 4 900 out (2 % own use).
    #[test]
    fn plants_send_out_less_than_they_take_in() {
        let factors = Path::new(env!("CARGO_MANIFEST_DIR")).join("../factors/cn-2024");
        let spec = SampleSpec {
            enterprises: 2_000,
            years: 2020..=2021,
            format: SampleFormat::Csv,
            seed: 11,
            provinces: 2,
        };
        let dir = tempfile::tempdir().unwrap();
        write_sample(dir.path(), &spec, &factors).unwrap();
        // (enterprise, year, month) → (tce in, tce out)
        let mut plants: std::collections::HashMap<(String, String, String), (f64, f64)> =
            std::collections::HashMap::new();
        for y in ["2020", "2021"] {
            let text =
                std::fs::read_to_string(dir.path().join(format!("energy/energy_{y}.csv"))).unwrap();
            let mut lines = text.lines();
            let header: Vec<&str> = lines.next().unwrap().split(',').collect();
            let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
            let (id, year, month, energy, flow, qty, unit) = (
                col("enterprise_id"),
                col("year"),
                col("month"),
                col("energy_code"),
                col("flow"),
                col("quantity"),
                col("unit"),
            );
            for line in lines {
                let f: Vec<&str> = line.split(',').collect();
                if !f[col("sector_code")].starts_with("D44") {
                    continue;
                }
                let q: f64 = f[qty].parse().unwrap();
                let base = match f[unit] {
                    "10^4 kWh" => q * 1e4,
                    "t" | "GJ" | "kWh" => q,
                    other => panic!("unit {other}"),
                };
                let tce = match f[energy] {
                    "raw_coal" => base * 0.7143,
                    "heat" => base * 0.03412,
                    "electricity" | "wind_power" | "solar_power" => base * 0.00031,
                    other => panic!("energy {other}"),
                };
                let e = plants
                    .entry((f[id].into(), f[year].into(), f[month].into()))
                    .or_default();
                if f[flow] == "output" {
                    e.1 += tce
                } else {
                    e.0 += tce
                }
            }
        }
        assert!(plants.len() > 100, "{} plant-months", plants.len());
        for (k, (tce_in, tce_out)) in &plants {
            assert!(tce_out <= tce_in, "{k:?}: {tce_out} tce out > {tce_in} in");
        }
    }
}
