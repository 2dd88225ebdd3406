//! Helpers for tests that run the real `carbonstat` binary on files in a
//! temporary directory, as a user would.
#![allow(dead_code)]

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Output;

use carbonstat::datafusion::arrow::array::{Array, AsArray, RecordBatch};
use carbonstat::datafusion::arrow::datatypes::{DataType, Float64Type, Int32Type, Int64Type};
use carbonstat::datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

pub fn factors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../factors/cn-2024")
        .canonicalize()
        .unwrap()
}

/// A project directory with input files and a pipeline.yaml.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Default for Project {
    fn default() -> Self {
        Self::new()
    }
}

impl Project {
    pub fn new() -> Self {
        Project {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, content: &str) -> &Self {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
        self
    }

    /// A config over the usual file names, with extra YAML appended.
    pub fn config(&self, extra: &str) -> &Self {
        let targets = if self.path("targets.csv").exists() {
            "  targets: targets.csv\n"
        } else {
            ""
        };
        let sector = if self.path("sector_energy.csv").exists() {
            "  sector_energy: sector_energy.csv\n"
        } else {
            ""
        };
        self.write(
            "pipeline.yaml",
            &format!(
                "inputs:\n  energy: energy.csv\n{sector}  gdp: gdp.csv\n  regions: regions.csv\n{targets}factors: {}\noutput: out\nbase_year: 2020\n{extra}",
                factors_dir().display()
            ),
        )
    }

    pub fn run(&self, args: &[&str]) -> Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_carbonstat"))
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap()
    }

    pub fn run_pipeline(&self) -> Output {
        self.run(&["--quiet", "run", "--config", "pipeline.yaml"])
    }

    pub fn manifest(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.path("out/manifest.json")).unwrap()).unwrap()
    }

    /// The manifest's totals of one input (rows read, accepted, rejected).
    pub fn input_total(&self, input: &str) -> serde_json::Value {
        self.manifest()["input_totals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["input"] == input)
            .unwrap_or_else(|| panic!("no input {input} in the manifest"))
            .clone()
    }

    /// The one Parquet file of a dataset's partition.
    pub fn partition_file(&self, dataset: &str, year: i32) -> PathBuf {
        let dir = self.path(&format!("out/reports/{dataset}/year={year}"));
        let files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
            .collect();
        assert_eq!(
            files.len(),
            1,
            "one file per partition in {}: {files:?}",
            dir.display()
        );
        files.into_iter().next().unwrap()
    }

    /// Every row of one partition of a dataset, column name → value.
    pub fn rows(&self, dataset: &str, year: i32) -> Vec<HashMap<String, Value>> {
        read_parquet(&self.partition_file(dataset, year))
    }

    /// Every reject of the run, whatever year partition holds it (year 0:
    /// rows without a readable year), in file and line order.
    pub fn all_rejects(&self) -> Vec<HashMap<String, Value>> {
        let dir = self.path("out/reports/rejects");
        let mut rows: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|e| {
                let name = e.unwrap().file_name().into_string().unwrap();
                name.strip_prefix("year=")?.parse::<i32>().ok()
            })
            .flat_map(|y| self.rows("rejects", y))
            .collect();
        rows.sort_by_key(|r| {
            (
                r["input"].s().to_string(),
                r["source_file"].s().to_string(),
                r["source_line"].i(),
            )
        });
        rows
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Text(String),
    Int(i64),
    Float(f64),
}

impl Value {
    pub fn f(&self) -> f64 {
        match self {
            Value::Float(v) => *v,
            Value::Int(v) => *v as f64,
            other => panic!("not a number: {other:?}"),
        }
    }

    pub fn s(&self) -> &str {
        match self {
            Value::Text(v) => v,
            other => panic!("not text: {other:?}"),
        }
    }

    pub fn i(&self) -> i64 {
        match self {
            Value::Int(v) => *v,
            other => panic!("not an integer: {other:?}"),
        }
    }
}

pub fn read_parquet(path: &Path) -> Vec<HashMap<String, Value>> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let mut out = Vec::new();
    for batch in reader {
        let batch: RecordBatch = batch.unwrap();
        for r in 0..batch.num_rows() {
            let mut row = HashMap::new();
            for (i, field) in batch.schema().fields().iter().enumerate() {
                let col = batch.column(i);
                let v = if col.is_null(r) {
                    Value::Null
                } else {
                    match field.data_type() {
                        DataType::Utf8 => Value::Text(col.as_string::<i32>().value(r).to_string()),
                        DataType::Int32 => {
                            Value::Int(col.as_primitive::<Int32Type>().value(r) as i64)
                        }
                        DataType::Int64 => Value::Int(col.as_primitive::<Int64Type>().value(r)),
                        DataType::Float64 => {
                            Value::Float(col.as_primitive::<Float64Type>().value(r))
                        }
                        // a flag as the text pandas and DuckDB print
                        DataType::Boolean => Value::Text(col.as_boolean().value(r).to_string()),
                        other => panic!("unexpected type {other}"),
                    }
                };
                row.insert(field.name().clone(), v);
            }
            out.push(row);
        }
    }
    out
}

/// The row whose `key` column equals `value`.
pub fn find<'a>(
    rows: &'a [HashMap<String, Value>],
    pairs: &[(&str, &str)],
) -> &'a HashMap<String, Value> {
    rows.iter()
        .find(|r| {
            pairs.iter().all(|(k, v)| {
                r.get(*k)
                    .map(|x| x == &Value::Text(v.to_string()))
                    .unwrap_or(false)
            })
        })
        .unwrap_or_else(|| panic!("no row with {pairs:?} in {rows:#?}"))
}

/// Relative equality to 1e-9.
pub fn close(actual: f64, expected: f64, what: &str) {
    let tol = 1e-9 * expected.abs().max(1e-12);
    assert!(
        (actual - expected).abs() <= tol,
        "{what}: got {actual}, expected {expected}"
    );
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Valid Unified Social Credit Codes for tests (check characters computed by
/// carbonstat::engine, which has its own worked example).
pub fn uscc(serial: u32) -> String {
    let body = format!("91150622MA0{:06}", serial);
    let check = carbonstat::engine::uscc_check_char(&body).unwrap();
    format!("{body}{check}")
}

/// One county, one enterprise, two years: a run that takes a second or two.
pub fn small_project() -> Project {
    let p = Project::new();
    p.write(
        "regions.csv",
        "region_code,name,parent_code,level\n150000,内蒙古自治区,,province\n150622,准格尔旗,150000,county\n",
    )
    .write("gdp.csv", "region_code,year,gdp,gdp_index\n150622,2020,10,\n150622,2021,11,105\n")
    .write(
        "energy.csv",
        &format!(
            "enterprise_id,region_code,sector_code,year,energy_code,quantity,unit\n\
             {0},150622,C3011,2020,raw_coal,1000,t\n{0},150622,C3011,2021,raw_coal,1100,t\n\
             {0},150622,C3011,2021,electricity,5,MWh\n",
            uscc(1)
        ),
    )
    .config("");
    p
}

pub fn sha256_of(path: &std::path::Path) -> String {
    carbonstat::digest::sha256_hex(&std::fs::read(path).unwrap())
}

/// Every file the manifest names exists with its recorded sha256.
pub fn assert_manifest_intact(p: &Project, manifest: &serde_json::Value) {
    for f in manifest["outputs"].as_array().unwrap() {
        let path = p.path(&format!("out/{}", f["path"].as_str().unwrap()));
        assert!(path.exists(), "{} is gone", path.display());
        assert_eq!(
            sha256_of(&path),
            f["sha256"].as_str().unwrap(),
            "{} changed",
            path.display()
        );
    }
}

/// The files under out/reports are exactly those the manifest names.
pub fn assert_no_strays(p: &Project) {
    let m = p.manifest();
    let named: BTreeSet<String> = m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("out/{}", f["path"].as_str().unwrap()))
        .collect();
    let found: BTreeSet<String> = [p.path("out/reports"), p.path("out/bulletin")]
        .iter()
        .flat_map(|d| files_under(d))
        .map(|f| {
            f.strip_prefix(p.dir.path())
                .unwrap()
                .to_string_lossy()
                .to_string()
        })
        .collect();
    assert_eq!(
        found, named,
        "files under reports/ or bulletin/ that the manifest does not name (or the reverse)"
    );
    assert!(!p.path("out/_staging").exists(), "staging left behind");
    assert!(!p.path("out/_lock.json").exists(), "lock left behind");
}

/// Every file below `dir`, at any depth (none if `dir` does not exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// data-samples/pipeline.yaml with absolute paths, publishing to `output`.
pub fn sample_config(output: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let config = std::fs::read_to_string(root.join("data-samples/pipeline.yaml"))
        .unwrap()
        .replace("data/", &format!("{}/data-samples/data/", root.display()))
        .replace(
            "../factors/cn-2026-12",
            root.join("factors/cn-2026-12").to_str().unwrap(),
        )
        .replace("output: ../out", &format!("output: {output}"));
    assert!(config.contains(&format!("output: {output}")) && config.contains("engine:\n"));
    config
}
