//! Starting a node: the configuration, the RADIUS dictionary and client,
//! the RFC 5176 listener, the roles the configuration enables (each with
//! its workers) and the management plane, run until a signal or a
//! failure. `main.rs` only parses the command line and calls in here.
//!
//! This is the library's edge towards the process: errors are
//! `anyhow::Error`s with the file and key they concern, for the operator.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

pub mod convert;
pub mod tun;
pub mod worker;

use crate::aaa::SessionIdAllocator;
use crate::aaa::dictionary::Dictionary;
use crate::aaa::dynauth::{DynAuthListener, DynAuthPolicy};
use crate::aaa::request::NasIdentity;
use crate::aaa::service::{AaaConfig, AaaHandle};
use crate::config::{Config, Role};
use crate::metrics::Metrics;
use crate::mgmt::{self, MgmtState};
use crate::node::worker::Lac;

/// The RADIUS dictionary the configuration names, or the built-in one.
pub fn load_dictionary(config: &Config) -> anyhow::Result<Dictionary> {
    match &config.radius.dictionary {
        Some(path) => Dictionary::load(path)
            .with_context(|| format!("key `radius.dictionary`: cannot load {}", path.display())),
        None => Dictionary::builtin().context("the built-in RADIUS dictionary is broken"),
    }
}

/// Files the configuration names (local users), read now so a bad one is
/// reported at start with the key that names it.
pub fn load_aaa(config: &Config, path: &std::path::Path) -> anyhow::Result<AaaConfig> {
    let mut seed = [0u8; 32];
    rand::fill(&mut seed);
    AaaConfig::load(config, seed)
        .with_context(|| format!("config file {}: key `radius.local_users`", path.display()))
}

/// `tunnelnas check-config`: validates the file, the dictionary and the
/// files it names, and prints the effective configuration.
pub fn check_config(path: &std::path::Path) -> anyhow::Result<()> {
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

/// `tunnelnas run`: loads the configuration and serves its roles until
/// SIGTERM or SIGINT.
pub fn run(path: &std::path::Path) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    let dictionary =
        load_dictionary(&config).with_context(|| format!("config file {}", path.display()))?;
    let aaa_config = load_aaa(&config, path)?;
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
    runtime.block_on(serve(
        config,
        path.to_path_buf(),
        aaa_config,
        role,
        shutdown_signal(),
    ))
}

/// Starts the management plane, RADIUS and the roles, and runs until a
/// signal or a failure.
pub async fn serve(
    config: Config,
    path: PathBuf,
    aaa_config: AaaConfig,
    role: Role,
    shutdown: impl Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::new());
    let mut state = MgmtState::new(metrics.clone(), &config, role);
    let mut tasks = tokio::task::JoinSet::new();

    let aaa = AaaHandle::start(aaa_config).await.with_context(|| {
        format!(
            "config file {}: cannot start the RADIUS client",
            path.display()
        )
    })?;
    {
        let mut events = aaa.events();
        let metrics = metrics.clone();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(event) => metrics.record_aaa(&event),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        });
    }

    // RFC 5176 listener: its requests go to the LAC.
    let mut dynauth_rx = None;
    let _dynauth = match &config.radius.dynauth {
        Some(dynauth) => {
            let (tx, rx) = tokio::sync::mpsc::channel(256);
            let policy = DynAuthPolicy::from_config(
                dynauth,
                NasIdentity::from_config(&config.node, &config.radius),
            );
            let listener =
                DynAuthListener::start(dynauth.listen, policy, tx, Duration::from_secs(5))
                    .await
                    .with_context(|| {
                        format!(
                            "config file {}: key `radius.dynauth.listen`: cannot bind {}",
                            path.display(),
                            dynauth.listen
                        )
                    })?;
            tracing::info!(addr = %listener.local_addr(), "RFC 5176 dynamic authorization listening");
            let mut events = listener.events();
            let metrics = metrics.clone();
            tokio::spawn(async move {
                while let Ok(event) = events.recv().await {
                    metrics.record_dynauth(&event);
                }
            });
            dynauth_rx = Some(rx);
            Some(listener)
        }
        None => None,
    };

    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let mut lac_task = None;
    if let Some(lac_config) = convert::node_config(&config) {
        let ids = SessionIdAllocator::open(&config.node.state_dir).with_context(|| {
            format!(
                "config file {}: key `node.state_dir`: cannot use {}",
                path.display(),
                config.node.state_dir.display()
            )
        })?;
        let prefix = format!("{:08X}-", ids.epoch());
        let tun = match &config.lns {
            Some(lns) => {
                let routes: Vec<ipnet::IpNet> = lns
                    .pools
                    .iter()
                    .flat_map(|p| p.networks.iter().copied().map(ipnet::IpNet::V4))
                    .collect();
                let tun_config = crate::dataplane::tun::TunConfig {
                    name: lns.tun_name.clone(),
                    mtu: config.ppp.mru,
                    queues: usize::from(lac_config.workers.max(1)),
                };
                Some(
                    tun::TunPlane::open(&tun_config, lns.local_address, &routes)
                        .with_context(|| format!("config file {}", path.display()))?,
                )
            }
            None => None,
        };
        let (lac, api) = Lac::open(
            lac_config,
            config.l2tp.listen,
            prefix,
            aaa.clone(),
            metrics.clone(),
            dynauth_rx.take(),
            tun,
        )
        .await
        .with_context(|| format!("config file {}", path.display()))?;
        state = state.with_role(Arc::new(api));
        let mut stop = shutdown_rx.clone();
        lac_task = Some(tokio::spawn(lac.run(async move {
            let _ = stop.wait_for(|stop| *stop).await;
        })));
    }

    let servers = mgmt::bind(Arc::new(state), config.metrics.listen, config.api.listen).await?;
    for (addr, serving) in servers {
        tracing::info!(%addr, "management HTTP listening");
        tasks.spawn(serving);
    }
    tracing::info!(
        %role,
        nas_identifier = %config.node.nas_identifier,
        version = crate::metrics::VERSION,
        "tunnelnas started"
    );
    let outcome = tokio::select! {
        signal = shutdown => {
            signal?;
            tracing::info!("shutting down");
            Ok(())
        }
        Some(done) = tasks.join_next() => {
            match done {
                Ok(Ok(())) => Err(anyhow::anyhow!("management server stopped")),
                Ok(Err(err)) => Err(anyhow::Error::from(err).context("management server failed")),
                Err(err) => Err(anyhow::Error::from(err).context("management server panicked")),
            }
        }
        Some(done) = async { match lac_task.as_mut() { Some(t) => Some(t.await), None => std::future::pending().await } } => {
            lac_task = None;
            match done {
                Ok(Ok(())) => Err(anyhow::anyhow!("the LAC stopped")),
                Ok(Err(err)) => Err(err.context("the LAC failed")),
                Err(err) => Err(anyhow::Error::from(err).context("the LAC panicked")),
            }
        }
    };
    let _ = shutdown_tx.send(true);
    if let Some(task) = lac_task {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::error!(error = %format!("{err:#}"), "LAC shutdown failed"),
            Err(err) => tracing::error!(%err, "LAC task panicked"),
        }
    }
    aaa.shutdown().await;
    outcome
}

/// Resolves at SIGINT or SIGTERM.
pub async fn shutdown_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    tokio::select! {
        res = tokio::signal::ctrl_c() => res.context("cannot watch SIGINT")?,
        _ = term.recv() => {}
    }
    Ok(())
}
