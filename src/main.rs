//! The `tunnelnas` command: parses the command line and sets up logging;
//! starting a node ([`tunnelnas::node`]), the demo ([`tunnelnas::demo`])
//! and everything else live in the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;
use tunnelnas::{demo, dial, node};

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
    /// Dial an LNS as an L2TP LAC client (RFC 2661 client-initiated mode):
    /// tunnel, call, PPP; the address goes on a TUN device. Runs until
    /// SIGINT/SIGTERM, then hangs up.
    Dial {
        /// The LNS, ADDR[:PORT] (port 1701 by default).
        #[arg(long)]
        lns: String,
        /// PPP user name.
        #[arg(long)]
        user: String,
        /// PPP password.
        #[arg(long, env = "TUNNELNAS_DIAL_PASSWORD", hide_env_values = true)]
        password: String,
        /// L2TP tunnel secret (tunnel authentication); none by default.
        #[arg(long, env = "TUNNELNAS_DIAL_SECRET", hide_env_values = true)]
        secret: Option<String>,
        /// Host Name sent in the SCCRQ.
        #[arg(long)]
        host_name: Option<String>,
        /// TUN device for the call's address.
        #[arg(long, default_value = "tndial0")]
        tun: String,
        /// Authentication methods accepted.
        #[arg(long, value_enum, default_value_t = DialAuth::Any)]
        auth: DialAuth,
        /// Only our /32 on the TUN device, without the LNS as its peer (no route).
        #[arg(long)]
        no_route: bool,
        /// Calls on the tunnel; more than one: no TUN, report each address (load generator).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=60000))]
        count: u32,
    },
    /// Validate a configuration and print the effective one, secrets redacted.
    CheckConfig {
        /// Configuration file (TOML).
        #[arg(short, long)]
        config: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DialAuth {
    Pap,
    Chap,
    Mschapv2,
    Any,
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
        Command::Dial {
            lns,
            user,
            password,
            secret,
            host_name,
            tun,
            auth,
            no_route,
            count,
        } => dial::dial(&dial::DialOptions {
            lns,
            user,
            password,
            secret,
            host_name,
            tun,
            auth: match auth {
                DialAuth::Pap => dial::AuthChoice::Pap,
                DialAuth::Chap => dial::AuthChoice::Chap,
                DialAuth::Mschapv2 => dial::AuthChoice::MsChapV2,
                DialAuth::Any => dial::AuthChoice::Any,
            },
            no_route,
            count,
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
