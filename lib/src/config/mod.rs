//! `pipeline.yaml` → a typed, validated [`Config`].
//!
//! Unknown keys are errors (a typo such as `max_reject_ration` must not be
//! silently ignored in a job that publishes official numbers), and every error
//! names the file, the line and the column where serde-saphyr found it.
//! Relative paths are resolved against the directory of the config file, so a
//! config works wherever cron starts the binary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::store::{Location, Storage};

/// The whole pipeline configuration (the `pipeline.yaml` contract).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub inputs: Inputs,
    /// Factor set directory (path relative to this file, or file:// URL).
    pub factors: String,
    /// Output location: a local path or file:// URL.
    pub output: String,
    /// Base year of constant prices and of `*_change_base`.
    pub base_year: i32,
    /// Which grid emission factor electricity uses.
    #[serde(default)]
    pub electricity_factor: ElectricityFactor,
    /// How electricity (and primary electricity) converts to standard coal.
    #[serde(default)]
    pub electricity_valuation: ElectricityValuation,
    /// NBS practice: intensities are rounded to 4 decimals before change rates.
    #[serde(default = "default_true")]
    pub nbs_rounding: bool,
    /// Which energy intensity the energy_intensity_reduction targets are judged on.
    #[serde(default)]
    pub energy_intensity_basis: IntensityBasis,
    #[serde(default)]
    pub quality: Quality,
    #[serde(default)]
    pub engine: Engine,
    /// Endpoint, region and options of object stores (credentials from the environment).
    #[serde(default)]
    pub storage: Storage,
    /// A lock older than this is taken over (a crashed run), e.g. `6h`, `90m`.
    #[serde(default = "default_lock_ttl")]
    pub lock_ttl: String,
}

fn default_lock_ttl() -> String {
    "6h".into()
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    pub energy: Sources,
    #[serde(default)]
    pub sector_energy: Option<Sources>,
    pub gdp: Sources,
    pub regions: Sources,
    #[serde(default)]
    pub targets: Option<Sources>,
}

/// One location or a list of them; each may be a glob (`data/energy/*.csv`).
/// The long form also says how to read the files:
///
/// ```yaml
/// energy:
///   path: data/bureau/*.xlsx
///   encoding: gb18030          # CSV only: auto (default), utf-8, gb18030 (gbk)
///   sheet: 能源消费             # Excel: a sheet name or a 0-based index (default: the first)
///   header_row: 3              # 1-based; found automatically when absent
///   columns: {本期消费量: quantity}   # header → contract column
/// ```
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Sources {
    One(String),
    Many(Vec<String>),
    Detailed(InputOptions),
}

// By hand rather than `untagged`: a typo inside the long form is reported as
// such (`unknown field encodng, expected one of …`) with its line, instead of
// "data did not match any variant".
impl<'de> Deserialize<'de> for Sources {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Sources;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a path, a list of paths, or a map with path, encoding, sheet, header_row, columns")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Sources, E> {
                Ok(Sources::One(v.to_string()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> std::result::Result<Sources, A::Error> {
                Vec::<String>::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
                    .map(Sources::Many)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> std::result::Result<Sources, A::Error> {
                InputOptions::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(Sources::Detailed)
            }
        }
        d.deserialize_any(V)
    }
}

/// How an input's files are read.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InputOptions {
    pub path: Paths,
    #[serde(default)]
    pub encoding: Encoding,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sheet: Option<SheetRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_row: Option<usize>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub columns: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Paths {
    One(String),
    Many(Vec<String>),
}

impl Default for Paths {
    fn default() -> Self {
        Paths::Many(vec![])
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 (with or without BOM) when the bytes are valid UTF-8, else GB18030.
    #[default]
    #[serde(rename = "auto")]
    Auto,
    #[serde(rename = "utf-8", alias = "utf8")]
    Utf8,
    /// GB18030, a superset of GBK and GB2312.
    #[serde(rename = "gb18030", alias = "gbk", alias = "gb2312")]
    Gb18030,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum SheetRef {
    Index(usize),
    Name(String),
}

impl Sources {
    pub fn patterns(&self) -> Vec<&str> {
        let paths = match self {
            Sources::One(s) => return vec![s.as_str()],
            Sources::Many(v) => return v.iter().map(String::as_str).collect(),
            Sources::Detailed(o) => &o.path,
        };
        match paths {
            Paths::One(s) => vec![s.as_str()],
            Paths::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }

    /// How to read the files (defaults for the short forms).
    pub fn options(&self) -> InputOptions {
        match self {
            Sources::Detailed(o) => o.clone(),
            _ => InputOptions::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ElectricityFactor {
    National,
    Regional,
    #[default]
    Provincial,
}

impl ElectricityFactor {
    pub fn as_str(self) -> &'static str {
        match self {
            ElectricityFactor::National => "national",
            ElectricityFactor::Regional => "regional",
            ElectricityFactor::Provincial => "provincial",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ElectricityValuation {
    /// 当量值: the heat content of electricity, 0.1229 kgce/kWh.
    #[default]
    Equivalent,
    /// 等价值: that year's coal consumption of thermal power generation.
    Equal,
}

impl ElectricityValuation {
    pub fn as_str(self) -> &'static str {
        match self {
            ElectricityValuation::Equivalent => "equivalent",
            ElectricityValuation::Equal => "equal",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum IntensityBasis {
    /// 双控口径: excluding feedstock and non-fossil energy (NBS since 2024).
    #[default]
    Controlled,
    Gross,
}

impl IntensityBasis {
    pub fn as_str(self) -> &'static str {
        match self {
            IntensityBasis::Controlled => "controlled",
            IntensityBasis::Gross => "gross",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Quality {
    /// Largest share of rejected rows, per input, that still publishes.
    #[serde(default = "default_reject_ratio")]
    pub max_reject_ratio: f64,
}

fn default_reject_ratio() -> f64 {
    0.01
}

impl Default for Quality {
    fn default() -> Self {
        Quality {
            max_reject_ratio: default_reject_ratio(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Engine {
    /// Memory limit of the query engine, e.g. `2GiB`, `512MiB`. Unbounded if absent.
    #[serde(default)]
    pub memory_limit: Option<String>,
    /// Number of parallel partitions; defaults to the number of cores.
    #[serde(default)]
    pub target_partitions: Option<usize>,
    /// Directory for spill files and fetched remote inputs; the system temp dir if absent.
    #[serde(default)]
    pub spill_dir: Option<String>,
    /// Worker threads of the runtime; defaults to the number of cores.
    #[serde(default)]
    pub threads: Option<usize>,
}

/// A config together with where it was read from.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub config: Config,
    /// The file it came from.
    pub path: PathBuf,
    /// Directory that relative paths are resolved against.
    pub base_dir: PathBuf,
    /// The exact bytes of the file (hashed into the manifest).
    pub raw: String,
}

impl LoadedConfig {
    pub fn load(path: &Path) -> Result<Self> {
        let raw = std::fs::read_to_string(path).map_err(|e| Error::Config {
            file: path.to_path_buf(),
            message: format!("cannot read the file: {e}"),
        })?;
        let base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        Self::from_str(&raw, path, &base_dir)
    }

    pub fn from_str(raw: &str, path: &Path, base_dir: &Path) -> Result<Self> {
        let config: Config = serde_saphyr::from_str(raw).map_err(|e| Error::Config {
            file: path.to_path_buf(),
            message: e.to_string(),
        })?;
        config.validate().map_err(|message| Error::Config {
            file: path.to_path_buf(),
            message,
        })?;
        Ok(LoadedConfig {
            config,
            path: path.to_path_buf(),
            base_dir: base_dir.to_path_buf(),
            raw: raw.to_string(),
        })
    }

    /// A location named in the config (relative paths against the config's directory).
    pub fn location(&self, what: &str, s: &str) -> Result<Location> {
        Location::parse(&self.base_dir, s, &self.config.storage).map_err(|m| Error::Config {
            file: self.path.clone(),
            message: format!("{what}: {m}"),
        })
    }

    /// `engine.spill_dir`, resolved against the config's directory like every
    /// other path of the file (a cron job's working directory does not
    /// matter); it must be a local directory.
    pub fn spill_dir(&self) -> Result<Option<PathBuf>> {
        let Some(d) = &self.config.engine.spill_dir else {
            return Ok(None);
        };
        let local = self.location("engine.spill_dir", d)?.local;
        local.map(Some).ok_or_else(|| Error::Config {
            file: self.path.clone(),
            message: format!(
                "engine.spill_dir: '{d}' is not a local directory; spill files and intermediate tables need a local disk"
            ),
        })
    }
}

impl Config {
    fn validate(&self) -> std::result::Result<(), String> {
        if !(1900..=2100).contains(&self.base_year) {
            return Err(format!(
                "base_year: {} is not a plausible year (1900-2100)",
                self.base_year
            ));
        }
        let r = self.quality.max_reject_ratio;
        if !(0.0..=1.0).contains(&r) {
            return Err(format!(
                "quality.max_reject_ratio: {r} must be a fraction between 0 and 1 (0.01 = 1 %)"
            ));
        }
        if let Some(m) = &self.engine.memory_limit {
            parse_bytes(m).map_err(|e| format!("engine.memory_limit: {e}"))?;
        }
        if self.engine.target_partitions == Some(0) {
            return Err("engine.target_partitions: must be at least 1".into());
        }
        if self.engine.threads == Some(0) {
            return Err("engine.threads: must be at least 1".into());
        }
        parse_duration(&self.lock_ttl).map_err(|e| format!("lock_ttl: {e}"))?;
        Ok(())
    }
}

/// Parse `6h`, `90m`, `30s`, `1d` into a duration.
pub fn parse_duration(s: &str) -> std::result::Result<std::time::Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a duration such as 6h, 90m or 30s"))?;
    let secs = match unit.trim() {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => return Err(format!("'{s}' is not a duration such as 6h, 90m or 30s")),
    };
    Ok(std::time::Duration::from_secs(secs))
}

/// Parse `2GiB`, `512MiB`, `1.5GB`, `1000000` into bytes.
pub fn parse_bytes(s: &str) -> std::result::Result<usize, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a size such as 2GiB or 512MiB"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "unknown size unit '{other}' in '{s}' (use MiB or GiB)"
            ));
        }
    };
    Ok((n * mult) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "inputs:\n  energy: e.csv\n  gdp: g.csv\n  regions: r.csv\nfactors: f\noutput: out\nbase_year: 2020\n";

    #[test]
    fn minimal_config_gets_defaults() {
        let c = LoadedConfig::from_str(MINIMAL, Path::new("p.yaml"), Path::new("/x")).unwrap();
        assert_eq!(c.config.electricity_factor, ElectricityFactor::Provincial);
        assert_eq!(
            c.config.electricity_valuation,
            ElectricityValuation::Equivalent
        );
        assert!(c.config.nbs_rounding);
        assert_eq!(c.config.quality.max_reject_ratio, 0.01);
        assert_eq!(
            c.location("energy", "e.csv").unwrap().local.unwrap(),
            PathBuf::from("/x/e.csv")
        );
    }

    #[test]
    fn spill_dir_is_resolved_against_the_config_directory() {
        let c = LoadedConfig::from_str(MINIMAL, Path::new("p.yaml"), Path::new("/x")).unwrap();
        assert_eq!(c.spill_dir().unwrap(), None);
        let raw = format!("{MINIMAL}engine:\n  spill_dir: scratch/spill\n");
        let c = LoadedConfig::from_str(&raw, Path::new("p.yaml"), Path::new("/x")).unwrap();
        assert_eq!(
            c.spill_dir().unwrap(),
            Some(PathBuf::from("/x/scratch/spill"))
        );
        let raw = format!("{MINIMAL}engine:\n  spill_dir: s3://bucket/spill\n");
        let c = LoadedConfig::from_str(&raw, Path::new("p.yaml"), Path::new("/x")).unwrap();
        let err = c.spill_dir().unwrap_err().to_string();
        assert!(
            err.contains("p.yaml") && err.contains("not a local directory"),
            "{err}"
        );
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let raw = format!("{MINIMAL}quality:\n  max_reject_ration: 0.5\n");
        let err = LoadedConfig::from_str(&raw, Path::new("p.yaml"), Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(err.contains("p.yaml"), "{err}");
        assert!(err.contains("max_reject_ration"), "{err}");
        assert!(err.contains("line 9") || err.contains(":9:"), "{err}");
    }

    #[test]
    fn bad_enum_value_is_rejected() {
        let raw = MINIMAL.replace(
            "base_year: 2020",
            "base_year: 2020\nelectricity_factor: city",
        );
        let err = LoadedConfig::from_str(&raw, Path::new("p.yaml"), Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(err.contains("city"), "{err}");
    }

    #[test]
    fn inputs_take_a_long_form() {
        let raw = MINIMAL.replace(
            "  energy: e.csv\n",
            "  energy:\n    path: [a.xlsx, b.csv]\n    encoding: gbk\n    sheet: 能源\n    header_row: 3\n    columns: {本期消费量: quantity}\n",
        );
        let c = LoadedConfig::from_str(&raw, Path::new("p.yaml"), Path::new(".")).unwrap();
        let o = c.config.inputs.energy.options();
        assert_eq!(c.config.inputs.energy.patterns(), vec!["a.xlsx", "b.csv"]);
        assert_eq!(o.encoding, Encoding::Gb18030);
        assert_eq!(o.sheet, Some(SheetRef::Name("能源".into())));
        assert_eq!(o.header_row, Some(3));
        assert_eq!(o.columns["本期消费量"], "quantity");
        let typo = MINIMAL.replace(
            "  energy: e.csv\n",
            "  energy:\n    path: e.csv\n    encodng: gbk\n",
        );
        let e = LoadedConfig::from_str(&typo, Path::new("p.yaml"), Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(e.contains("encodng") && e.contains("line 4"), "{e}");
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("6h").unwrap().as_secs(), 21600);
        assert_eq!(parse_duration("90m").unwrap().as_secs(), 5400);
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_bytes("512MiB").unwrap(), 512 * 1024 * 1024);
        assert_eq!(parse_bytes("2GiB").unwrap(), 2 * 1024 * 1024 * 1024);
        assert!(parse_bytes("lots").is_err());
    }
}
