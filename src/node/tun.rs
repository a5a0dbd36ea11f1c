//! A worker's TUN side, for sessions whose PPP ends here (the LNS role):
//! the device is created once per node with one queue per worker
//! ([`crate::dataplane::tun`]); the pools are routed into it at start,
//! Framed-Routes and addresses outside the pools as sessions come and go
//! ([`Command::AddRoute`](crate::session::Command::AddRoute)).
//!
//! A packet read from the queue lands [`TUN_HEADROOM`] bytes into the
//! buffer, so the core wraps it for its L2TP leg in place; a packet the
//! core delivers to TUN is written as it lies in the receive buffer. A
//! full queue drops (counted by the kernel as the device's tx drops):
//! nothing waits on TUN in the worker's loop.

use std::io;
use std::sync::Arc;

use anyhow::Context as _;
use ipnet::IpNet;

use crate::dataplane::tun::{AsyncTunQueue, TunConfig, TunDevice, TunQueue};
pub use crate::session::TUN_HEADROOM;

/// Largest IP packet read from TUN.
pub const TUN_PACKET_MAX: usize = 65_535;

/// Packets read from TUN per wake-up, at most, before the loop serves
/// its other inputs.
pub const TUN_BUDGET: usize = 64;

/// The node's TUN device and the queues for its workers.
#[derive(Debug)]
pub struct TunPlane {
    /// The device (routes, name).
    pub device: Arc<TunDevice>,
    /// One queue per worker, in worker order.
    pub queues: Vec<TunQueue>,
}

impl TunPlane {
    /// Creates the device (`config`), gives it our PPP address `local`
    /// (`[lns] local_address`, so the node answers its subscribers there)
    /// and routes `routes` (the pools) into it.
    ///
    /// # Errors
    /// The device cannot be made, or an address or route is refused; the
    /// error names the device and the prefix.
    pub fn open(
        config: &TunConfig,
        local: std::net::Ipv4Addr,
        routes: &[IpNet],
    ) -> anyhow::Result<Self> {
        let mut device = TunDevice::create(config).with_context(|| {
            format!(
                "cannot create the TUN device (lns.tun_name = {:?})",
                config.name
            )
        })?;
        device
            .add_address(std::net::IpAddr::V4(local), None, 32)
            .with_context(|| {
                format!("cannot give the TUN device our PPP address {local} (lns.local_address)")
            })?;
        for route in routes {
            device
                .add_route(*route)
                .with_context(|| format!("cannot route pool prefix {route} into the TUN device"))?;
        }
        let queues = device.take_queues();
        Ok(Self {
            device: Arc::new(device),
            queues,
        })
    }
}

/// A worker's queue and the device it belongs to.
#[derive(Debug)]
pub struct WorkerTun {
    queue: AsyncTunQueue,
    device: Arc<TunDevice>,
    /// Packets the queue refused (full or failing).
    pub send_failures: u64,
}

impl WorkerTun {
    /// Registers `queue` with tokio.
    ///
    /// # Errors
    /// Outside a runtime.
    pub fn new(queue: TunQueue, device: Arc<TunDevice>) -> io::Result<Self> {
        Ok(Self {
            queue: AsyncTunQueue::new(queue)?,
            device,
            send_failures: 0,
        })
    }

    /// Waits for a packet, reads it into `buf`.
    ///
    /// # Errors
    /// Device errors.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.queue.recv(buf).await
    }

    /// Reads a packet without waiting (`WouldBlock` when none).
    ///
    /// # Errors
    /// `WouldBlock`, or a device error.
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.queue.get_ref().recv(buf)
    }

    /// Writes one packet without waiting; a refusal is counted.
    pub fn send(&mut self, packet: &[u8]) {
        if let Err(error) = self.queue.get_ref().send(packet) {
            self.send_failures += 1;
            if error.kind() != io::ErrorKind::WouldBlock {
                tracing::debug!(%error, "TUN write failed");
            }
        }
    }

    /// Routes `net` into the device.
    pub fn add_route(&self, net: IpNet) {
        if let Err(error) = self.device.add_route(net) {
            tracing::warn!(%net, %error, "cannot install a subscriber route");
        }
    }

    /// Withdraws a route.
    pub fn remove_route(&self, net: IpNet) {
        if let Err(error) = self.device.remove_route(net) {
            tracing::debug!(%net, %error, "cannot remove a subscriber route");
        }
    }
}

/// Waits on `tun`'s queue, or forever without one.
pub async fn recv_tun(tun: &Option<WorkerTun>, buf: &mut [u8]) -> io::Result<usize> {
    match tun {
        Some(tun) => tun.recv(buf).await,
        None => std::future::pending().await,
    }
}
