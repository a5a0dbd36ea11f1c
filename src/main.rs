//! The `tunnelnas` command: parses the command line and sets up logging;
//! starting a node ([`tunnelnas::node`]), the demo ([`tunnelnas::demo`])
//! and everything else live in the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;
use tunnelnas::{demo, node};

/// Network access server for wholesale broadband: PPPoE LAC, L2TPv2 LNS
/// and tunnel switch, driven by RADIUS.
#[derive(Debug, Parser)]
#[command(name = "tunnelnas", version, about)]
struct Cli {
    /// Log line format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    /// Log filter (e.g. `info`, `debug`, `tunnelnas::l2tp=trace`); overrides
    /// RUST_LOG when given. Default: RUST_LOG, else `info`.
    #[arg(long, global = true)]
    log_level: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the roles the configuration enables.
    Run {
        /// Configuration file (TOML).
        #[arg(short, long)]
        config: PathBuf,
    },
    /// The built-in demo (as root): emulated PPPoE subscribers in a network
    /// namespace dial into the LAC (config/demo.toml), which tunnels them
    /// to an emulated LNS on 127.0.0.2; metrics on 127.0.0.1:9180.
    Demo {
        /// Emulated subscribers.
        #[arg(long, default_value_t = 10)]
        subscribers: u32,
        /// Stop after this many seconds (default: at Ctrl-C).
        #[arg(long)]
        seconds: Option<u64>,
    },
    /// Validate a configuration and print the effective one, secrets redacted.
    CheckConfig {
        /// Configuration file (TOML).
        #[arg(short, long)]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(err) = init_logging(cli.log_format, cli.log_level.as_deref()) {
        eprintln!("tunnelnas: {err:#}");
        return ExitCode::from(2);
    }
    let result = match cli.command {
        Command::CheckConfig { config } => node::check_config(&config),
        Command::Run { config } => node::run(&config),
        Command::Demo {
            subscribers,
            seconds,
        } => demo::demo(demo::DemoOptions {
            subscribers,
            seconds,
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("tunnelnas: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat, level: Option<&str>) -> anyhow::Result<()> {
    let filter = match level {
        Some(level) => EnvFilter::try_new(level)
            .with_context(|| format!("--log-level `{level}` is not a valid filter"))?,
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    // Colours only on a terminal: a log file or journal gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
    Ok(())
}
