//! FreeRADIUS 3.2 (Debian `freeradius`) with a private, generated config,
//! and `radclient` (Debian `freeradius-utils`) to talk to any RADIUS server.
//!
//! ```ignore
//! let radius = FreeRadius::builder()
//!     .user(UserEntry::new("alice").password("pw")
//!         .l2tp_tunnel(1, "10.1.0.2", "secret", 1)
//!         .l2tp_tunnel(2, "10.1.0.3", "secret2", 2))
//!     .user(UserEntry::new("mallory").reject().reply("Reply-Message", "no"))
//!     .start()?;
//! let reply = radius.auth(&[("User-Name", "alice"), ("User-Password", "pw")])?;
//! assert_eq!(reply.code(), Some("Access-Accept"));
//! assert_eq!(reply.attrs.tagged("Tunnel-Server-Endpoint", 1), Some("10.1.0.2"));
//! radius.acct(&[("User-Name", "alice"), ("Acct-Status-Type", "Start"), ("Acct-Session-Id", "1")])?;
//! let records = radius.wait_for_accounting(1, Duration::from_secs(5))?;
//! ```
//!
//! The generated configuration (see [`FreeRadius::dir`]) is deliberately
//! small and explicit rather than a patched copy of `/etc/freeradius/3.0`,
//! so it does not depend on what a distribution ships enabled (EAP
//! certificates, SQL, …):
//!
//! * `server default`: auth and acct listeners; `authorize { chap mschap
//!   files pap }` so PAP, CHAP-MD5, MS-CHAP and MS-CHAPv2 all work against a
//!   user's `Cleartext-Password`; `Auth-Type := Reject` users are rejected;
//!   an Access-Reject carries only what `attr_filter.access_reject` allows
//!   (Reply-Message, MS-CHAP-Error, …), as in a stock install;
//!   accounting goes to a `detail` file ([`FreeRadius::accounting_records`]).
//! * `server coa`: a `listen { type = coa }` listener that acknowledges
//!   every CoA-Request and Disconnect-Request and records them in a second
//!   detail file ([`FreeRadius::coa_records`]).
//! * `status_server = yes`, `reject_delay = 0` (tests should not wait a
//!   second for every reject).
//! * The project's `dictionaries/dictionary` is `$INCLUDE`d from the local
//!   dictionary when present ([`DictionaryPolicy`]).
//!
//! It runs in the foreground (`freeradius -X -d DIR`), on free loopback
//! ports ([`super::ports`]) or, with [`FreeRadiusBuilder::in_netns`], on an
//! address of a test namespace (standard ports 1812/1813/3799 there). Its
//! log (`DIR/radiusd.log`) is shown in every failure message.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::netns::Netns;
use super::process::{Process, describe, read_lossy};
use super::{
    Context, Result, TempDir, bail, ensure, manifest_dir, ports, require_tool, tail, tempdir,
    wait_until,
};

/// Shared secret of the default client (the FreeRADIUS convention).
pub const DEFAULT_SECRET: &str = "testing123";

/// How long FreeRADIUS may take to print "Ready to process requests".
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// What FreeRADIUS prints when it is ready (`-X` and `-f -l stdout` alike).
const READY: &str = "Ready to process requests";

/// Whether to `$INCLUDE` the project's `dictionaries/dictionary`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DictionaryPolicy {
    /// Include it if the file exists when the server starts (default).
    #[default]
    IfPresent,
    /// Include it; starting fails if it does not exist.
    Require,
    /// Never include it.
    Skip,
}

/// Path of the project's FreeRADIUS-format dictionary.
pub fn project_dictionary() -> PathBuf {
    manifest_dir().join("dictionaries").join("dictionary")
}

/// A RADIUS client (NAS) FreeRADIUS accepts requests from.
#[derive(Debug, Clone)]
pub struct RadiusClient {
    /// Address or CIDR range, IPv4 or IPv6 (`"127.0.0.1"`, `"10.1.0.0/24"`).
    pub addr: String,
    /// Shared secret.
    pub secret: String,
    /// Drop Access-Requests without Message-Authenticator (RFC 3579 §3.2).
    pub require_message_authenticator: bool,
}

impl RadiusClient {
    /// A client at `addr` (address or CIDR) with `secret`.
    pub fn new(addr: &str, secret: &str) -> Self {
        Self {
            addr: addr.to_owned(),
            secret: secret.to_owned(),
            require_message_authenticator: false,
        }
    }

    /// Requires Message-Authenticator in this client's Access-Requests;
    /// FreeRADIUS silently drops requests without it (looks like a timeout).
    pub fn require_message_authenticator(mut self, require: bool) -> Self {
        self.require_message_authenticator = require;
        self
    }
}

/// One `Attribute op value` item of a users-file entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Item {
    attr: String,
    op: String,
    /// Exactly as written in the file (already quoted where needed).
    value: String,
}

/// An entry of the FreeRADIUS `users` file (rlm_files): a name, check items
/// and reply items.
///
/// Values given to [`Self::check`] and [`Self::reply`] are written as quoted
/// strings (FreeRADIUS converts them to the attribute's type: integers,
/// enumerated names, addresses), except `0x…` hex, which is written bare
/// (octets). Use [`Self::reply_raw`] for anything else.
#[derive(Debug, Clone)]
pub struct UserEntry {
    name: String,
    check: Vec<Item>,
    reply: Vec<Item>,
    fall_through: bool,
}

impl UserEntry {
    /// An entry for User-Name `name` (`"DEFAULT"` matches every user).
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            check: Vec::new(),
            reply: Vec::new(),
            fall_through: false,
        }
    }

    /// `Cleartext-Password := password`: the user authenticates with PAP,
    /// CHAP-MD5, MS-CHAP or MS-CHAPv2.
    pub fn password(self, password: &str) -> Self {
        self.check("Cleartext-Password", ":=", password)
    }

    /// `Auth-Type := Reject`: every Access-Request for the user is rejected.
    pub fn reject(self) -> Self {
        self.check_raw("Auth-Type", ":=", "Reject")
    }

    /// A check item, e.g. `check("NAS-IP-Address", "==", "10.0.0.1")`.
    pub fn check(mut self, attr: &str, op: &str, value: &str) -> Self {
        self.check.push(Item {
            attr: attr.to_owned(),
            op: op.to_owned(),
            value: quote_value(value),
        });
        self
    }

    /// A check item whose value is written verbatim.
    pub fn check_raw(mut self, attr: &str, op: &str, raw: &str) -> Self {
        self.check.push(Item {
            attr: attr.to_owned(),
            op: op.to_owned(),
            value: raw.to_owned(),
        });
        self
    }

    /// A reply item `attr = value`; tagged attributes are named with their
    /// tag: `reply("Tunnel-Type:1", "L2TP")`.
    pub fn reply(self, attr: &str, value: &str) -> Self {
        self.reply_op(attr, "=", value)
    }

    /// A reply item with another operator (`:=`, `+=`).
    pub fn reply_op(mut self, attr: &str, op: &str, value: &str) -> Self {
        self.reply.push(Item {
            attr: attr.to_owned(),
            op: op.to_owned(),
            value: quote_value(value),
        });
        self
    }

    /// A reply item whose value is written verbatim.
    pub fn reply_raw(mut self, attr: &str, op: &str, raw: &str) -> Self {
        self.reply.push(Item {
            attr: attr.to_owned(),
            op: op.to_owned(),
            value: raw.to_owned(),
        });
        self
    }

    /// One RFC 2868 tunnel group with tag `tag` (1..=31): Tunnel-Type L2TP,
    /// Tunnel-Medium-Type IPv4 or IPv6 (from `endpoint`),
    /// Tunnel-Server-Endpoint, Tunnel-Password (omitted when empty) and
    /// Tunnel-Preference.
    pub fn l2tp_tunnel(self, tag: u8, endpoint: &str, password: &str, preference: u32) -> Self {
        let medium = if endpoint.contains(':') {
            "IPv6"
        } else {
            "IPv4"
        };
        let entry = self
            .reply(&format!("Tunnel-Type:{tag}"), "L2TP")
            .reply(&format!("Tunnel-Medium-Type:{tag}"), medium)
            .reply(&format!("Tunnel-Server-Endpoint:{tag}"), endpoint);
        let entry = if password.is_empty() {
            entry
        } else {
            entry.reply(&format!("Tunnel-Password:{tag}"), password)
        };
        entry.reply(&format!("Tunnel-Preference:{tag}"), &preference.to_string())
    }

    /// Adds `Fall-Through = Yes` so later entries (e.g. `DEFAULT`) match too.
    pub fn fall_through(mut self) -> Self {
        self.fall_through = true;
        self
    }

    /// The entry in users-file syntax.
    pub fn render(&self) -> String {
        let mut out = quote_value(&self.name);
        let check: Vec<String> = self
            .check
            .iter()
            .map(|item| format!("{} {} {}", item.attr, item.op, item.value))
            .collect();
        if !check.is_empty() {
            out.push(' ');
            out.push_str(&check.join(", "));
        }
        out.push('\n');
        let mut reply: Vec<String> = self
            .reply
            .iter()
            .map(|item| format!("\t{} {} {}", item.attr, item.op, item.value))
            .collect();
        if self.fall_through {
            reply.push("\tFall-Through = Yes".to_owned());
        }
        if !reply.is_empty() {
            out.push_str(&reply.join(",\n"));
            out.push('\n');
        }
        out
    }
}

/// Configures and starts a [`FreeRadius`]; see [`FreeRadius::builder`].
#[derive(Debug, Default)]
pub struct FreeRadiusBuilder {
    clients: Vec<RadiusClient>,
    users: Vec<UserEntry>,
    netns: Option<(String, IpAddr)>,
    ports: Option<(u16, u16, u16)>,
    dictionary: DictionaryPolicy,
    extra_dictionary: String,
    threaded: bool,
}

impl FreeRadiusBuilder {
    /// Adds a client. Without any, one default client accepts every
    /// address the server can be reached from (loopback, or anything in its
    /// namespace) with [`DEFAULT_SECRET`].
    pub fn client(mut self, client: RadiusClient) -> Self {
        self.clients.push(client);
        self
    }

    /// Adds a users-file entry (order matters: first match wins).
    pub fn user(mut self, user: UserEntry) -> Self {
        self.users.push(user);
        self
    }

    /// Runs the server inside `netns`, listening on `listen` (an address of
    /// that namespace) on ports 1812 (auth), 1813 (acct), 3799 (CoA)
    /// unless [`Self::ports`] says otherwise.
    pub fn in_netns(mut self, netns: &Netns, listen: IpAddr) -> Self {
        self.netns = Some((netns.name().to_owned(), listen));
        self
    }

    /// Fixed auth, acct and CoA ports (default: free loopback ports, or the
    /// standard ones inside a namespace).
    pub fn ports(mut self, auth: u16, acct: u16, coa: u16) -> Self {
        self.ports = Some((auth, acct, coa));
        self
    }

    /// Whether to include the project's dictionary (default: if present).
    pub fn project_dictionary(mut self, policy: DictionaryPolicy) -> Self {
        self.dictionary = policy;
        self
    }

    /// Runs multi-threaded with a short log (`freeradius -f -l stdout`)
    /// instead of the single-threaded, fully logged `-X` debug mode — for
    /// load and performance tests. Default: `-X`.
    pub fn threaded(mut self) -> Self {
        self.threaded = true;
        self
    }

    /// Extra lines for the local dictionary (`ATTRIBUTE`, `VENDOR`, …).
    pub fn dictionary_text(mut self, text: &str) -> Self {
        self.extra_dictionary.push_str(text);
        self.extra_dictionary.push('\n');
        self
    }

    /// Writes the config and starts the server; returns once it is ready
    /// (or fails with its log).
    pub fn start(self) -> Result<FreeRadius> {
        require_tool("freeradius", "freeradius")?;
        let dictionary = project_dictionary();
        let include_dictionary = match self.dictionary {
            DictionaryPolicy::Skip => false,
            DictionaryPolicy::IfPresent => dictionary.is_file(),
            DictionaryPolicy::Require => {
                ensure!(
                    dictionary.is_file(),
                    "the project dictionary {} does not exist",
                    dictionary.display()
                );
                true
            }
        };
        let dir = tempdir("radius")?;
        let (netns, listen) = match &self.netns {
            Some((name, addr)) => (Some(name.clone()), *addr),
            None => (None, IpAddr::V4(Ipv4Addr::LOCALHOST)),
        };
        let clients = if self.clients.is_empty() {
            let ranges: &[&str] = if netns.is_some() {
                &["0.0.0.0/0", "::/0"]
            } else {
                &["127.0.0.0/8", "::1"]
            };
            ranges
                .iter()
                .map(|range| RadiusClient::new(range, DEFAULT_SECRET))
                .collect()
        } else {
            self.clients.clone()
        };
        let mut server = FreeRadius {
            dir,
            netns,
            listen,
            auth_port: 0,
            acct_port: 0,
            coa_port: 0,
            clients,
            users: self.users.clone(),
            dictionary_included: include_dictionary,
            extra_dictionary: self.extra_dictionary.clone(),
            threaded: self.threaded,
            process: None,
        };
        server.write_static_files()?;
        // Loopback ports are probed, not reserved: another process may bind
        // one before FreeRADIUS does. Then pick new ones and try again.
        let attempts = if self.ports.is_none() && server.netns.is_none() {
            3
        } else {
            1
        };
        for attempt in 1..=attempts {
            (server.auth_port, server.acct_port, server.coa_port) =
                match (self.ports, &server.netns) {
                    (Some(ports), _) => ports,
                    (None, Some(_)) => (1812, 1813, 3799),
                    (None, None) => {
                        let free = ports::free_ports_on(listen, 3)?;
                        (free[0], free[1], free[2])
                    }
                };
            let log_before = server.log().len();
            match server.start() {
                Ok(()) => return Ok(server),
                Err(error)
                    if attempt < attempts
                        && server
                            .log()
                            .get(log_before..)
                            .is_some_and(|log| log.contains("Address already in use")) =>
                {
                    eprintln!("FreeRADIUS: port taken, retrying: {error:#}");
                }
                Err(error) => return Err(error),
            }
        }
        bail!("FreeRADIUS did not start")
    }
}

/// A running FreeRADIUS; stopped (and its config dir removed) on drop.
#[derive(Debug)]
pub struct FreeRadius {
    dir: TempDir,
    netns: Option<String>,
    listen: IpAddr,
    auth_port: u16,
    acct_port: u16,
    coa_port: u16,
    clients: Vec<RadiusClient>,
    users: Vec<UserEntry>,
    dictionary_included: bool,
    extra_dictionary: String,
    threaded: bool,
    process: Option<Process>,
}

impl FreeRadius {
    /// A builder: add clients and users, then `start()`.
    pub fn builder() -> FreeRadiusBuilder {
        FreeRadiusBuilder::default()
    }

    /// Address of the authentication listener.
    pub fn auth_addr(&self) -> SocketAddr {
        SocketAddr::new(self.listen, self.auth_port)
    }

    /// Address of the accounting listener.
    pub fn acct_addr(&self) -> SocketAddr {
        SocketAddr::new(self.listen, self.acct_port)
    }

    /// Address of the CoA / Disconnect listener (`server coa`).
    pub fn coa_addr(&self) -> SocketAddr {
        SocketAddr::new(self.listen, self.coa_port)
    }

    /// Secret of the first client (the default client's: [`DEFAULT_SECRET`]).
    pub fn secret(&self) -> &str {
        self.clients
            .first()
            .map_or(DEFAULT_SECRET, |client| client.secret.as_str())
    }

    /// The private config directory (`radiusd.conf`, `users`, logs, detail files).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Whether the project dictionary was `$INCLUDE`d.
    pub fn project_dictionary_included(&self) -> bool {
        self.dictionary_included
    }

    /// The server's log (all starts appended): `-X` debug output, or the
    /// short log with [`FreeRadiusBuilder::threaded`].
    pub fn log_path(&self) -> PathBuf {
        self.dir().join("radiusd.log")
    }

    /// The whole log so far.
    pub fn log(&self) -> String {
        read_lossy(&self.log_path())
    }

    /// The accounting detail file.
    pub fn detail_path(&self) -> PathBuf {
        self.dir().join("radacct").join("detail")
    }

    /// The detail file of CoA / Disconnect requests received.
    pub fn coa_detail_path(&self) -> PathBuf {
        self.dir().join("radacct").join("coa-detail")
    }

    /// Complete accounting records written so far, oldest first.
    pub fn accounting_records(&self) -> Vec<DetailRecord> {
        parse_detail(&read_lossy(&self.detail_path()))
    }

    /// Waits until at least `count` accounting records are written; returns
    /// all of them. The error shows the records seen and the server log.
    pub fn wait_for_accounting(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<DetailRecord>> {
        self.wait_for_records(&self.detail_path(), count, timeout)
    }

    /// Complete CoA / Disconnect request records received so far.
    pub fn coa_records(&self) -> Vec<DetailRecord> {
        parse_detail(&read_lossy(&self.coa_detail_path()))
    }

    /// Waits until at least `count` CoA / Disconnect records are written.
    pub fn wait_for_coa_records(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<DetailRecord>> {
        self.wait_for_records(&self.coa_detail_path(), count, timeout)
    }

    fn wait_for_records(
        &self,
        path: &Path,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<DetailRecord>> {
        wait_until(
            timeout,
            || {
                let records = parse_detail(&read_lossy(path));
                Ok((records.len() >= count).then_some(records))
            },
            || {
                format!(
                    "expected {count} records in {}, have:\n{}\nFreeRADIUS log:\n{}",
                    path.display(),
                    read_lossy(path),
                    tail(&self.log(), 60)
                )
            },
        )
    }

    /// Whether the server process is running.
    pub fn is_running(&mut self) -> bool {
        self.process.as_mut().is_some_and(Process::is_running)
    }

    /// Stops the server (SIGTERM); the config, log and detail files stay.
    pub fn stop(&mut self) -> Result<()> {
        if let Some(mut process) = self.process.take() {
            process.stop()?;
        }
        Ok(())
    }

    /// Starts the server again after [`Self::stop`], on the same addresses
    /// and with the same files (the users file as last written).
    pub fn start(&mut self) -> Result<()> {
        ensure!(self.process.is_none(), "FreeRADIUS is already running");
        self.write_config()?;
        let log_path = self.log_path();
        let from = std::fs::metadata(&log_path).map_or(0, |meta| meta.len() as usize);
        let mut command = match &self.netns {
            Some(ns) => {
                let mut command = Command::new("ip");
                command.args(["netns", "exec", ns.as_str(), "freeradius"]);
                command
            }
            None => Command::new("freeradius"),
        };
        if self.threaded {
            command.args(["-f", "-l", "stdout"]);
        } else {
            command.arg("-X");
        }
        command.arg("-d").arg(self.dir());
        let mut process = Process::spawn("freeradius", command, &log_path)?;
        process
            .wait_for_log_from(from, READY, START_TIMEOUT)
            .context("FreeRADIUS did not become ready")?;
        self.process = Some(process);
        Ok(())
    }

    /// [`Self::stop`] then [`Self::start`].
    pub fn restart(&mut self) -> Result<()> {
        self.stop()?;
        self.start()
    }

    /// Replaces the users file; takes effect at the next (re)start.
    pub fn replace_users(&mut self, users: Vec<UserEntry>) -> Result<()> {
        self.users = users;
        self.write_users()
    }

    /// A [`Radclient`] aimed at this server's auth port, with its secret,
    /// run in its namespace (if any). Use `.to(addr)` for acct / CoA.
    pub fn radclient(&self) -> Radclient {
        let client = Radclient::new(self.auth_addr(), self.secret());
        match &self.netns {
            Some(ns) => client.in_netns_named(ns),
            None => client,
        }
    }

    /// Sends an Access-Request with `attrs` to the auth port.
    pub fn auth(&self, attrs: &[(&str, &str)]) -> Result<RadReply> {
        self.radclient().send(RequestKind::Auth, attrs)
    }

    /// Sends an Accounting-Request with `attrs` to the acct port.
    pub fn acct(&self, attrs: &[(&str, &str)]) -> Result<RadReply> {
        self.radclient()
            .to(self.acct_addr())
            .send(RequestKind::Acct, attrs)
    }

    /// Sends a CoA-Request with `attrs` to the CoA listener.
    pub fn coa(&self, attrs: &[(&str, &str)]) -> Result<RadReply> {
        self.radclient()
            .to(self.coa_addr())
            .send(RequestKind::Coa, attrs)
    }

    /// Sends a Disconnect-Request with `attrs` to the CoA listener.
    pub fn disconnect(&self, attrs: &[(&str, &str)]) -> Result<RadReply> {
        self.radclient()
            .to(self.coa_addr())
            .send(RequestKind::Disconnect, attrs)
    }

    /// Sends a Status-Server to the auth port (answered with Access-Accept).
    pub fn status(&self) -> Result<RadReply> {
        self.radclient().send(RequestKind::Status, &[])
    }

    fn write_static_files(&self) -> Result<()> {
        for sub in ["radacct", "run", "log"] {
            std::fs::create_dir_all(self.dir().join(sub))?;
        }
        let mut dictionary = String::from("# Local dictionary of this test server.\n");
        if self.dictionary_included {
            writeln!(dictionary, "$INCLUDE {}", project_dictionary().display())?;
        }
        dictionary.push_str(&self.extra_dictionary);
        write_file(&self.dir().join("dictionary"), &dictionary)?;
        // As Debian's mods-config/attr_filter/access_reject: what an
        // Access-Reject may carry.
        write_file(
            &self.dir().join("attr_filter_access_reject"),
            "DEFAULT\n\tEAP-Message =* ANY,\n\tMessage-Authenticator =* ANY,\n\tError-Cause =* ANY,\n\
             \tReply-Message =* ANY,\n\tMS-CHAP-Error =* ANY,\n\tProxy-State =* ANY\n",
        )?;
        self.write_users()
    }

    fn write_users(&self) -> Result<()> {
        let users: String = self.users.iter().map(|user| user.render() + "\n").collect();
        write_file(&self.dir().join("users"), &users)
    }

    fn write_config(&self) -> Result<()> {
        let dir = self.dir().display().to_string();
        let address_key = if self.listen.is_ipv6() {
            "ipv6addr"
        } else {
            "ipv4addr"
        };
        let listen = self.listen;
        let mut clients = String::new();
        for (index, client) in self.clients.iter().enumerate() {
            let key = if client.addr.contains(':') {
                "ipv6addr"
            } else {
                "ipv4addr"
            };
            writeln!(
                clients,
                "client c{index} {{\n\t{key} = {}\n\tsecret = {}\n\trequire_message_authenticator = {}\n\tshortname = c{index}\n}}",
                client.addr,
                quote(&client.secret),
                if client.require_message_authenticator {
                    "yes"
                } else {
                    "no"
                }
            )?;
        }
        let (auth, acct, coa) = (self.auth_port, self.acct_port, self.coa_port);
        let config = format!(
            r#"# Generated by tests/common/freeradius.rs for one test.
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
logdir = {dir}/log
raddbdir = {dir}
radacctdir = {dir}/radacct
name = freeradius
confdir = {dir}
modconfdir = {dir}/mods-config
certdir = {dir}/certs
cadir = {dir}/certs
run_dir = {dir}/run
db_dir = {dir}
libdir = /usr/lib/freeradius
pidfile = {dir}/run/freeradius.pid
max_request_time = 30
cleanup_delay = 5
max_requests = 16384
hostname_lookups = no
proxy_requests = no
log {{
	destination = stdout
	colourise = no
	stripped_names = no
	auth = yes
	auth_badpass = no
	auth_goodpass = no
}}
security {{
	allow_core_dumps = no
	max_attributes = 200
	reject_delay = 0
	status_server = yes
}}
{clients}
modules {{
	always ok {{
		rcode = ok
	}}
	pap {{
	}}
	chap {{
	}}
	mschap {{
	}}
	files {{
		filename = {dir}/users
	}}
	attr_filter attr_filter.access_reject {{
		key = "%{{User-Name}}"
		filename = {dir}/attr_filter_access_reject
	}}
	detail {{
		filename = {dir}/radacct/detail
		permissions = 0600
		header = "%t"
		locking = no
	}}
	detail coa_detail {{
		filename = {dir}/radacct/coa-detail
		permissions = 0600
		header = "%t"
		locking = no
	}}
}}
server default {{
	listen {{
		type = auth
		{address_key} = {listen}
		port = {auth}
	}}
	listen {{
		type = acct
		{address_key} = {listen}
		port = {acct}
	}}
	authorize {{
		chap
		mschap
		files
		pap
	}}
	authenticate {{
		Auth-Type PAP {{
			pap
		}}
		Auth-Type CHAP {{
			chap
		}}
		Auth-Type MS-CHAP {{
			mschap
		}}
	}}
	preacct {{
		ok
	}}
	accounting {{
		detail
		ok
	}}
	post-auth {{
		ok
		Post-Auth-Type REJECT {{
			attr_filter.access_reject
		}}
	}}
}}
server coa {{
	listen {{
		type = coa
		{address_key} = {listen}
		port = {coa}
	}}
	recv-coa {{
		coa_detail
		ok
	}}
	send-coa {{
		ok
	}}
}}
"#
        );
        write_file(&self.dir().join("radiusd.conf"), &config)
    }
}

impl Drop for FreeRadius {
    fn drop(&mut self) {
        if let Err(error) = self.stop() {
            eprintln!("stopping FreeRADIUS: {error:#}");
        }
    }
}

/// Kinds of request `radclient` sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// Access-Request.
    Auth,
    /// Accounting-Request.
    Acct,
    /// CoA-Request (RFC 5176).
    Coa,
    /// Disconnect-Request (RFC 5176).
    Disconnect,
    /// Status-Server (RFC 5997); Message-Authenticator is added.
    Status,
}

impl RequestKind {
    /// radclient's command word.
    pub fn command(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::Acct => "acct",
            Self::Coa => "coa",
            Self::Disconnect => "disconnect",
            Self::Status => "status",
        }
    }
}

/// `radclient` (Debian `freeradius-utils`) aimed at one server: ours,
/// FreeRADIUS, or any RADIUS / dynamic-authorization endpoint.
#[derive(Debug, Clone)]
pub struct Radclient {
    server: SocketAddr,
    secret: String,
    netns: Option<String>,
    timeout: Duration,
    retries: u32,
}

impl Radclient {
    /// Requests to `server` with shared `secret`; 2 s timeout, 2 tries.
    pub fn new(server: SocketAddr, secret: &str) -> Self {
        Self {
            server,
            secret: secret.to_owned(),
            netns: None,
            timeout: Duration::from_secs(2),
            retries: 2,
        }
    }

    /// Sends from inside `netns`.
    pub fn in_netns(self, netns: &Netns) -> Self {
        self.in_netns_named(netns.name())
    }

    fn in_netns_named(mut self, name: &str) -> Self {
        self.netns = Some(name.to_owned());
        self
    }

    /// Another destination, same secret and namespace.
    pub fn to(mut self, server: SocketAddr) -> Self {
        self.server = server;
        self
    }

    /// Time to wait for a reply to each try (radclient `-t`, whole seconds).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Number of tries (radclient `-r`).
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries.max(1);
        self
    }

    /// Sends one request with `attrs` (name, value; values as in
    /// [`UserEntry::check`]: quoted unless `0x…`). `CHAP-Password` given in
    /// clear text is turned into a CHAP response by radclient;
    /// `("Message-Authenticator", "0x00")` makes it add a real one. A
    /// timeout is not an error: the reply's `code` is then `None`.
    pub fn send(&self, kind: RequestKind, attrs: &[(&str, &str)]) -> Result<RadReply> {
        let radclient = require_tool("radclient", "freeradius-utils")?;
        let mut input = String::new();
        for (name, value) in attrs {
            writeln!(input, "{name} = {}", quote_value(value))?;
        }
        if kind == RequestKind::Status
            && !attrs
                .iter()
                .any(|(name, _)| *name == "Message-Authenticator")
        {
            input.push_str("Message-Authenticator = 0x00\n");
        }
        let mut command = match &self.netns {
            Some(ns) => {
                let mut command = Command::new("ip");
                command.args(["netns", "exec", ns.as_str()]).arg(&radclient);
                command
            }
            None => Command::new(&radclient),
        };
        let timeout = self.timeout.as_secs_f64().max(0.1);
        command
            .arg("-x")
            .args(["-t", &format!("{timeout}"), "-r", &self.retries.to_string()])
            .arg(self.server.to_string())
            .arg(kind.command())
            .arg(&self.secret);
        let line = describe(&command);
        let output = run_with_input(command, &input)?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let reply = parse_radclient_output(&text);
        if reply.code.is_none() && !text.contains("No reply from server") {
            bail!(
                "`{line}` failed ({}):\ninput:\n{input}output:\n{text}",
                output.status
            );
        }
        Ok(reply)
    }

    /// Access-Request.
    pub fn auth(&self, attrs: &[(&str, &str)]) -> Result<RadReply> {
        self.send(RequestKind::Auth, attrs)
    }

    /// Accounting-Request.
    pub fn acct(&self, attrs: &[(&str, &str)]) -> Result<RadReply> {
        self.send(RequestKind::Acct, attrs)
    }

    /// CoA-Request.
    pub fn coa(&self, attrs: &[(&str, &str)]) -> Result<RadReply> {
        self.send(RequestKind::Coa, attrs)
    }

    /// Disconnect-Request.
    pub fn disconnect(&self, attrs: &[(&str, &str)]) -> Result<RadReply> {
        self.send(RequestKind::Disconnect, attrs)
    }

    /// Status-Server.
    pub fn status(&self) -> Result<RadReply> {
        self.send(RequestKind::Status, &[])
    }
}

/// What radclient received.
#[derive(Debug, Clone, Default)]
pub struct RadReply {
    /// Packet type name as radclient prints it (`"Access-Accept"`,
    /// `"Accounting-Response"`, `"CoA-NAK"`, …); `None` when no reply came.
    pub code: Option<String>,
    /// Attributes of the reply, in order (Tunnel-Password decrypted).
    pub attrs: AttrMap,
    /// radclient's whole output, for failure messages.
    pub output: String,
}

impl RadReply {
    /// The packet type name, if a reply came.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// Fails (showing radclient's output) unless the reply has type `code`.
    pub fn expect(&self, code: &str) -> Result<&Self> {
        ensure!(
            self.code() == Some(code),
            "expected {code}, got {:?}; radclient output:\n{}",
            self.code(),
            self.output
        );
        Ok(self)
    }
}

/// Attributes as FreeRADIUS prints them: `(name, value)` in order,
/// duplicates kept, tags part of the name (`Tunnel-Type:1`), string values
/// unquoted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttrMap(pub Vec<(String, String)>);

impl AttrMap {
    /// First value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// All values of `name`, in order.
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// Value of a tagged attribute: `tagged("Tunnel-Type", 1)` reads
    /// `Tunnel-Type:1`.
    pub fn tagged(&self, name: &str, tag: u8) -> Option<&str> {
        self.get(&format!("{name}:{tag}"))
    }

    /// Whether `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Number of attributes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Iterates `(name, value)`.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
    }

    /// Attributes grouped by tag: tag → (name without tag → value), for
    /// RFC 2868 tunnel groups.
    pub fn tag_groups(&self) -> BTreeMap<u8, BTreeMap<String, String>> {
        let mut groups: BTreeMap<u8, BTreeMap<String, String>> = BTreeMap::new();
        for (key, value) in &self.0 {
            if let Some((name, tag)) = key.rsplit_once(':')
                && let Ok(tag) = tag.parse::<u8>()
            {
                groups
                    .entry(tag)
                    .or_default()
                    .insert(name.to_owned(), value.clone());
            }
        }
        groups
    }

    /// Parses one `\tName = value` line into the map (ignores other lines).
    fn push_line(&mut self, line: &str) {
        if let Some((name, value)) = line.trim().split_once(" = ") {
            self.0.push((name.trim().to_owned(), unquote(value.trim())));
        }
    }
}

/// One record of a FreeRADIUS detail file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetailRecord {
    /// The header line (the time the record was written).
    pub header: String,
    /// The attributes, including FreeRADIUS' own `Timestamp`.
    pub attrs: AttrMap,
}

/// Parses a detail file: records of a header line, tab-indented
/// `Name = value` lines and an empty line. A record still being written
/// (no empty line yet) is left out.
pub fn parse_detail(text: &str) -> Vec<DetailRecord> {
    let mut records = Vec::new();
    let mut current: Option<DetailRecord> = None;
    for line in text.split_inclusive('\n') {
        let complete_line = line.ends_with('\n');
        let line = line.trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() {
            if complete_line {
                records.extend(current.take());
            }
        } else if line.starts_with(['\t', ' ']) {
            if let Some(record) = current.as_mut() {
                record.attrs.push_line(line);
            }
        } else {
            current = Some(DetailRecord {
                header: line.to_owned(),
                attrs: AttrMap::default(),
            });
        }
    }
    records
}

/// Parses `radclient -x` output: the attributes of the first `Received …`
/// packet.
pub fn parse_radclient_output(text: &str) -> RadReply {
    let mut reply = RadReply {
        output: text.to_owned(),
        ..RadReply::default()
    };
    let mut in_reply = false;
    for line in text.lines() {
        if line.starts_with(['\t', ' ']) {
            if in_reply {
                reply.attrs.push_line(line);
            }
            continue;
        }
        in_reply = false;
        if reply.code.is_none()
            && let Some(rest) = line.strip_prefix("Received ")
        {
            reply.code = rest.split_whitespace().next().map(str::to_owned);
            in_reply = true;
        }
    }
    reply
}

/// Writes a value for a FreeRADIUS text format: `0x…` hex bare, anything
/// else as a double-quoted string.
fn quote_value(value: &str) -> String {
    let is_hex = value
        .strip_prefix("0x")
        .is_some_and(|hex| !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()));
    if is_hex {
        value.to_owned()
    } else {
        quote(value)
    }
}

/// A double-quoted string with `\` and `"` escaped.
fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Reverses FreeRADIUS' quoting of a printed value.
fn unquote(value: &str) -> String {
    let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return value.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn write_file(path: &Path, contents: &str) -> Result<()> {
    std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))
}

/// Runs `command` with `input` on stdin and returns its output.
fn run_with_input(mut command: Command, input: &str) -> Result<std::process::Output> {
    use std::io::Write;
    use std::process::Stdio;
    let line = describe(&command);
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {line}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.as_bytes())
            .with_context(|| format!("writing to {line}"))?;
    }
    child
        .wait_with_output()
        .with_context(|| format!("running {line}"))
}
