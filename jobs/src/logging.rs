//! Logs go to stderr (stdout is for the summary), as text for people or JSON
//! lines for machines. DataFusion logs through the `log` crate; it is bridged
//! in so its warnings are not lost. `RUST_LOG` overrides the levels.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::LogFormat;

pub fn init(format: LogFormat, quiet: bool) {
    let _ = tracing_log::LogTracer::init();
    let default = if quiet {
        "warn"
    } else {
        "warn,carbonstat=info,carbonstat_jobs=info"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
