//! The `tunnelnas` command: parse arguments, load configuration, start the
//! roles. Everything else lives in the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;
use tunnelnas::aaa::dictionary::Dictionary;
use tunnelnas::aaa::service::AaaConfig;
use tunnelnas::config::Config;
use tunnelnas::metrics::Metrics;
use tunnelnas::mgmt::{self, MgmtState};

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
        Command::CheckConfig { config } => check_config(&config),
        Command::Run { config } => run(&config),
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
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
    Ok(())
}

/// The RADIUS dictionary the configuration names, or the built-in one.
fn load_dictionary(config: &Config) -> anyhow::Result<Dictionary> {
    match &config.radius.dictionary {
        Some(path) => Dictionary::load(path)
            .with_context(|| format!("key `radius.dictionary`: cannot load {}", path.display())),
        None => Dictionary::builtin().context("the built-in RADIUS dictionary is broken"),
    }
}

/// Files the configuration names (local users), read now so a bad one is
/// reported at start with the key that names it.
fn load_aaa(config: &Config, path: &std::path::Path) -> anyhow::Result<AaaConfig> {
    let mut seed = [0u8; 32];
    rand::fill(&mut seed);
    AaaConfig::load(config, seed)
        .with_context(|| format!("config file {}: key `radius.local_users`", path.display()))
}

fn check_config(path: &std::path::Path) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    load_dictionary(&config).with_context(|| format!("config file {}", path.display()))?;
    load_aaa(&config, path)?;
    let role = config.role().map(|r| r.to_string()).unwrap_or_default();
    println!("# {}: valid configuration for role {role}", path.display());
    println!(
        "# effective configuration (defaults and TUNNELNAS_* overrides applied, secrets redacted)"
    );
    print!("{}", config.to_redacted_toml());
    Ok(())
}

fn run(path: &std::path::Path) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    let dictionary =
        load_dictionary(&config).with_context(|| format!("config file {}", path.display()))?;
    let _aaa = load_aaa(&config, path)?;
    tracing::info!(
        attributes = dictionary.attributes().count(),
        vendors = dictionary.vendors().count(),
        source = %config
            .radius
            .dictionary
            .as_ref()
            .map_or_else(|| "built-in".to_owned(), |p| p.display().to_string()),
        "RADIUS dictionary loaded"
    );
    let role = config.role().context("the configuration enables no role")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("tunnelnas")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let metrics = Arc::new(Metrics::new());
        let state = Arc::new(MgmtState::new(metrics.clone(), &config, role));
        let servers = mgmt::bind(state, config.metrics.listen, config.api.listen).await?;
        let mut tasks = tokio::task::JoinSet::new();
        for (addr, serving) in servers {
            tracing::info!(%addr, "management HTTP listening");
            tasks.spawn(serving);
        }
        tracing::info!(
            %role,
            nas_identifier = %config.node.nas_identifier,
            version = tunnelnas::metrics::VERSION,
            "tunnelnas started"
        );
        tracing::warn!(
            %role,
            "this build serves the management plane only: the role's PPPoE, PPP and L2TP drivers are not wired in yet"
        );
        tokio::select! {
            signal = shutdown_signal() => {
                signal?;
                tracing::info!("shutting down");
                Ok(())
            }
            Some(done) = tasks.join_next() => {
                match done {
                    Ok(Ok(())) => anyhow::bail!("management server stopped"),
                    Ok(Err(err)) => Err(anyhow::Error::from(err).context("management server failed")),
                    Err(err) => Err(anyhow::Error::from(err).context("management server panicked")),
                }
            }
        }
    })
}

async fn shutdown_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    tokio::select! {
        res = tokio::signal::ctrl_c() => res.context("cannot watch SIGINT")?,
        _ = term.recv() => {}
    }
    Ok(())
}
