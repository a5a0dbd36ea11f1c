//! The tunnel's outbox: what waits in front of the control channel when
//! the peer's window (RFC 2661 §5.8) or the channel's send queue has no
//! room, and the new LAC calls (§7.4) not placed yet. See the parent
//! module's docs for the policy; this module holds the queues and the
//! [`Tunnel`] methods that feed the channel from them.
//!
//! Nothing here fails for lack of room: a message the channel cannot take
//! yet waits, in order, and goes as acknowledgements free the window.

use std::collections::VecDeque;

use rand::RngExt;

use crate::wire::l2tp::{ControlMessage, HiddenPadding, Hiding};

use super::super::event::Event;
use super::super::session::{SENSITIVE_CALL_AVPS, SessionState};
use super::{Ctx, Tunnel, TunnelState};

/// A message decided but not yet handed to the control channel.
#[derive(Debug)]
pub(super) struct Queued {
    msg: ControlMessage,
    peer_session_id: u16,
    /// An ICCN's call (our Session ID) and its `SessionUp`, held until the
    /// ICCN's Ns is acknowledged.
    held_up: Option<(u16, Box<Event>)>,
}

/// The ordered queues of one tunnel.
#[derive(Debug, Default)]
pub(super) struct Outbox {
    /// Messages of the tunnel and of calls in progress, oldest first.
    messages: VecDeque<Queued>,
    /// Entries of `messages` holding a `SessionUp`.
    held: usize,
    /// LAC calls not placed yet (our Session IDs, in the order they were
    /// opened). Lazily pruned: an id whose session is gone or no longer
    /// waits is skipped when it comes up.
    calls: VecDeque<u16>,
    /// Sessions in [`SessionState::WaitTunnel`]: the calls that wait.
    waiting: usize,
}

impl Outbox {
    /// Calls opened and not placed yet (their ICRQ has not reached the
    /// channel).
    pub(super) fn waiting_calls(&self) -> usize {
        self.waiting
    }

    /// Messages waiting for room in the channel.
    pub(super) fn waiting_messages(&self) -> usize {
        self.messages.len()
    }

    /// A new call waits for its ICRQ to be placed.
    pub(super) fn push_call(&mut self, session_id: u16) {
        self.calls.push_back(session_id);
        self.waiting += 1;
    }

    /// A call left [`SessionState::WaitTunnel`] (placed, or gone).
    pub(super) fn call_left(&mut self) {
        self.waiting = self.waiting.saturating_sub(1);
    }

    /// Forgets everything (the tunnel is closing or gone; the caller has
    /// reported every call down).
    pub(super) fn clear(&mut self) {
        *self = Self::default();
    }

    /// Forgets the waiting calls (every session is gone).
    pub(super) fn forget_calls(&mut self) {
        self.calls = VecDeque::new();
        self.waiting = 0;
    }

    /// The waiting calls' ids, in order (stale ones included).
    pub(super) fn into_calls(self) -> impl Iterator<Item = u16> {
        self.calls.into_iter()
    }

    fn push_message(&mut self, queued: Queued) {
        if queued.held_up.is_some() {
            self.held += 1;
        }
        self.messages.push_back(queued);
    }

    fn pop_message(&mut self) -> Option<Queued> {
        let queued = self.messages.pop_front()?;
        if queued.held_up.is_some() {
            self.held = self.held.saturating_sub(1);
        }
        Some(queued)
    }

    /// Takes the `SessionUp` held by a queued ICCN of `session_id`.
    fn take_held_up(&mut self, session_id: u16) -> Option<Box<Event>> {
        if self.held == 0 {
            return None;
        }
        let up = self
            .messages
            .iter_mut()
            .find(|q| q.held_up.as_ref().is_some_and(|(id, _)| *id == session_id))
            .and_then(|q| q.held_up.take())
            .map(|(_, up)| up)?;
        self.held -= 1;
        Some(up)
    }
}

impl Tunnel {
    /// Sends `msg` to the peer's `peer_session_id` (hiding sensitive AVPs
    /// when configured, §4.3): through the channel at once when it has
    /// room and nothing older waits, else after what waits.
    pub(super) fn send(&mut self, ctx: &mut Ctx<'_>, msg: ControlMessage, peer_session_id: u16) {
        self.enqueue(
            ctx,
            Queued {
                msg,
                peer_session_id,
                held_up: None,
            },
        );
    }

    /// LAC: sends the ICCN of `session_id` and holds its `SessionUp` until
    /// the peer acknowledges the ICCN (§5.8: Nr acknowledges it), so no
    /// data message of the call can reach an LNS that does not know the
    /// call yet.
    pub(super) fn send_iccn(
        &mut self,
        ctx: &mut Ctx<'_>,
        iccn: ControlMessage,
        peer_session_id: u16,
        session_id: u16,
        up: Event,
    ) {
        self.enqueue(
            ctx,
            Queued {
                msg: iccn,
                peer_session_id,
                held_up: Some((session_id, Box::new(up))),
            },
        );
    }

    fn enqueue(&mut self, ctx: &mut Ctx<'_>, queued: Queued) {
        if self.outbox.messages.is_empty() && self.channel_has_room() {
            self.emit(ctx, queued);
        } else {
            self.outbox.push_message(queued);
        }
    }

    /// Whether the channel takes another message now.
    fn channel_has_room(&self) -> bool {
        self.channel.dead_cause().is_none()
            && self.channel.unacknowledged() < self.channel.config().max_send_queue
    }

    /// Hands one message to the channel (which has room).
    fn emit(&mut self, ctx: &mut Ctx<'_>, queued: Queued) {
        let Queued {
            mut msg,
            peer_session_id,
            held_up,
        } = queued;
        msg.tunnel_id = self.peer_id;
        msg.session_id = peer_session_id;
        let mut hide = false;
        if self.hide_avps.unwrap_or(ctx.config.hide_avps) && self.secret.is_some() {
            for item in &mut msg.avps {
                if item
                    .avp
                    .ietf_type()
                    .is_some_and(|t| SENSITIVE_CALL_AVPS.contains(&t))
                {
                    item.hidden = true;
                    hide = true;
                }
            }
        }
        let message_type = msg.message_type;
        let sent = match (&self.secret, hide) {
            (Some(secret), true) => {
                // §4.3: "The Random Vector AVP MUST precede the first AVP
                // with the H bit set"; a fresh vector per message.
                let random_vector: [u8; 16] = ctx.rng.random();
                let hiding = Hiding {
                    secret,
                    random_vector: &random_vector,
                    hide: &[],
                    padding: HiddenPadding::None,
                };
                self.channel.send_with_hiding(ctx.now, msg, Some(&hiding))
            }
            _ => self.channel.send(ctx.now, msg),
        };
        match (sent, held_up) {
            (Ok(ns), Some((session_id, up))) => {
                self.pending_up.insert(ns, (session_id, *up));
            }
            (Ok(_), None) => {}
            (Err(error), held_up) => {
                // The channel is closed (the tunnel is going), or the
                // message cannot be encoded: nothing to send it on.
                tracing::debug!(
                    tunnel_id = self.local_id,
                    ?message_type,
                    %error,
                    "L2TP control message not sent"
                );
                if let Some((_, up)) = held_up {
                    ctx.events.push_back(*up);
                }
            }
        }
    }

    /// Feeds the channel from the outbox while it has room: waiting
    /// messages first, then new calls' ICRQs while the channel's backlog
    /// (queued beyond the window) is below one window. Runs after every
    /// input ([`Self::settle`]); iterative, bounded by the room.
    fn flush(&mut self, ctx: &mut Ctx<'_>) {
        if self.state == TunnelState::Gone {
            return;
        }
        while self.channel_has_room() {
            let Some(queued) = self.outbox.pop_message() else {
                break;
            };
            self.emit(ctx, queued);
        }
        if !self.outbox.messages.is_empty() || self.state != TunnelState::Established {
            return;
        }
        while self.channel_has_room() && self.backlog() < usize::from(self.channel.window()) {
            let Some(session_id) = self.outbox.calls.pop_front() else {
                break;
            };
            let waits = self
                .sessions
                .get(&session_id)
                .is_some_and(|s| s.state == SessionState::WaitTunnel);
            if waits {
                self.send_icrq(ctx, session_id);
            }
        }
        // Stale ids (calls cleared while waiting) are skipped when they
        // come up; keep them from piling up behind a stalled window.
        if self.outbox.calls.len() > 2 * self.outbox.waiting + 64 {
            let sessions = &self.sessions;
            self.outbox.calls.retain(|id| {
                sessions
                    .get(id)
                    .is_some_and(|s| s.state == SessionState::WaitTunnel)
            });
        }
    }

    /// Messages the channel holds beyond what its window lets fly.
    fn backlog(&self) -> usize {
        self.channel
            .unacknowledged()
            .saturating_sub(usize::from(self.channel.in_flight()))
    }

    /// After any input or command: feed the channel from the outbox, then
    /// report what that did (window stalls).
    pub(crate) fn settle(&mut self, ctx: &mut Ctx<'_>) {
        self.flush(ctx);
        self.drain(ctx);
    }

    /// Releases the held [`Event::SessionUp`] of `session_id` (its ICCN is
    /// known to have arrived). Returns whether one was held.
    pub(crate) fn confirm_session_up(&mut self, ctx: &mut Ctx<'_>, session_id: u16) -> bool {
        let held = self
            .pending_up
            .iter()
            .find(|(_, (id, _))| *id == session_id)
            .map(|(ns, _)| *ns);
        let up = match held {
            Some(ns) => self.pending_up.remove(&ns).map(|(_, up)| up),
            None => self.outbox.take_held_up(session_id).map(|up| *up),
        };
        let Some(mut up) = up else {
            return false;
        };
        if let Event::SessionUp { at, .. } = &mut up {
            *at = ctx.now;
        }
        ctx.events.push_back(up);
        true
    }

    /// Forgets the held `SessionUp` of a call that is gone.
    pub(super) fn drop_held_up(&mut self, session_id: u16) {
        self.pending_up.retain(|_, (id, _)| *id != session_id);
        drop(self.outbox.take_held_up(session_id));
    }

    /// Calls opened and not placed yet.
    pub(crate) fn queued_calls(&self) -> usize {
        self.outbox.waiting_calls()
    }

    /// Messages waiting for room in the channel.
    pub(crate) fn waiting_messages(&self) -> usize {
        self.outbox.waiting_messages()
    }

    /// Messages the channel holds (in flight or waiting for the window).
    pub(crate) fn unacknowledged(&self) -> usize {
        self.channel.unacknowledged()
    }
}
