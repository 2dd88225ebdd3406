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

mod values;
pub use values::{ByteSize, Duration};

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
    /// Which period's rule the controlled scope (双控口径) follows.
    #[serde(default)]
    pub controlled_scope: ControlledScope,
    /// What a year's warning level compares the year's reduction against.
    #[serde(default)]
    pub warning_basis: WarningBasis,
    /// Which grid factor year a plan's targets are judged with.
    #[serde(default)]
    pub grid_factor_vintage: GridFactorVintage,
    #[serde(default)]
    pub quality: Quality,
    #[serde(default)]
    pub engine: Engine,
    /// Endpoint, region and options of object stores (credentials from the environment).
    #[serde(default)]
    pub storage: Storage,
    /// The lease of the output's lock: a holder renews it every quarter of
    /// this (at most every minute); a lock not renewed for this long is taken
    /// over (a dead run), e.g. `10m`, `1h`.
    #[serde(default = "default_lock_ttl")]
    pub lock_ttl: Duration,
    /// The bulletin published with every run.
    #[serde(default)]
    pub report: Report,
    /// What machines that watch the nightly job read.
    #[serde(default)]
    pub metrics: Metrics,
}

/// `metrics:` — a Prometheus textfile for node_exporter's textfile collector,
/// and/or a push to a Pushgateway, after every run, failed ones too.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    /// Path of the `.prom` file (relative to the config file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub textfile: Option<String>,
    /// Base URL of a Prometheus Pushgateway (`http://pushgateway:9091`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushgateway: Option<String>,
    /// The `job` label of the push (default `carbonstat`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
}

/// `report:` — the bulletin's language and, optionally, a bureau's own
/// templates (index.html, region.html, base.html, style.css; a file the
/// directory lacks is the built-in one).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Report {
    #[serde(default)]
    pub language: Language,
    /// Relative to the config file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_dir: Option<String>,
}

/// The bulletin's language.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Zh,
    En,
}

/// What rendering the bulletin needs of the config.
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    pub language: Language,
    pub template_dir: Option<PathBuf>,
}

fn default_lock_ttl() -> Duration {
    Duration::parse("10m").expect("10m is a duration")
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
    /// Production of products with process CO2 (the carbon budget).
    #[serde(default)]
    pub production: Option<Sources>,
    /// Carbon sinks (the carbon budget).
    #[serde(default)]
    pub sinks: Option<Sources>,
    /// Groups of enterprises: zero-carbon parks, key units, custom sets.
    #[serde(default)]
    pub groups: Option<Sources>,
    /// Certified green power bought by enterprises.
    #[serde(default)]
    pub green_power: Option<Sources>,
}

/// One location or a list of them; each may be a glob (`data/energy/*.csv`).
/// The long form also says how to read the files:
///
/// ```yaml
/// energy:
///   path: data/bureau/*.xlsx
///   encoding: gb18030          # CSV only: auto (default), utf-8, gb18030 (gbk)
///   delimiter: auto            # CSV only: auto (default), ',', ';', tab, '|'
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
                f.write_str("a path, a list of paths, or a map with path, encoding, delimiter, sheet, header_row, columns")
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
    /// CSV: the field separator (auto: a comma, or the tab, semicolon or bar
    /// that splits a header line without a comma)
    #[serde(default, skip_serializing_if = "Delimiter::is_auto")]
    pub delimiter: Delimiter,
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

/// A CSV file's field separator.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub enum Delimiter {
    /// A comma, or the tab, semicolon or bar that splits a header line
    /// without a comma.
    #[default]
    #[serde(rename = "auto")]
    Auto,
    #[serde(rename = ",", alias = "comma")]
    Comma,
    #[serde(rename = ";", alias = "semicolon")]
    Semicolon,
    #[serde(rename = "tab", alias = "\t")]
    Tab,
    #[serde(rename = "|", alias = "bar")]
    Bar,
}

impl Delimiter {
    pub fn is_auto(&self) -> bool {
        *self == Delimiter::Auto
    }

    /// The separator of byte `b` (one of `,`, `;`, tab and `|`).
    pub fn of(b: u8) -> Self {
        match b {
            b';' => Delimiter::Semicolon,
            b'\t' => Delimiter::Tab,
            b'|' => Delimiter::Bar,
            _ => Delimiter::Comma,
        }
    }

    /// The separating byte; `None` for auto.
    pub fn byte(self) -> Option<u8> {
        match self {
            Delimiter::Auto => None,
            Delimiter::Comma => Some(b','),
            Delimiter::Semicolon => Some(b';'),
            Delimiter::Tab => Some(b'\t'),
            Delimiter::Bar => Some(b'|'),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum SheetRef {
    Index(usize),
    Name(String),
}

// By hand rather than `untagged`: `sheet: -1` is told what a sheet is, not
// "data did not match any variant".
impl<'de> Deserialize<'de> for SheetRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = SheetRef;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a sheet's name, or its 0-based index (0 for the first sheet)")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<SheetRef, E> {
                usize::try_from(v)
                    .map(SheetRef::Index)
                    .map_err(|_| E::custom(format!("sheet {v} is no sheet's index")))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<SheetRef, E> {
                u64::try_from(v).map_err(|_| {
                    E::custom(format!(
                        "sheet {v}: give a sheet's name, or its 0-based index (0 for the first sheet)"
                    ))
                })
                .and_then(|v| self.visit_u64(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<SheetRef, E> {
                Ok(SheetRef::Name(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl Inputs {
    /// The input `name` (one of `input::ALL_INPUTS`): its sources if the
    /// config gives them, and whether the config must.
    pub fn get(&self, name: &str) -> (Option<&Sources>, bool) {
        match name {
            "energy" => (Some(&self.energy), true),
            "sector_energy" => (self.sector_energy.as_ref(), false),
            "gdp" => (Some(&self.gdp), true),
            "regions" => (Some(&self.regions), true),
            "targets" => (self.targets.as_ref(), false),
            "production" => (self.production.as_ref(), false),
            "sinks" => (self.sinks.as_ref(), false),
            "groups" => (self.groups.as_ref(), false),
            "green_power" => (self.green_power.as_ref(), false),
            _ => (None, false),
        }
    }
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
    /// 当量值: the heat content of electricity, 0.1229 kgce/kWh (what an
    /// enterprise's comprehensive consumption uses).
    Equivalent,
    /// 等价值: that year's coal consumption rate of thermal power, for
    /// primary electricity and electricity crossing the region's boundary
    /// (what a region's total energy consumption uses, and so the default).
    #[default]
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

/// The controlled scope (能耗双控口径) of a period: what is left out of the
/// energy total and intensity that targets are judged on (domain reference §9).
/// Written `"2024"` (or the number 2024), `"2022"` or `none`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ControlledScope {
    /// 国发〔2024〕12号: feedstock and all non-fossil energy, in total and intensity.
    #[default]
    Rules2024,
    /// 发改环资〔2022〕803号 and 发改运行〔2022〕1258号: feedstock from total and
    /// intensity, renewable electricity above the 2020 level from the total only.
    Rules2022,
    /// Nothing left out: the controlled scope is the gross total.
    NoDeduction,
}

const CONTROLLED_SCOPE_FORM: &str = r#"one of "2024", "2022" or none"#;

impl ControlledScope {
    pub fn as_str(self) -> &'static str {
        match self {
            ControlledScope::Rules2024 => "2024",
            ControlledScope::Rules2022 => "2022",
            ControlledScope::NoDeduction => "none",
        }
    }
}

impl Serialize for ControlledScope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

// By hand: YAML reads a bare 2024 as a number, and the value must be accepted
// whether or not the user quoted it.
impl<'de> Deserialize<'de> for ControlledScope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Unexpected;
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ControlledScope;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(CONTROLLED_SCOPE_FORM)
            }
            fn visit_str<E: serde::de::Error>(
                self,
                v: &str,
            ) -> std::result::Result<Self::Value, E> {
                match v {
                    "2024" => Ok(ControlledScope::Rules2024),
                    "2022" => Ok(ControlledScope::Rules2022),
                    "none" => Ok(ControlledScope::NoDeduction),
                    _ => Err(E::invalid_value(Unexpected::Str(v), &self)),
                }
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<Self::Value, E> {
                match v {
                    2024 => Ok(ControlledScope::Rules2024),
                    2022 => Ok(ControlledScope::Rules2022),
                    _ => Err(E::invalid_value(Unexpected::Unsigned(v), &self)),
                }
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<Self::Value, E> {
                match u64::try_from(v) {
                    Ok(u) => self.visit_u64(u),
                    Err(_) => Err(E::invalid_value(Unexpected::Signed(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// What a year's progress requirement is (domain reference §6).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WarningBasis {
    /// The year's own reduction (629号): the annual target, else the even annual rate.
    #[default]
    Annual,
    /// The even cumulative path from the base year, against the reduction since then.
    Cumulative,
}

impl WarningBasis {
    pub fn as_str(self) -> &'static str {
        match self {
            WarningBasis::Annual => "annual",
            WarningBasis::Cumulative => "cumulative",
        }
    }
}

/// Which grid emission factor year judges a plan's CO2 targets (domain
/// reference §9): each record's own year, or the plan's base year held over
/// the period so a cleaner grid elsewhere does not count as local effort.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum GridFactorVintage {
    #[default]
    RecordYear,
    BaseYear,
}

impl GridFactorVintage {
    pub fn as_str(self) -> &'static str {
        match self {
            GridFactorVintage::RecordYear => "record_year",
            GridFactorVintage::BaseYear => "base_year",
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
    pub memory_limit: Option<ByteSize>,
    /// Number of parallel partitions; defaults to the number of cores.
    #[serde(default)]
    pub target_partitions: Option<usize>,
    /// Directory for spill files and fetched remote inputs; the system temp dir if absent.
    #[serde(default)]
    pub spill_dir: Option<String>,
    /// Worker threads of the runtime; defaults to the number of cores.
    #[serde(default)]
    pub threads: Option<usize>,
    /// `df://host:port` of a carbonstat scheduler: the SQL steps and the
    /// dataset queries run on its cluster (a binary built with
    /// `--features distributed`; docs/distributed.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// On a cluster: a directory every executor reaches at the same path (a
    /// shared file system) for the run's intermediate tables and fetched
    /// inputs; engine.spill_dir or the system temp dir if absent, which is
    /// enough for a cluster on one machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_dir: Option<String>,
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

    /// The metrics textfile, resolved against the config file's directory.
    pub fn metrics_textfile(&self) -> Option<PathBuf> {
        self.config
            .metrics
            .textfile
            .as_ref()
            .map(|p| self.base_dir.join(p))
    }

    /// The bulletin's options, the template directory resolved against the
    /// config file's directory.
    pub fn report_options(&self) -> ReportOptions {
        ReportOptions {
            language: self.config.report.language,
            template_dir: self
                .config
                .report
                .template_dir
                .as_ref()
                .map(|d| self.base_dir.join(d)),
        }
    }

    pub fn from_str(raw: &str, path: &Path, base_dir: &Path) -> Result<Self> {
        let config: Config = serde_saphyr::from_str(raw).map_err(|e| Error::Config {
            file: path.to_path_buf(),
            message: parser_message(&e.to_string()),
        })?;
        config.validate().map_err(|message| Error::Config {
            file: path.to_path_buf(),
            message,
        })?;
        if let Some(problem) = config
            .report
            .template_dir
            .as_ref()
            .and_then(|d| crate::report::template_dir_problem(&base_dir.join(d)))
        {
            return Err(Error::Config {
                file: path.to_path_buf(),
                message: format!("report.template_dir: {problem}"),
            });
        }
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

    /// Where the run's scratch files go that a cluster's scheduler and
    /// executors read (the intermediate, factor and lookup tables):
    /// engine.shared_dir on a cluster, else engine.spill_dir.
    pub fn scratch_parent(&self) -> Result<Option<PathBuf>> {
        match (&self.config.engine.cluster, &self.config.engine.shared_dir) {
            (Some(_), Some(d)) => {
                let local = self.location("engine.shared_dir", d)?.local;
                local.map(Some).ok_or_else(|| Error::Config {
                    file: self.path.clone(),
                    message: format!(
                        "engine.shared_dir: '{d}' is not a local directory; give a directory every executor mounts at the same path (NFS, a ReadWriteMany volume)"
                    ),
                })
            }
            _ => self.spill_dir(),
        }
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

/// The YAML parser's message, with advice meant for programs using the
/// parser replaced by advice for the config's author.
fn parser_message(m: &str) -> String {
    const LIBRARY_ADVICE: &str = ", set DuplicateKeyPolicy in Options if acceptable";
    if m.contains(LIBRARY_ADVICE) {
        format!(
            "{}\na key is given twice: keep one of them",
            m.replace(LIBRARY_ADVICE, "").trim_end()
        )
    } else {
        m.to_string()
    }
}

/// The most threads `engine.threads` may ask for.
const MAX_THREADS: usize = 1024;

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
        if self.engine.target_partitions == Some(0) {
            return Err("engine.target_partitions: must be at least 1".into());
        }
        if self.engine.threads == Some(0) {
            return Err("engine.threads: must be at least 1".into());
        }
        // a thread each: beyond this the system refuses threads (a panic in
        // the runtime, then a hang) long before it runs any faster
        if let Some(t) = self.engine.threads.filter(|t| *t > MAX_THREADS) {
            return Err(format!(
                "engine.threads: {t} is more than {MAX_THREADS}; give the number of cores to use (this machine has {})",
                std::thread::available_parallelism().map_or(1, |n| n.get())
            ));
        }
        for spec in crate::input::ALL_INPUTS {
            let (sources, required) = self.inputs.get(spec.name);
            if sources.is_some_and(|s| s.patterns().is_empty()) {
                return Err(format!(
                    "inputs.{}: the list is empty and names no file; give the file(s), a path or a glob{}",
                    spec.name,
                    if required {
                        " (the input is required)"
                    } else {
                        ", or remove the key"
                    }
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "inputs:\n  energy: e.csv\n  gdp: g.csv\n  regions: r.csv\nfactors: f\noutput: out\nbase_year: 2020\n";

    #[test]
    fn minimal_config_gets_defaults() {
        let c = LoadedConfig::from_str(MINIMAL, Path::new("p.yaml"), Path::new("/x")).unwrap();
        assert_eq!(c.config.electricity_factor, ElectricityFactor::Provincial);
        assert_eq!(c.config.electricity_valuation, ElectricityValuation::Equal);
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

    /// A thread count the system cannot give is refused when the config is
    /// read (it panicked in the runtime and hung); an input list naming no
    /// file too (an empty energy list published a run without energy).
    #[test]
    fn threads_beyond_reason_and_empty_input_lists_are_refused() {
        let e = load(&with("engine:\n  threads: 100000")).unwrap_err();
        assert!(
            e.contains("engine.threads: 100000 is more than 1024"),
            "{e}"
        );
        assert!(load(&with("engine:\n  threads: 1024")).is_ok());
        let e = load(&MINIMAL.replace("  energy: e.csv\n", "  energy: []\n")).unwrap_err();
        assert!(
            e.contains("inputs.energy: the list is empty and names no file")
                && e.contains("(the input is required)"),
            "{e}"
        );
        let e = load(&MINIMAL.replace("  energy: e.csv\n", "  energy: e.csv\n  sinks: []\n"))
            .unwrap_err();
        assert!(
            e.contains("inputs.sinks: the list is empty") && e.contains("remove the key"),
            "{e}"
        );
    }

    /// A sheet is a name or a 0-based index; anything else says so.
    #[test]
    fn a_sheet_is_a_name_or_an_index() {
        let with_sheet = |v: &str| {
            MINIMAL.replace(
                "  energy: e.csv\n",
                &format!("  energy:\n    path: e.xlsx\n    sheet: {v}\n"),
            )
        };
        let c = load(&with_sheet("2")).unwrap();
        assert_eq!(c.inputs.energy.options().sheet, Some(SheetRef::Index(2)));
        let c = load(&with_sheet("能源消费")).unwrap();
        assert_eq!(
            c.inputs.energy.options().sheet,
            Some(SheetRef::Name("能源消费".into()))
        );
        let e = load(&with_sheet("-1")).unwrap_err();
        assert!(
            e.contains("sheet -1: give a sheet's name, or its 0-based index"),
            "{e}"
        );
    }

    /// A key given twice is named, with the line, and what to do.
    #[test]
    fn a_duplicate_key_says_to_keep_one() {
        let e = load(&format!("{MINIMAL}output: other\n")).unwrap_err();
        assert!(
            e.contains("output")
                && e.contains("a key is given twice: keep one of them")
                && !e.contains("DuplicateKeyPolicy"),
            "{e}"
        );
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

    fn load(raw: &str) -> std::result::Result<Config, String> {
        LoadedConfig::from_str(raw, Path::new("p.yaml"), Path::new("."))
            .map(|c| c.config)
            .map_err(|e| e.to_string())
    }

    /// MINIMAL with `line` added after base_year: the added key is on line 8.
    fn with(line: &str) -> String {
        format!("{MINIMAL}{line}\n")
    }

    #[test]
    fn lock_ttl_is_a_duration_that_reads_back_as_written() {
        let c = load(MINIMAL).unwrap();
        // the default lease: 10 min × 60 s = 600 s
        assert_eq!(c.lock_ttl.get().as_secs(), 600);
        let c = load(&with("lock_ttl: 90m")).unwrap();
        // 90 min × 60 s = 5 400 s
        assert_eq!(c.lock_ttl.get().as_secs(), 5400);
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["lock_ttl"], "90m");
        let back: Config = serde_json::from_value(json).unwrap();
        assert_eq!(back.lock_ttl.get().as_secs(), 5400);

        let e = load(&with("lock_ttl: soon")).unwrap_err();
        assert!(e.contains("p.yaml") && e.contains("line 8"), "{e}");
        assert!(e.contains("6h, 90m, 30s or 1d"), "{e}");
    }

    #[test]
    fn memory_limit_is_a_size_that_reads_back_as_written() {
        let c = load(&with("engine:\n  memory_limit: 1536MiB")).unwrap();
        let m = c.engine.memory_limit.as_ref().unwrap();
        // 1 536 × 1 024 × 1 024 = 1 610 612 736 bytes
        assert_eq!(m.bytes(), 1_610_612_736);
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["engine"]["memory_limit"], "1536MiB");
        let back: Config = serde_json::from_value(json).unwrap();
        assert_eq!(back.engine.memory_limit.unwrap().bytes(), 1_610_612_736);
        // a bare number is bytes
        let c = load(&with("engine:\n  memory_limit: 1000000")).unwrap();
        assert_eq!(c.engine.memory_limit.unwrap().bytes(), 1_000_000);
    }

    #[test]
    fn a_bad_memory_limit_names_its_line_and_the_form() {
        let e = load(&with(
            "engine:\n  target_partitions: 2\n  memory_limit: 2 gigs",
        ))
        .unwrap_err();
        assert!(e.contains("p.yaml") && e.contains("line 10"), "{e}");
        assert!(e.contains("2 gigs") && e.contains("2GiB, 1536MiB"), "{e}");
    }

    #[test]
    fn new_keys_have_their_defaults() {
        let c = load(MINIMAL).unwrap();
        assert_eq!(c.controlled_scope, ControlledScope::Rules2024);
        assert_eq!(c.warning_basis, WarningBasis::Annual);
        assert_eq!(c.grid_factor_vintage, GridFactorVintage::RecordYear);
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["controlled_scope"], "2024");
        assert_eq!(json["warning_basis"], "annual");
        assert_eq!(json["grid_factor_vintage"], "record_year");
    }

    #[test]
    fn controlled_scope_takes_a_year_as_number_or_text_or_none() {
        for (yaml, want) in [
            ("2024", ControlledScope::Rules2024),
            ("\"2024\"", ControlledScope::Rules2024),
            ("2022", ControlledScope::Rules2022),
            ("'2022'", ControlledScope::Rules2022),
            ("none", ControlledScope::NoDeduction),
            ("\"none\"", ControlledScope::NoDeduction),
        ] {
            let c = load(&with(&format!("controlled_scope: {yaml}")))
                .unwrap_or_else(|e| panic!("{yaml}: {e}"));
            assert_eq!(c.controlled_scope, want, "{yaml}");
            // the manifest's JSON reads back to the same value
            let back: Config = serde_json::from_value(serde_json::to_value(&c).unwrap()).unwrap();
            assert_eq!(back.controlled_scope, want, "{yaml}");
        }
        for bad in ["2023", "\"2020\"", "None", "null", "[2024]"] {
            let e = load(&with(&format!("controlled_scope: {bad}"))).unwrap_err();
            assert!(e.contains("p.yaml") && e.contains("line 8"), "{bad}: {e}");
            assert!(e.contains(r#"one of "2024", "2022" or none"#), "{bad}: {e}");
        }
    }

    #[test]
    fn warning_basis_is_annual_or_cumulative() {
        for (yaml, want) in [
            ("annual", WarningBasis::Annual),
            ("cumulative", WarningBasis::Cumulative),
        ] {
            let c = load(&with(&format!("warning_basis: {yaml}"))).unwrap();
            assert_eq!(c.warning_basis, want);
            assert_eq!(want.as_str(), yaml);
        }
        let e = load(&with("warning_basis: yearly")).unwrap_err();
        assert!(e.contains("p.yaml") && e.contains("line 8"), "{e}");
        assert!(e.contains("annual") && e.contains("cumulative"), "{e}");
    }

    #[test]
    fn grid_factor_vintage_is_record_year_or_base_year() {
        for (yaml, want) in [
            ("record_year", GridFactorVintage::RecordYear),
            ("base_year", GridFactorVintage::BaseYear),
        ] {
            let c = load(&with(&format!("grid_factor_vintage: {yaml}"))).unwrap();
            assert_eq!(c.grid_factor_vintage, want);
            assert_eq!(want.as_str(), yaml);
        }
        let e = load(&with("grid_factor_vintage: latest")).unwrap_err();
        assert!(e.contains("p.yaml") && e.contains("line 8"), "{e}");
        assert!(e.contains("record_year") && e.contains("base_year"), "{e}");
    }
}
