//! The LAC core's accounting records: Start / Interim / Stop (RFC 2866)
//! with the RFC 2867 tunnel attributes of the session's call, and the
//! RFC 2867 §4.1 tunnel records (Tunnel-Start, -Stop, -Reject,
//! -Link-Start, -Link-Stop).

use super::*;

impl NodeCore {
    pub(super) fn account(&mut self, record: AccountingRecord) {
        self.commands.push_back(Command::Account {
            group: self.config.acct_group.clone(),
            record: Box::new(record),
        });
    }

    /// An accounting record of `status` for a session.
    pub(super) fn session_record(
        &self,
        now: Instant,
        token: u64,
        status: AcctStatusType,
    ) -> Option<AccountingRecord> {
        let session = self.sessions.get(&token)?;
        let mut record = AccountingRecord::new(
            status,
            session.user_name.clone(),
            self.aaa_session_info(token),
        );
        if let Some(accept) = &session.accept {
            record.class.clone_from(&accept.class);
        }
        if status != AcctStatusType::Start {
            record.counters = Some(self.counters(session));
            record.session_time = session.up_at.map(|t| {
                u32::try_from(now.saturating_duration_since(t).as_secs()).unwrap_or(u32::MAX)
            });
        }
        record.tunnel = self.tunnel_attributes(session);
        Some(record)
    }

    pub(super) fn tunnel_attributes(&self, session: &Session) -> Option<TunnelAccounting> {
        let Stage::Up(f) = &session.stage else {
            return None;
        };
        let text = |b: &Option<Vec<u8>>| {
            b.as_deref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
        };
        let attempt = session.lns.as_ref();
        Some(TunnelAccounting {
            client_endpoint: self.config.local_address,
            server_endpoint: Some(f.peer.ip()),
            assignment_id: attempt.and_then(|a| text(&a.assignment_id)),
            connection_id: Some(format!("{}/{}", f.handle.tunnel_id, f.handle.session_id)),
            client_auth_id: attempt.and_then(|a| text(&a.client_auth_id)),
            server_auth_id: None,
            packets_lost: None,
        })
    }

    /// An RFC 2867 tunnel record (Tunnel-Start/Stop/Reject, Link-Start/Stop).
    pub(super) fn tunnel_record(
        &self,
        tunnel_id: u16,
        status: AcctStatusType,
        token: Option<u64>,
    ) -> AccountingRecord {
        let tunnel = self.tunnels.get(&tunnel_id);
        let session = token.and_then(|t| self.sessions.get(&t));
        let info = token
            .map(|t| self.aaa_session_info(t))
            .unwrap_or_else(|| AaaSessionInfo {
                acct_session_id: format!("{}T{tunnel_id:04X}", self.acct_session_prefix),
                ..AaaSessionInfo::default()
            });
        let mut record =
            AccountingRecord::new(status, session.and_then(|s| s.user_name.clone()), info);
        let connection_id = match session.map(|s| &s.stage) {
            Some(Stage::Up(f)) => format!("{tunnel_id}/{}", f.handle.session_id),
            _ => tunnel.map_or_else(|| tunnel_id.to_string(), |t| t.connection_id.clone()),
        };
        record.tunnel = Some(TunnelAccounting {
            client_endpoint: self.config.local_address,
            server_endpoint: tunnel.map(|t| t.peer.ip()),
            assignment_id: tunnel
                .and_then(|t| t.assignment_id.as_deref())
                .map(|b| String::from_utf8_lossy(b).into_owned()),
            connection_id: Some(connection_id),
            client_auth_id: None,
            server_auth_id: None,
            packets_lost: None,
        });
        record
    }
}
