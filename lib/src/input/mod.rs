//! Reading the inputs (the `energy`, `sector_energy`, `gdp`, `regions`,
//! `targets`, `production`, `sinks`, `groups` and `green_power` contracts) as text, exactly as the user wrote them.
//!
//! Every column is read as a string: types are decided by the validation step
//! in SQL (`sql/20_validate.sql`), so a malformed value becomes a reject row with
//! its file, line and rule instead of a failed cast or, worse, an inferred type
//! that strips the leading zeros of a code. Each raw row carries
//! `source_file` and `source_line`, and `row_error` when the row itself could
//! not be split into the header's columns.
//!
//! File-level problems — no file matches, a required column is missing, the
//! bytes are not UTF-8 — fail with an [`Error::InputFile`] that names the file
//! and says what to do.

pub(crate) mod batch;
pub(crate) mod csv;
pub(crate) mod csv_records;
pub(crate) mod encoding;
pub(crate) mod excel;
#[cfg(feature = "distributed")]
pub(crate) mod file_scan;
pub(crate) mod headers;
pub(crate) mod parquet;
pub(crate) mod readers;
pub(crate) mod register;
pub(crate) mod resolve;

use std::path::PathBuf;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use serde::{Deserialize, Serialize};

use crate::config::InputOptions;
use crate::store::Location;
use object_store::path::Path as ObjectPath;

/// The columns of one input contract.
#[derive(Debug, Clone, Copy)]
pub struct InputSpec {
    pub name: &'static str,
    pub required: &'static [&'static str],
    pub optional: &'static [&'static str],
}

impl InputSpec {
    pub fn columns(&self) -> impl Iterator<Item = &'static str> {
        self.required.iter().chain(self.optional.iter()).copied()
    }

    /// The raw table's name in SQL.
    pub fn table(&self) -> String {
        format!("raw_{}", self.name)
    }

    pub fn raw_schema(&self) -> SchemaRef {
        let mut fields: Vec<Field> = self
            .columns()
            .map(|c| Field::new(c, DataType::Utf8View, true))
            .collect();
        fields.push(Field::new("source_file", DataType::Utf8View, false));
        fields.push(Field::new("source_line", DataType::Int64, false));
        fields.push(Field::new("row_error", DataType::Utf8View, true));
        Arc::new(Schema::new(fields))
    }
}

pub const ENERGY: InputSpec = InputSpec {
    name: "energy",
    required: &[
        "enterprise_id",
        "region_code",
        "sector_code",
        "year",
        "energy_code",
        "quantity",
        "unit",
    ],
    optional: &["enterprise_name", "month", "use", "flow"],
};

pub const SECTOR_ENERGY: InputSpec = InputSpec {
    name: "sector_energy",
    required: &[
        "region_code",
        "sector_code",
        "year",
        "energy_code",
        "quantity",
        "unit",
    ],
    optional: &["use", "flow"],
};

pub const GDP: InputSpec = InputSpec {
    name: "gdp",
    required: &["region_code", "year", "gdp"],
    optional: &["gdp_index"],
};

pub const REGIONS: InputSpec = InputSpec {
    name: "regions",
    required: &["region_code", "name", "level"],
    optional: &["parent_code"],
};

pub const TARGETS: InputSpec = InputSpec {
    name: "targets",
    required: &[
        "region_code",
        "plan",
        "base_year",
        "target_year",
        "indicator",
        "value",
    ],
    optional: &[],
};

/// Production volumes of products with process CO2 (clinker, lime, carbide).
/// `cao` and `mgo` are the clinker's mass fractions (0.65 for 65 %).
pub const PRODUCTION: InputSpec = InputSpec {
    name: "production",
    required: &["region_code", "year", "product_code", "quantity", "unit"],
    optional: &["enterprise_id", "cao", "mgo"],
};

/// Carbon sinks per region, year and ecosystem: removals as reported (t CO2)
/// or a growing-stock change (m3).
pub const SINKS: InputSpec = InputSpec {
    name: "sinks",
    required: &[
        "region_code",
        "year",
        "ecosystem",
        "method",
        "quantity",
        "unit",
    ],
    optional: &[],
};

/// Groups of enterprises (zero-carbon parks, key energy-using units, any
/// other set): one row per member and period.
pub const GROUPS: InputSpec = InputSpec {
    name: "groups",
    required: &["group_id", "group_name", "kind", "enterprise_id"],
    optional: &["from_year", "to_year"],
};

/// Certified green power an enterprise bought (绿证, 绿电交易).
pub const GREEN_POWER: InputSpec = InputSpec {
    name: "green_power",
    required: &["enterprise_id", "year", "quantity", "unit", "kind"],
    optional: &[],
};

pub const ALL_INPUTS: [InputSpec; 9] = [
    ENERGY,
    SECTOR_ENERGY,
    GDP,
    REGIONS,
    TARGETS,
    PRODUCTION,
    SINKS,
    GROUPS,
    GREEN_POWER,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Parquet,
    Xlsx,
    Xls,
}

/// One input file, identified by content.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InputFile {
    /// The path as the manifest shows it: relative to the config file when it
    /// lies below it, the URL for a remote object.
    pub path: String,
    /// Where it is read from: the file itself, or the local copy of a remote object.
    #[serde(skip)]
    pub local: PathBuf,
    pub format: Format,
    pub size: u64,
    pub sha256: String,
    /// Modification time as listed (RFC 3339), for the cheap no-change check.
    #[serde(default)]
    pub last_modified: String,
    /// The object's ETag, where the store has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e_tag: Option<String>,
    /// How the file is read (from the config).
    #[serde(skip)]
    pub options: InputOptions,
    /// The text encoding of a CSV file, as detected or configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<TextEncoding>,
    /// The sheet of a workbook that was read, and its header row (1-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_row: Option<usize>,
}

impl InputFile {
    /// How rows of this file name their source: the path, and for a workbook
    /// the sheet too (`data/x.xlsx [能源消费]`).
    pub(crate) fn source_name(&self) -> String {
        match &self.sheet {
            Some(sheet) => format!("{} [{sheet}]", self.path),
            None => self.path.clone(),
        }
    }
}

/// The files of one input.
#[derive(Debug, Clone)]
pub struct ResolvedInput {
    pub spec: InputSpec,
    pub files: Vec<InputFile>,
}

/// One input file as listed: metadata only, nothing read yet.
#[derive(Debug, Clone)]
pub struct ListedFile {
    pub path: String,
    pub format: Format,
    pub size: u64,
    pub last_modified: String,
    pub e_tag: Option<String>,
    options: InputOptions,
    source: Source,
}

#[derive(Debug, Clone)]
pub(crate) enum Source {
    Local(PathBuf),
    Remote(Location, ObjectPath),
}

/// The listed files of one input.
#[derive(Debug, Clone)]
pub struct ListedInput {
    pub spec: InputSpec,
    pub files: Vec<ListedFile>,
}

#[cfg(test)]
mod readers_tests;

pub use encoding::TextEncoding;
pub use register::{FILE_ROWS_TABLE, file_rows_query, register_raw};
pub use resolve::{fetch_inputs, list_inputs, read_local_file};
