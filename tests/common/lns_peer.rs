//! A test LNS: our L2TP endpoint core (`tunnelnas::l2tp::Endpoint`) in the
//! LNS role behind a small driver thread, on a UDP socket in a test
//! namespace. It stands in for a real LNS until the full LNS role exists.
//!
//! * It accepts tunnels from any address with one secret, and every call
//!   (ICRQ → ICRP), recording per session the ICRQ's and the ICCN's
//!   [`CallInfo`] (proxy LCP and authentication AVPs, Calling Number).
//! * It records every PPP frame received on a session (Address/Control
//!   stripped, its presence noted) and sends PPP frames down a session
//!   with `FF 03` in front (RFC 2661 §5.4 carries HDLC-like framing).
//! * It optionally answers ICMP Echo Requests inside PPP for one IPv4
//!   address (the "LNS side" of every subscriber), so tests can ping
//!   through the LAC.
//! * It can be told to play dead ([`LnsMode::Silent`]: every datagram is
//!   dropped unanswered — "LNS down"), to refuse calls with CDN, to clear
//!   a session with CDN or a tunnel with StopCCN.
//!
//! ```ignore
//! let lns = lns_ns.run(|| LnsPeer::start(LnsConfig::new("10.2.0.2:1701".parse()?, b"s3cret")))??;
//! let session = lns.wait_for_session(Duration::from_secs(10), |s| s.up)?;
//! lns.send_ppp(session.handle, Protocol::Ipv4, &packet)?;
//! ```

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tunnelnas::l2tp::{
    CallInfo, Endpoint, EndpointConfig, Event, PeerPolicy, SessionDownCause, SessionHandle,
    TunnelDownCause,
};
use tunnelnas::wire::l2tp::{CdnResult, GeneralError, HeaderRepr, Packet, ResultCode};
use tunnelnas::wire::ppp::{Frame as PppFrame, FrameHeader, Protocol};

use super::{Context, Result, anyhow, icmp, wait_until};

/// Room in front of a payload for the L2TP data header and `FF 03` + protocol.
const HEADROOM: usize = 64;
/// Frames recorded per session at most (older ones are kept).
const MAX_FRAMES_PER_SESSION: usize = 4096;

/// How the test LNS treats what arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LnsMode {
    /// Accept tunnels and calls (the default).
    Answer,
    /// Drop every datagram without a word: the LNS is down.
    Silent,
    /// Accept tunnels but refuse every call with CDN result 2, general
    /// error 7 ("try another LNS").
    RefuseCalls,
}

/// Settings of a test LNS.
#[derive(Debug, Clone)]
pub struct LnsConfig {
    /// Address to bind (an address of the LNS namespace, port 1701).
    pub listen: SocketAddr,
    /// The tunnel secret every LAC must know (empty: none).
    pub secret: Vec<u8>,
    /// Host Name AVP we send.
    pub host_name: Vec<u8>,
    /// Answer ICMP Echo Requests to this address inside PPP.
    pub answer_echo: Option<Ipv4Addr>,
    /// Seed of the endpoint's RNG (tunnel and session ids).
    pub seed: u8,
    /// Receive Window Size we advertise (RFC 2661 §5.8; default 4): a
    /// small window makes the LAC queue its control messages.
    pub receive_window: u16,
}

impl LnsConfig {
    /// An LNS on `listen` with tunnel secret `secret`, answering nothing
    /// but L2TP.
    pub fn new(listen: SocketAddr, secret: &[u8]) -> Self {
        Self {
            listen,
            secret: secret.to_vec(),
            host_name: b"test-lns".to_vec(),
            answer_echo: None,
            seed: listen.ip().to_string().bytes().fold(7, u8::wrapping_add),
            receive_window: 4,
        }
    }

    /// Advertises Receive Window Size `window`.
    pub fn receive_window(mut self, window: u16) -> Self {
        self.receive_window = window.max(1);
        self
    }

    /// Also answers ICMP Echo Requests to `addr` carried in PPP.
    pub fn answer_echo(mut self, addr: Ipv4Addr) -> Self {
        self.answer_echo = Some(addr);
        self
    }
}

/// A PPP frame the LNS received on a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LnsFrame {
    /// Whether it started with `FF 03` (the LAC must prepend it).
    pub address_control: bool,
    /// The PPP protocol.
    pub protocol: Protocol,
    /// The information field.
    pub payload: Vec<u8>,
}

/// A session (call) as the test LNS saw it.
#[derive(Debug, Clone)]
pub struct LnsSession {
    /// Our Tunnel ID and Session ID.
    pub handle: SessionHandle,
    /// The LAC's address.
    pub peer: SocketAddr,
    /// The LAC's Tunnel ID (known when the tunnel is up).
    pub peer_tunnel_id: u16,
    /// The LAC's Session ID (known when the call is up).
    pub peer_session_id: u16,
    /// The ICRQ's call parameters.
    pub request: CallInfo,
    /// The whole call after ICCN, proxy AVPs included.
    pub call: Option<CallInfo>,
    /// ICCN received.
    pub up: bool,
    /// Gone: why, with the CDN (or StopCCN) result code.
    pub down: Option<(SessionDownCause, Option<ResultCode>)>,
    /// PPP frames received, oldest first.
    pub frames: Vec<LnsFrame>,
    /// ICMP Echo Replies sent on this session.
    pub echo_replies: u32,
}

impl LnsSession {
    /// The Calling Number of the ICRQ as text.
    pub fn calling_number(&self) -> Option<String> {
        self.request
            .calling_number
            .as_ref()
            .map(|n| String::from_utf8_lossy(n).into_owned())
    }

    /// Frames of `protocol` received, their information fields.
    pub fn payloads(&self, protocol: Protocol) -> Vec<&[u8]> {
        self.frames
            .iter()
            .filter(|f| f.protocol == protocol)
            .map(|f| f.payload.as_slice())
            .collect()
    }
}

/// A tunnel as the test LNS saw it.
#[derive(Debug, Clone)]
pub struct LnsTunnel {
    /// Our Tunnel ID.
    pub tunnel_id: u16,
    /// The LAC's Tunnel ID.
    pub peer_tunnel_id: u16,
    /// The LAC's address.
    pub peer: SocketAddr,
    /// The LAC's Host Name AVP.
    pub peer_host_name: Vec<u8>,
    /// Established (SCCCN received).
    pub up: bool,
    /// Gone, and why.
    pub down: Option<(TunnelDownCause, Option<ResultCode>)>,
}

/// Everything the test LNS recorded.
#[derive(Debug, Clone, Default)]
pub struct LnsState {
    /// Tunnels, in the order they were established.
    pub tunnels: Vec<LnsTunnel>,
    /// Sessions, in the order their ICRQ arrived.
    pub sessions: Vec<LnsSession>,
    /// Control datagrams received while [`LnsMode::Silent`] (and dropped).
    pub ignored_while_silent: u64,
    /// SCCRQs seen (answered or not).
    pub sccrqs: u64,
    /// Data messages for no known session.
    pub unknown_data: u64,
    /// Calls refused in [`LnsMode::RefuseCalls`].
    pub refused_calls: u64,
    /// Data messages for a call whose ICCN had not arrived yet (recorded
    /// and answered all the same; a strict LNS would drop them).
    pub data_before_iccn: u64,
}

impl LnsState {
    /// Established tunnels (up, not down).
    pub fn live_tunnels(&self) -> Vec<&LnsTunnel> {
        self.tunnels
            .iter()
            .filter(|t| t.up && t.down.is_none())
            .collect()
    }

    /// Established sessions (ICCN received, not down).
    pub fn live_sessions(&self) -> Vec<&LnsSession> {
        self.sessions
            .iter()
            .filter(|s| s.up && s.down.is_none())
            .collect()
    }

    /// The latest session whose Calling Number is `number`.
    pub fn session_by_calling_number(&self, number: &str) -> Option<&LnsSession> {
        self.sessions
            .iter()
            .rev()
            .find(|s| s.calling_number().as_deref() == Some(number))
    }

    /// A short summary for failure messages.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "tunnels: {} (live {}), sessions: {} (live {}), sccrqs {}, ignored-while-silent {}, refused {}, unknown data {}, data before ICCN {}\n",
            self.tunnels.len(),
            self.live_tunnels().len(),
            self.sessions.len(),
            self.live_sessions().len(),
            self.sccrqs,
            self.ignored_while_silent,
            self.refused_calls,
            self.unknown_data,
            self.data_before_iccn
        );
        for t in &self.tunnels {
            out.push_str(&format!(
                "  tunnel {} <- {} peer-id {} up {} down {:?}\n",
                t.tunnel_id, t.peer, t.peer_tunnel_id, t.up, t.down
            ));
        }
        for s in self.sessions.iter().take(40) {
            out.push_str(&format!(
                "  session {:?} calling {:?} up {} down {:?} frames {}\n",
                s.handle,
                s.calling_number(),
                s.up,
                s.down,
                s.frames.len()
            ));
        }
        out
    }
}

/// What the test tells the LNS thread.
#[derive(Debug)]
enum Command {
    SendPpp {
        handle: SessionHandle,
        protocol: Protocol,
        payload: Vec<u8>,
    },
    CloseSession {
        handle: SessionHandle,
        result: ResultCode,
    },
    CloseTunnel {
        tunnel_id: u16,
        result: ResultCode,
    },
}

#[derive(Debug)]
struct Shared {
    state: LnsState,
    mode: LnsMode,
}

/// A running test LNS; the thread stops on drop.
#[derive(Debug)]
pub struct LnsPeer {
    listen: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    commands: Sender<Command>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl LnsPeer {
    /// Binds `config.listen` — call this inside the LNS namespace (e.g. in
    /// `Netns::run`); the socket stays in that namespace — and starts the
    /// driver thread.
    pub fn start(config: LnsConfig) -> Result<Self> {
        let socket = UdpSocket::bind(config.listen)
            .with_context(|| format!("test LNS: binding {}", config.listen))?;
        socket
            .set_read_timeout(Some(Duration::from_millis(2)))
            .context("test LNS: read timeout")?;
        super::subscribers::grow_socket_buffers(&socket)?;
        let shared = Arc::new(Mutex::new(Shared {
            state: LnsState::default(),
            mode: LnsMode::Answer,
        }));
        let (commands, rx) = channel();
        let stop = Arc::new(AtomicBool::new(false));
        let listen = config.listen;
        let thread = {
            let shared = Arc::clone(&shared);
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name(format!("test-lns-{listen}"))
                .spawn(move || Driver::new(config, socket, shared, rx).run(&stop))
                .context("spawning the test LNS thread")?
        };
        Ok(Self {
            listen,
            shared,
            commands,
            stop,
            thread: Some(thread),
        })
    }

    /// The address LACs send to.
    pub fn addr(&self) -> SocketAddr {
        self.listen
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Switches how it answers.
    pub fn set_mode(&self, mode: LnsMode) {
        self.lock().mode = mode;
    }

    /// A copy of everything recorded so far.
    pub fn state(&self) -> LnsState {
        self.lock().state.clone()
    }

    /// Polls the state until `condition` returns `Some`; the error shows
    /// the state summary and `context`.
    pub fn wait_for<T>(
        &self,
        timeout: Duration,
        context: &dyn Fn() -> String,
        mut condition: impl FnMut(&LnsState) -> Option<T>,
    ) -> Result<T> {
        wait_until(
            timeout,
            || Ok(condition(&self.lock().state)),
            || {
                format!(
                    "test LNS {}: {}\n{}",
                    self.listen,
                    self.state().summary(),
                    context()
                )
            },
        )
    }

    /// Waits until the session with Calling Number `number` is up.
    pub fn wait_for_session_up(
        &self,
        number: &str,
        timeout: Duration,
        context: &dyn Fn() -> String,
    ) -> Result<LnsSession> {
        self.wait_for(timeout, context, |state| {
            state
                .session_by_calling_number(number)
                .filter(|s| s.up)
                .cloned()
        })
    }

    /// Sends a PPP frame (`FF 03`, `protocol`, `payload`) down a session.
    pub fn send_ppp(
        &self,
        handle: SessionHandle,
        protocol: Protocol,
        payload: &[u8],
    ) -> Result<()> {
        self.command(Command::SendPpp {
            handle,
            protocol,
            payload: payload.to_vec(),
        })
    }

    /// Clears a session with CDN `result`.
    pub fn close_session(&self, handle: SessionHandle, result: ResultCode) -> Result<()> {
        self.command(Command::CloseSession { handle, result })
    }

    /// Clears a tunnel (and its sessions) with StopCCN `result`.
    pub fn close_tunnel(&self, tunnel_id: u16, result: ResultCode) -> Result<()> {
        self.command(Command::CloseTunnel { tunnel_id, result })
    }

    fn command(&self, command: Command) -> Result<()> {
        self.commands
            .send(command)
            .map_err(|_| anyhow!("the test LNS thread on {} is gone", self.listen))
    }
}

impl Drop for LnsPeer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The driver loop's state (lives on the LNS thread).
struct Driver {
    config: LnsConfig,
    socket: UdpSocket,
    shared: Arc<Mutex<Shared>>,
    commands: Receiver<Command>,
    endpoint: Endpoint,
    recv: Vec<u8>,
    buf: Vec<u8>,
    control: Vec<u8>,
}

impl Driver {
    fn new(
        config: LnsConfig,
        socket: UdpSocket,
        shared: Arc<Mutex<Shared>>,
        commands: Receiver<Command>,
    ) -> Self {
        let network = "0.0.0.0/0".parse().unwrap_or_else(|_| unreachable!());
        let endpoint = Endpoint::new(
            EndpointConfig {
                channel: tunnelnas::l2tp::channel::ChannelConfig {
                    receive_window: config.receive_window,
                    ..Default::default()
                },
                host_name: config.host_name.clone(),
                accept_calls: true,
                peers: vec![PeerPolicy {
                    network,
                    secret: config.secret.clone(),
                    host_name: None,
                    max_tunnels: None,
                    hide_avps: None,
                }],
                ..EndpointConfig::default()
            },
            [config.seed; 32],
        );
        Self {
            config,
            socket,
            shared,
            commands,
            endpoint,
            recv: vec![0; 65_536],
            buf: vec![0; 65_536],
            control: vec![0u8; tunnelnas::l2tp::MAX_CONTROL_LEN],
        }
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn run(mut self, stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            // One datagram per turn; waits at most 2 ms when none is queued.
            if let Ok((len, from)) = self.socket.recv_from(&mut self.recv) {
                self.datagram(len, from);
            }
            let now = Instant::now();
            if self.endpoint.poll_timeout().is_some_and(|t| t <= now) {
                self.endpoint.handle_timeout(now);
            }
            while let Ok(command) = self.commands.try_recv() {
                self.execute(now, command);
            }
            self.events(now);
            self.flush(now);
        }
    }

    fn datagram(&mut self, len: usize, from: SocketAddr) {
        let now = Instant::now();
        let Some(datagram) = self.recv.get(..len) else {
            return;
        };
        let is_control = tunnelnas::l2tp::is_control(datagram);
        let sccrq = is_control && Packet::new_checked(datagram).is_ok_and(|p| p.tunnel_id() == 0);
        let mode = {
            let mut shared = self.lock();
            if sccrq {
                shared.state.sccrqs += 1;
            }
            if shared.mode == LnsMode::Silent {
                shared.state.ignored_while_silent += 1;
            }
            shared.mode
        };
        if mode == LnsMode::Silent {
            return;
        }
        if is_control {
            let datagram = self.recv[..len].to_vec();
            self.endpoint.handle_datagram(now, from, &datagram);
            self.events(now);
            self.flush(now);
            return;
        }
        self.data(len, from);
    }

    /// A data message: record the PPP frame, answer pings.
    fn data(&mut self, len: usize, from: SocketAddr) {
        let Ok(packet) = Packet::new_checked(&self.recv[..len]) else {
            self.lock().state.unknown_data += 1;
            return;
        };
        let handle = SessionHandle {
            tunnel_id: packet.tunnel_id(),
            session_id: packet.session_id(),
        };
        let Ok(ppp) = PppFrame::new_checked(packet.payload()) else {
            self.lock().state.unknown_data += 1;
            return;
        };
        let frame = LnsFrame {
            address_control: ppp.has_address_control(),
            protocol: ppp.protocol(),
            payload: ppp.payload().to_vec(),
        };
        let mut reply = None;
        {
            let mut shared = self.lock();
            let Some(session) = shared
                .state
                .sessions
                .iter_mut()
                .rev()
                .find(|s| s.handle == handle && s.down.is_none())
            else {
                shared.state.unknown_data += 1;
                return;
            };
            let early = !session.up;
            if frame.protocol == Protocol::Ipv4
                && let Some(ours) = self.config.answer_echo
            {
                let mut copy = frame.payload.clone();
                if icmp::answer_echo(&mut copy, ours) {
                    session.echo_replies += 1;
                    reply = Some((
                        session.peer,
                        (session.peer_tunnel_id, session.peer_session_id),
                        copy,
                    ));
                }
            }
            if session.frames.len() < MAX_FRAMES_PER_SESSION {
                session.frames.push(frame);
            }
            if early {
                shared.state.data_before_iccn += 1;
            }
        }
        if let Some((peer, ids, payload)) = reply {
            let _ = from;
            self.send_data(peer, ids, Protocol::Ipv4, &payload);
        }
    }

    fn send_data(&mut self, to: SocketAddr, ids: (u16, u16), protocol: Protocol, payload: &[u8]) {
        let end = HEADROOM + payload.len();
        let Some(room) = self.buf.get_mut(HEADROOM..end) else {
            return;
        };
        room.copy_from_slice(payload);
        let header = FrameHeader {
            address_control: true,
            protocol,
        };
        let Ok(ppp_start) = header.emit_in_headroom(&mut self.buf, HEADROOM) else {
            return;
        };
        let Ok(start) =
            HeaderRepr::data(ids.0, ids.1).emit_before(&mut self.buf, ppp_start, end - ppp_start)
        else {
            return;
        };
        let _ = self.socket.send_to(&self.buf[start..end], to);
    }

    fn execute(&mut self, now: Instant, command: Command) {
        match command {
            Command::SendPpp {
                handle,
                protocol,
                payload,
            } => {
                let target = self
                    .lock()
                    .state
                    .sessions
                    .iter()
                    .rev()
                    .find(|s| s.handle == handle && s.up && s.down.is_none())
                    .map(|s| (s.peer, (s.peer_tunnel_id, s.peer_session_id)));
                if let Some((peer, ids)) = target {
                    self.send_data(peer, ids, protocol, &payload);
                }
            }
            Command::CloseSession { handle, result } => {
                self.endpoint.close_session(now, handle, result, None);
            }
            Command::CloseTunnel { tunnel_id, result } => {
                self.endpoint.close_tunnel(now, tunnel_id, result);
            }
        }
    }

    fn events(&mut self, now: Instant) {
        while let Some(event) = self.endpoint.poll_event() {
            match event {
                Event::TunnelUp {
                    tunnel_id,
                    peer_tunnel_id,
                    peer,
                    peer_host_name,
                    ..
                } => self.lock().state.tunnels.push(LnsTunnel {
                    tunnel_id,
                    peer_tunnel_id,
                    peer,
                    peer_host_name,
                    up: true,
                    down: None,
                }),
                Event::TunnelDown {
                    tunnel_id,
                    cause,
                    result,
                    ..
                } => {
                    let mut shared = self.lock();
                    if let Some(t) = shared
                        .state
                        .tunnels
                        .iter_mut()
                        .rev()
                        .find(|t| t.tunnel_id == tunnel_id && t.down.is_none())
                    {
                        t.down = Some((cause, result));
                    }
                }
                Event::SessionRequest {
                    handle, peer, call, ..
                } => {
                    let refuse = self.lock().mode == LnsMode::RefuseCalls;
                    // The LAC's ids are known from the ICRQ on.
                    let (peer_tunnel_id, peer_session_id) = self
                        .endpoint
                        .session(handle.tunnel_id, handle.session_id)
                        .map_or((0, 0), |s| (s.peer_tunnel_id, s.peer_session_id));
                    self.lock().state.sessions.push(LnsSession {
                        handle,
                        peer,
                        peer_tunnel_id,
                        peer_session_id,
                        request: *call,
                        call: None,
                        up: false,
                        down: None,
                        frames: Vec::new(),
                        echo_replies: 0,
                    });
                    if refuse {
                        self.lock().state.refused_calls += 1;
                        let result = ResultCode::cdn(CdnResult::ErrorCode)
                            .with_error(GeneralError::TryAnother, "test LNS refuses calls");
                        self.endpoint.refuse_session(now, handle, result);
                    } else {
                        self.endpoint.accept_session(now, handle);
                    }
                }
                Event::SessionUp {
                    handle,
                    peer_tunnel_id,
                    peer_session_id,
                    peer,
                    call,
                    ..
                } => {
                    let mut shared = self.lock();
                    if let Some(s) = shared
                        .state
                        .sessions
                        .iter_mut()
                        .rev()
                        .find(|s| s.handle == handle && s.down.is_none())
                    {
                        s.peer = peer;
                        s.peer_tunnel_id = peer_tunnel_id;
                        s.peer_session_id = peer_session_id;
                        s.call = Some(*call);
                        s.up = true;
                    }
                }
                Event::SessionDown {
                    handle,
                    cause,
                    result,
                    ..
                } => {
                    let mut shared = self.lock();
                    if let Some(s) = shared
                        .state
                        .sessions
                        .iter_mut()
                        .rev()
                        .find(|s| s.handle == handle && s.down.is_none())
                    {
                        s.down = Some((cause, result));
                    }
                }
                _ => {}
            }
        }
    }

    fn flush(&mut self, now: Instant) {
        while let Some((to, len)) = self.endpoint.poll_transmit(now, &mut self.control) {
            if let Some(datagram) = self.control.get(..len) {
                let _ = self.socket.send_to(datagram, to);
            }
        }
    }
}
