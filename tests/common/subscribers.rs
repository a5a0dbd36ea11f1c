//! A subscriber emulator: many PPPoE subscribers (each its own
//! locally-administered MAC) on one interface of a test namespace, each
//! running our PPPoE discovery client core (`tunnelnas::pppoe::Client`) and
//! a PPP client link (`tunnelnas::ppp::link::Link`) up to LCP and
//! authentication, over one AF_PACKET socket (`PacketSocket`).
//!
//! The links run no NCP (IPCP and IPv6CP off): a test sends and checks the
//! network-layer frames itself ([`Subscribers::send_ppp`] and
//! [`SubscriberStatus::frames`]), so every frame the LNS gets is one the
//! test chose. LCP and authentication frames go to the link; every session
//! frame received is also recorded.
//!
//! ```ignore
//! let subs = Subscribers::start(&subs_ns, "veth0", vec![SubscriberSpec::new(0, "alice", "pw")])?;
//! subs.dial(0)?;
//! let status = subs.wait_authenticated(0, Duration::from_secs(20))?;
//! subs.send_ppp(0, Protocol::Ipv4, &packet)?;
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tunnelnas::dataplane::packet::{PacketSocket, RecvBatch};
use tunnelnas::ppp::auth::AuthMethod;
use tunnelnas::ppp::link::{Credentials, DownReason, Link, LinkConfig, LinkEvent};
use tunnelnas::pppoe::{Client, ClientConfig, ClientEvent};
use tunnelnas::wire::ethernet::{EtherType, EthernetRepr, Frame, MacAddress, VlanStack};
use tunnelnas::wire::ppp::{Frame as PppFrame, FrameHeader, Protocol};
use tunnelnas::wire::pppoe::{SessionHeader, SessionPacket};

use super::netns::Netns;
use super::{Context, Result, anyhow, ensure, wait_until};

/// Room in front of a PPP information field for Ethernet, PPPoE and protocol.
const HEADROOM: usize = 64;
/// Frames recorded per subscriber at most.
const MAX_FRAMES: usize = 4096;

/// The MAC of subscriber `index`: locally administered, unicast,
/// `02:5e:xx:xx:xx:xx`.
pub fn subscriber_mac(index: u32) -> MacAddress {
    let [_, b, c, d] = index.to_be_bytes();
    MacAddress::new([0x02, 0x5e, 0x10, b, c, d])
}

/// One subscriber to emulate.
#[derive(Debug, Clone)]
pub struct SubscriberSpec {
    /// Its MAC.
    pub mac: MacAddress,
    /// PAP Peer-ID / CHAP Name.
    pub user: String,
    /// Password.
    pub password: String,
    /// Methods it accepts, in order of preference (it Configure-Naks any
    /// other with the first of these).
    pub auth_methods: Vec<AuthMethod>,
}

impl SubscriberSpec {
    /// Subscriber `index` (MAC [`subscriber_mac`]) with `user` /
    /// `password`, accepting MS-CHAPv2, CHAP and PAP.
    pub fn new(index: u32, user: &str, password: &str) -> Self {
        Self {
            mac: subscriber_mac(index),
            user: user.to_owned(),
            password: password.to_owned(),
            auth_methods: vec![AuthMethod::MsChapV2, AuthMethod::ChapMd5, AuthMethod::Pap],
        }
    }

    /// Accepts only `methods`.
    pub fn methods(mut self, methods: &[AuthMethod]) -> Self {
        self.auth_methods = methods.to_vec();
        self
    }
}

/// What one subscriber has seen so far.
#[derive(Debug, Clone)]
pub struct SubscriberStatus {
    /// Its MAC.
    pub mac: MacAddress,
    /// Its user name.
    pub user: String,
    /// Discovery started.
    pub dialing: bool,
    /// PPPoE SESSION_ID once the PADS came.
    pub session_id: Option<u16>,
    /// The access concentrator's MAC.
    pub ac_mac: Option<MacAddress>,
    /// LCP reached Opened (at least once).
    pub lcp_up: bool,
    /// The method LCP agreed for us to authenticate with.
    pub auth_method: Option<AuthMethod>,
    /// Authentication succeeded (PAP-Ack, CHAP Success, MS-CHAPv2 success
    /// with a verified authenticator response).
    pub authenticated: bool,
    /// Discovery failed.
    pub discovery_failure: Option<String>,
    /// The access concentrator sent a PADT.
    pub padt_received: bool,
    /// Its Generic-Error text.
    pub padt_reason: Option<String>,
    /// We sent a PADT.
    pub padt_sent: bool,
    /// An LCP Terminate-Request arrived.
    pub terminate_request_received: bool,
    /// The PPP link went down, and why.
    pub link_down: Option<DownReason>,
    /// Every PPP frame received on the session (protocol, information
    /// field), oldest first.
    pub frames: Vec<(Protocol, Vec<u8>)>,
}

impl SubscriberStatus {
    fn new(spec: &SubscriberSpec) -> Self {
        Self {
            mac: spec.mac,
            user: spec.user.clone(),
            dialing: false,
            session_id: None,
            ac_mac: None,
            lcp_up: false,
            auth_method: None,
            authenticated: false,
            discovery_failure: None,
            padt_received: false,
            padt_reason: None,
            padt_sent: false,
            terminate_request_received: false,
            link_down: None,
            frames: Vec::new(),
        }
    }

    /// Information fields of the frames of `protocol` received.
    pub fn payloads(&self, protocol: Protocol) -> Vec<&[u8]> {
        self.frames
            .iter()
            .filter(|(p, _)| *p == protocol)
            .map(|(_, payload)| payload.as_slice())
            .collect()
    }

    /// Its MAC as the LAC reports it (`aa:bb:cc:dd:ee:ff`).
    pub fn mac_string(&self) -> String {
        self.mac.to_string()
    }
}

#[derive(Debug)]
enum Command {
    Dial(usize),
    SendPpp(usize, Protocol, Vec<u8>),
    Padt(usize),
    LcpTerminate(usize),
}

/// The emulator; its thread stops (without PADTs) on drop.
#[derive(Debug)]
pub struct Subscribers {
    interface: String,
    shared: Arc<Mutex<Vec<SubscriberStatus>>>,
    commands: Sender<Command>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Subscribers {
    /// Opens an AF_PACKET socket on `interface` inside `ns` and starts the
    /// emulator thread for `specs` (none dials until told).
    pub fn start(ns: &Netns, interface: &str, specs: Vec<SubscriberSpec>) -> Result<Self> {
        let name = interface.to_owned();
        let socket = ns
            .run(move || PacketSocket::open(&name))?
            .with_context(|| format!("AF_PACKET socket on {interface}"))?;
        // A hundred sessions answered at once must not overflow the
        // default receive buffer (the emulator polls every millisecond).
        grow_socket_buffers(&socket)?;
        let shared = Arc::new(Mutex::new(
            specs.iter().map(SubscriberStatus::new).collect::<Vec<_>>(),
        ));
        let (commands, rx) = channel();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let shared = Arc::clone(&shared);
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name(format!("subscribers-{interface}"))
                .spawn(move || Emulator::new(socket, specs, shared, rx).run(&stop))
                .context("spawning the subscriber emulator")?
        };
        Ok(Self {
            interface: interface.to_owned(),
            shared,
            commands,
            stop,
            thread: Some(thread),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Vec<SubscriberStatus>> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn command(&self, command: Command) -> Result<()> {
        self.commands
            .send(command)
            .map_err(|_| anyhow!("the subscriber emulator on {} is gone", self.interface))
    }

    /// Number of subscribers.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Starts discovery for subscriber `index`.
    pub fn dial(&self, index: usize) -> Result<()> {
        ensure!(index < self.len(), "no subscriber {index}");
        self.command(Command::Dial(index))
    }

    /// Starts every subscriber, `stagger` apart.
    pub fn dial_all(&self, stagger: Duration) -> Result<()> {
        for index in 0..self.len() {
            self.dial(index)?;
            std::thread::sleep(stagger);
        }
        Ok(())
    }

    /// Sends a PPP frame (`protocol`, `payload`) on subscriber `index`'s
    /// session.
    pub fn send_ppp(&self, index: usize, protocol: Protocol, payload: &[u8]) -> Result<()> {
        self.command(Command::SendPpp(index, protocol, payload.to_vec()))
    }

    /// Sends a PADT for subscriber `index`'s session (no LCP Terminate).
    pub fn send_padt(&self, index: usize) -> Result<()> {
        self.command(Command::Padt(index))
    }

    /// Closes subscriber `index`'s PPP link: LCP Terminate-Request.
    pub fn send_lcp_terminate(&self, index: usize) -> Result<()> {
        self.command(Command::LcpTerminate(index))
    }

    /// A copy of subscriber `index`'s status.
    pub fn status(&self, index: usize) -> Result<SubscriberStatus> {
        self.lock()
            .get(index)
            .cloned()
            .ok_or_else(|| anyhow!("no subscriber {index}"))
    }

    /// A copy of every subscriber's status.
    pub fn statuses(&self) -> Vec<SubscriberStatus> {
        self.lock().clone()
    }

    /// A short summary for failure messages.
    pub fn summary(&self) -> String {
        let statuses = self.statuses();
        let mut out = String::new();
        // The ones that did not make it first: they are the interesting ones.
        let mut order: Vec<usize> = (0..statuses.len()).collect();
        order.sort_by_key(|&i| statuses[i].authenticated);
        for (i, s) in order.iter().take(40).map(|&i| (i, &statuses[i])) {
            out.push_str(&format!(
                "  sub {i} {} {}: session {:?} lcp {} auth {:?}/{} padt rx {} ({:?}) tx {} down {:?} disc-fail {:?} frames {}\n",
                s.mac,
                s.user,
                s.session_id,
                s.lcp_up,
                s.auth_method,
                s.authenticated,
                s.padt_received,
                s.padt_reason,
                s.padt_sent,
                s.link_down,
                s.discovery_failure,
                s.frames.len()
            ));
        }
        if statuses.len() > 40 {
            let up = statuses.iter().filter(|s| s.authenticated).count();
            out.push_str(&format!(
                "  … {} subscribers, {up} authenticated\n",
                statuses.len()
            ));
        }
        out
    }

    /// Polls subscriber `index` until `condition` returns `Some`; the
    /// error shows every subscriber and `context`.
    pub fn wait_for<T>(
        &self,
        index: usize,
        timeout: Duration,
        context: &dyn Fn() -> String,
        mut condition: impl FnMut(&SubscriberStatus) -> Option<T>,
    ) -> Result<T> {
        wait_until(
            timeout,
            || Ok(self.lock().get(index).and_then(&mut condition)),
            || format!("subscriber {index}:\n{}\n{}", self.summary(), context()),
        )
    }

    /// Waits until subscriber `index` is authenticated.
    pub fn wait_authenticated(
        &self,
        index: usize,
        timeout: Duration,
        context: &dyn Fn() -> String,
    ) -> Result<SubscriberStatus> {
        self.wait_for(index, timeout, context, |s| {
            s.authenticated.then(|| s.clone())
        })
    }

    /// Waits until every subscriber is authenticated.
    pub fn wait_all_authenticated(
        &self,
        timeout: Duration,
        context: &dyn Fn() -> String,
    ) -> Result<Vec<SubscriberStatus>> {
        wait_until(
            timeout,
            || {
                let all = self.lock();
                Ok(all.iter().all(|s| s.authenticated).then(|| all.clone()))
            },
            || format!("not all authenticated:\n{}\n{}", self.summary(), context()),
        )
    }
}

impl Drop for Subscribers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A change to a subscriber's shared status, applied under one lock.
type Update = Box<dyn FnOnce(&mut SubscriberStatus)>;

/// One subscriber's cores (on the emulator thread).
struct Subscriber {
    spec: SubscriberSpec,
    discovery: Client,
    /// SESSION_ID, access concentrator MAC, PPP link.
    link: Option<(u16, MacAddress, Link)>,
    seed: [u8; 32],
}

struct Emulator {
    socket: PacketSocket,
    subscribers: Vec<Subscriber>,
    by_mac: HashMap<MacAddress, usize>,
    shared: Arc<Mutex<Vec<SubscriberStatus>>>,
    commands: Receiver<Command>,
    buf: Vec<u8>,
    frame_buf: Vec<u8>,
}

impl Emulator {
    fn new(
        socket: PacketSocket,
        specs: Vec<SubscriberSpec>,
        shared: Arc<Mutex<Vec<SubscriberStatus>>>,
        commands: Receiver<Command>,
    ) -> Self {
        let by_mac = specs
            .iter()
            .enumerate()
            .map(|(i, spec)| (spec.mac, i))
            .collect();
        let subscribers = specs
            .into_iter()
            .enumerate()
            .map(|(i, spec)| {
                let mut seed = [0x5b; 32];
                seed[..8].copy_from_slice(&(i as u64).to_be_bytes());
                let discovery = Client::new(
                    ClientConfig {
                        initial_timeout: Duration::from_secs(1),
                        max_timeout: Duration::from_secs(4),
                        max_padi_attempts: 10,
                        max_padr_attempts: 5,
                        ..ClientConfig::default()
                    },
                    spec.mac,
                    VlanStack::new(),
                    seed,
                );
                Subscriber {
                    spec,
                    discovery,
                    link: None,
                    seed,
                }
            })
            .collect();
        Self {
            socket,
            subscribers,
            by_mac,
            shared,
            commands,
            buf: vec![0; 4096],
            frame_buf: vec![0; 2048],
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<SubscriberStatus>> {
        lock(&self.shared)
    }

    fn run(mut self, stop: &AtomicBool) {
        let mut batch = RecvBatch::new(64);
        while !stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            let mut idle = true;
            if self.socket.recv_batch(&mut batch).is_ok() {
                idle = batch.is_empty();
                let frames: Vec<Vec<u8>> = batch.iter().map(|f| f.data.to_vec()).collect();
                for frame in frames {
                    self.frame(now, &frame);
                }
            }
            while let Ok(command) = self.commands.try_recv() {
                idle = false;
                self.execute(now, command);
            }
            let now = Instant::now();
            for index in 0..self.subscribers.len() {
                self.drive(now, index);
            }
            if idle {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }

    fn frame(&mut self, now: Instant, data: &[u8]) {
        let Ok(frame) = Frame::new_checked(data) else {
            return;
        };
        let Some(&index) = self.by_mac.get(&frame.dst()) else {
            return;
        };
        match frame.ethertype() {
            EtherType::PppoeDiscovery => {
                if let Some(sub) = self.subscribers.get_mut(index) {
                    sub.discovery.handle_frame(now, data);
                }
                // A PADS creates the link now, so an LCP Configure-Request
                // right behind it (same batch) is not lost.
                self.drive(now, index);
            }
            EtherType::PppoeSession => {
                let Ok(session) = SessionPacket::new_checked(frame.payload()) else {
                    return;
                };
                let Some(sub) = self.subscribers.get_mut(index) else {
                    return;
                };
                let Some((session_id, ac_mac, link)) = sub.link.as_mut() else {
                    return;
                };
                if session.session_id() != *session_id || frame.src() != *ac_mac {
                    return;
                }
                let Ok(ppp) = PppFrame::new_checked(session.payload()) else {
                    return;
                };
                let protocol = ppp.protocol();
                let payload = ppp.payload().to_vec();
                if matches!(protocol, Protocol::Lcp | Protocol::Pap | Protocol::Chap) {
                    link.handle_frame(now, protocol, &payload);
                }
                let mut shared = lock(&self.shared);
                if let Some(status) = shared.get_mut(index) {
                    if protocol == Protocol::Lcp && payload.first() == Some(&5) {
                        status.terminate_request_received = true;
                    }
                    if status.frames.len() < MAX_FRAMES {
                        status.frames.push((protocol, payload));
                    }
                }
            }
            _ => {}
        }
    }

    fn execute(&mut self, now: Instant, command: Command) {
        match command {
            Command::Dial(index) => {
                if let Some(sub) = self.subscribers.get_mut(index) {
                    sub.discovery.start(now);
                    self.lock()[index].dialing = true;
                }
            }
            Command::SendPpp(index, protocol, payload) => {
                let target = self.subscribers.get(index).and_then(|sub| {
                    sub.link
                        .as_ref()
                        .map(|(id, ac, _)| (*id, *ac, sub.spec.mac))
                });
                if let Some((session_id, ac_mac, mac)) = target
                    && let Some(room) = self.buf.get_mut(HEADROOM..HEADROOM + payload.len())
                {
                    room.copy_from_slice(&payload);
                    send_ppp(
                        &self.socket,
                        &mut self.buf,
                        (mac, ac_mac),
                        session_id,
                        protocol,
                        payload.len(),
                    );
                }
            }
            Command::Padt(index) => {
                if let Some(sub) = self.subscribers.get_mut(index)
                    && sub.discovery.terminate(Some("test: subscriber hangs up"))
                {
                    sub.link = None;
                    self.lock()[index].padt_sent = true;
                }
            }
            Command::LcpTerminate(index) => {
                if let Some((_, _, link)) = self
                    .subscribers
                    .get_mut(index)
                    .and_then(|s| s.link.as_mut())
                {
                    link.close(now, DownReason::AdminClose);
                }
            }
        }
    }

    /// Timers, events and transmissions of subscriber `index`.
    fn drive(&mut self, now: Instant, index: usize) {
        let Some(sub) = self.subscribers.get_mut(index) else {
            return;
        };
        if sub.discovery.poll_timeout().is_some_and(|t| t <= now) {
            sub.discovery.handle_timeout(now);
        }
        let mut updates: Vec<Update> = Vec::new();
        while let Some(event) = sub.discovery.poll_event() {
            match event {
                ClientEvent::Established {
                    session_id,
                    ac_mac,
                    max_payload,
                    ..
                } => {
                    let mut config = LinkConfig::client(Credentials {
                        user: sub.spec.user.as_bytes().to_vec(),
                        password: sub.spec.password.as_bytes().to_vec(),
                    });
                    config.auth_methods = sub.spec.auth_methods.clone();
                    config.echo_interval = None;
                    config.accept_compression = false;
                    config.ipv4 = false;
                    config.ipv6 = false;
                    config.lower_max_payload = max_payload;
                    config.mru = max_payload;
                    let mut link = Link::new(config, sub.seed);
                    link.open(now);
                    sub.link = Some((session_id, ac_mac, link));
                    updates.push(Box::new(move |s| {
                        s.session_id = Some(session_id);
                        s.ac_mac = Some(ac_mac);
                    }));
                }
                ClientEvent::Failed(failure) => {
                    updates.push(Box::new(move |s| {
                        s.discovery_failure = Some(format!("{failure:?}"));
                    }));
                }
                ClientEvent::Terminated {
                    by_peer: true,
                    reason,
                    ..
                } => {
                    if let Some((_, _, link)) = sub.link.as_mut() {
                        link.lower_down(now);
                    }
                    updates.push(Box::new(move |s| {
                        s.padt_received = true;
                        s.padt_reason = reason.map(|r| String::from_utf8_lossy(&r).into_owned());
                    }));
                }
                _ => {}
            }
        }
        while let Some(tx) = sub.discovery.poll_transmit(&mut self.frame_buf) {
            if let Some(frame) = self.frame_buf.get(..tx.len) {
                let _ = self.socket.send(frame);
            }
        }
        let mac = sub.spec.mac;
        if let Some((session_id, ac_mac, link)) = sub.link.as_mut() {
            if link.poll_timeout().is_some_and(|t| t <= now) {
                link.handle_timeout(now);
            }
            while let Some(event) = link.poll_event() {
                match event {
                    LinkEvent::LcpUp(negotiated) => {
                        let method = negotiated.auth_to_peer;
                        updates.push(Box::new(move |s| {
                            s.lcp_up = true;
                            s.auth_method = method;
                        }));
                    }
                    LinkEvent::Authenticated => {
                        updates.push(Box::new(|s| s.authenticated = true));
                    }
                    LinkEvent::Down { reason } => {
                        // The session stays (a PADT may still come); the
                        // dead link answers nothing more.
                        updates.push(Box::new(move |s| s.link_down = Some(reason)));
                    }
                    _ => {}
                }
            }
            while let Some((protocol, len)) = link.poll_transmit(&mut self.buf[HEADROOM..]) {
                send_ppp(
                    &self.socket,
                    &mut self.buf,
                    (mac, *ac_mac),
                    *session_id,
                    protocol,
                    len,
                );
            }
        }
        if !updates.is_empty() {
            let mut shared = self.lock();
            if let Some(status) = shared.get_mut(index) {
                for update in updates {
                    update(status);
                }
            }
        }
    }
}

/// Raises a socket's send and receive buffers to 4 MiB (the `FORCE`
/// variants, as root, pass over `net.core.rmem_max`), so bursts in tests
/// are not dropped by the kernel before the test's thread reads them.
pub fn grow_socket_buffers(socket: &impl std::os::fd::AsRawFd) -> Result<()> {
    let size: libc::c_int = 4 << 20;
    for option in [libc::SO_RCVBUFFORCE, libc::SO_SNDBUFFORCE] {
        // SAFETY: the descriptor is open for the call; `size` is a live
        // c_int of the length passed.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                option,
                std::ptr::from_ref(&size).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        ensure!(
            rc == 0,
            "setsockopt buffer size: {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

fn lock(shared: &Mutex<Vec<SubscriberStatus>>) -> MutexGuard<'_, Vec<SubscriberStatus>> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// Writes Ethernet + PPPoE session + PPP protocol in front of the PPP
/// information field at `buf[HEADROOM..HEADROOM + len]` and sends it from
/// `macs.0` to `macs.1`.
fn send_ppp(
    socket: &PacketSocket,
    buf: &mut [u8],
    macs: (MacAddress, MacAddress),
    session_id: u16,
    protocol: Protocol,
    len: usize,
) {
    let Ok(ppp_start) = FrameHeader::new(protocol).emit_in_headroom(buf, HEADROOM) else {
        return;
    };
    let ppp_len = HEADROOM + len - ppp_start;
    let Ok(header) = SessionHeader::new(session_id, ppp_len) else {
        return;
    };
    let Ok(pppoe_start) = header.emit_in_headroom(buf, ppp_start) else {
        return;
    };
    let eth = EthernetRepr::new(macs.1, macs.0, EtherType::PppoeSession);
    let Ok(start) = eth.emit_in_headroom(buf, pppoe_start) else {
        return;
    };
    if let Some(frame) = buf.get(start..HEADROOM + len) {
        let _ = socket.send(frame);
    }
}
