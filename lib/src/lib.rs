//! carbonstat: energy and carbon accounting for Chinese statistics bureaus on
//! Apache DataFusion.
//!
//! The computation itself is SQL (`sql/*.sql`, compiled in as [`steps`]); this
//! crate owns what SQL is bad at: the config, the factor sets and their
//! self-check, reading inputs with their file and line, the identifier checks
//! (as UDFs), writing deterministic Parquet, publishing and the manifest.

pub mod audit;
pub mod config;
pub mod csv_records;
pub mod error;
pub mod factors;
pub mod factors_diff;
pub mod generate;
pub mod ids;
pub mod ingest;
pub mod lock;
pub mod lookup;
pub mod manifest;
pub mod pipeline;
pub mod publish;
pub mod readers;
pub mod schema;
pub mod session;
pub mod steps;
pub mod storage;
pub mod text;

pub use datafusion;
pub use error::{Error, Result};
