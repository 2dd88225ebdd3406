//! The DataFusion engine as carbonstat sets it up: the session (memory
//! limit, spill directory, the run's parameters and factor tables), the step
//! runner that executes `sql/*.sql` statement by statement, the `lookup`
//! UDF, the text and identifier UDFs, and what a finished plan reports.

pub mod chunked_aggregate;
#[cfg(feature = "distributed")]
pub mod cluster;
pub(crate) mod ids;
pub(crate) mod lookup;
pub mod memory;
pub(crate) mod metrics;
pub(crate) mod queries;
pub(crate) mod session;
pub(crate) mod steps;
pub(crate) mod text;

pub use ids::uscc_check_char;
pub use session::{new_session, register_run};
pub use steps::{STEPS, Step, run_sql, step};
