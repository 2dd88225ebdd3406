//! One error type for the library. Every variant says which class of failure it
//! is, because the command maps classes to documented exit codes: a user's file
//! or config is wrong (2), the data failed the quality threshold (3), or the run
//! itself failed (1).

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// pipeline.yaml is missing, unreadable or invalid.
    #[error("config {file}: {message}")]
    Config { file: PathBuf, message: String },

    /// An input file cannot be used at all (missing, unreadable, missing column).
    #[error("input {input} ({file}): {message}")]
    InputFile {
        input: String,
        file: String,
        message: String,
    },

    /// A factor set is missing, malformed or fails its self-check.
    #[error("factor set {dir}: {message}")]
    FactorSet { dir: String, message: String },

    /// A command-line value that cannot be used (an address, a path).
    #[error("{0}")]
    Usage(String),

    /// Too many rejected rows: the data is not fit to publish.
    #[error("{0}")]
    Quality(String),

    /// `verify` found differences.
    #[error("{0}")]
    NotVerified(String),

    /// Another run holds the output's lock.
    #[error("{0}")]
    Locked(String),

    /// The engine ran out of its memory limit.
    #[error("{0}")]
    Memory(String),

    /// The output location cannot be used.
    #[error("output {url}: {message}")]
    Output { url: String, message: String },

    /// A SQL step failed.
    #[error("SQL step {step}: {source}")]
    Sql {
        step: String,
        #[source]
        source: datafusion::error::DataFusionError,
    },

    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),

    #[error(transparent)]
    Arrow(#[from] datafusion::arrow::error::ArrowError),

    #[error(transparent)]
    Parquet(#[from] datafusion::parquet::errors::ParquetError),

    #[error("object store: {0}")]
    ObjectStore(#[from] object_store::Error),

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    /// Anything else that is our own fault rather than the user's.
    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// A SQL failure, or — when the engine hit its memory limit — a message
    /// that says which setting to change.
    pub(crate) fn sql(step: impl Into<String>, source: datafusion::error::DataFusionError) -> Self {
        if let datafusion::error::DataFusionError::ResourcesExhausted(what) = source.find_root() {
            return Error::Memory(format!(
                "{}: the query needs more memory than engine.memory_limit allows ({what}); \
                 raise engine.memory_limit in the config, or give engine.spill_dir a disk with room",
                step.into()
            ));
        }
        Error::Sql {
            step: step.into(),
            source,
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// Our own error when it travelled through the engine (an input file that
    /// turned out to be unreadable while a SQL step was scanning it).
    pub fn carried(&self) -> Option<&Error> {
        let df = match self {
            Error::Sql { source, .. } | Error::DataFusion(source) => source,
            _ => return None,
        };
        match df.find_root() {
            datafusion::error::DataFusionError::External(e) => e.downcast_ref::<Error>(),
            _ => None,
        }
    }

    /// The documented exit code for this error.
    pub fn exit_code(&self) -> i32 {
        if let Some(inner) = self.carried() {
            return inner.exit_code();
        }
        match self {
            Error::Config { .. }
            | Error::Usage(_)
            | Error::InputFile { .. }
            | Error::FactorSet { .. } => 2,
            Error::Quality(_) => 3,
            Error::Locked(_) => 4,
            Error::NotVerified(_) => 5,
            _ => 1,
        }
    }
}
