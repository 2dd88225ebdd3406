//! carbonstat: energy and carbon accounting for Chinese statistics bureaus on
//! Apache DataFusion.
//!
//! The computation itself is SQL (`sql/*.sql`, compiled in as [`engine::steps`]); this
//! crate owns what SQL is bad at: the config, the factor sets and their
//! self-check, reading inputs with their file and line, the identifier checks
//! (as UDFs), writing deterministic Parquet, publishing and the manifest.

pub mod audit;
pub mod config;
pub mod digest;
pub mod engine;
pub mod error;
pub mod factors;
pub mod input;
pub mod pipeline;
pub mod publish;
pub mod report;
pub mod sample;
pub mod store;

pub use datafusion;
pub use error::{Error, Result};
