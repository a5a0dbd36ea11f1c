//! Opt-in moka caches in front of RADIUS authentication (all off by
//! default):
//!
//! * **positive** (riding out outages): the last Access-Accept of a PAP user
//!   is kept for `positive_ttl` and used **only** when no server of the
//!   group answers (timeout, all dead). The key is an HMAC-MD5 of user and
//!   password under a per-process random key, so the cache holds no
//!   password or reusable digest. CHAP and MS-CHAPv2 prove knowledge of
//!   the password against a fresh challenge, so they cannot be cached;
//! * **negative** (password-guessing storms): after an Access-Reject, the
//!   same user name is rejected locally for `negative_ttl`;
//! * **rate** (per-user request limit): at most `per_user_limit` requests
//!   per user in `per_user_window`; more are rejected locally
//!   ([`RejectCause::Overloaded`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use moka::future::Cache;

use super::attributes::{Decision, RejectCause, Rejection};
use super::request::{AuthRequest, Credentials};
use crate::wire::radius::hmac_md5;

/// Cache settings; `None` disables a cache.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthCacheConfig {
    /// Keep PAP Access-Accepts this long for outages.
    pub positive_ttl: Option<Duration>,
    /// Reject a user locally this long after an Access-Reject.
    pub negative_ttl: Option<Duration>,
    /// Requests per user per [`Self::per_user_window`].
    pub per_user_limit: Option<u32>,
    /// Window of the per-user limit. Default (when zero) one second.
    pub per_user_window: Duration,
    /// Most entries per cache.
    pub max_entries: u64,
}

/// The caches.
pub struct AuthCache {
    key: [u8; 16],
    positive: Option<Cache<[u8; 16], Decision>>,
    negative: Option<Cache<String, ()>>,
    rate: Option<(u32, Cache<String, Arc<AtomicU32>>)>,
}

impl core::fmt::Debug for AuthCache {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AuthCache")
            .field("positive", &self.positive.is_some())
            .field("negative", &self.negative.is_some())
            .field("rate", &self.rate.as_ref().map(|r| r.0))
            .finish_non_exhaustive()
    }
}

impl AuthCache {
    /// Builds the enabled caches; `key` keys the positive cache's HMAC.
    #[must_use]
    pub fn new(config: &AuthCacheConfig, key: [u8; 16]) -> Self {
        let max = if config.max_entries == 0 {
            100_000
        } else {
            config.max_entries
        };
        Self {
            key,
            positive: config
                .positive_ttl
                .map(|ttl| Cache::builder().max_capacity(max).time_to_live(ttl).build()),
            negative: config
                .negative_ttl
                .map(|ttl| Cache::builder().max_capacity(max).time_to_live(ttl).build()),
            rate: config.per_user_limit.map(|limit| {
                let window = if config.per_user_window.is_zero() {
                    Duration::from_secs(1)
                } else {
                    config.per_user_window
                };
                (
                    limit,
                    Cache::builder()
                        .max_capacity(max)
                        .time_to_live(window)
                        .build(),
                )
            }),
        }
    }

    fn pap_key(&self, request: &AuthRequest) -> Option<[u8; 16]> {
        let Credentials::Pap { password } = &request.credentials else {
            return None;
        };
        let mut data = Vec::with_capacity(request.user_name.len() + 1 + password.len());
        data.extend_from_slice(request.user_name.as_bytes());
        data.push(0);
        data.extend_from_slice(password);
        Some(hmac_md5(&self.key, &data))
    }

    /// A local answer before asking RADIUS (negative cache, rate limit).
    #[must_use]
    pub async fn before(&self, request: &AuthRequest) -> Option<Decision> {
        if let Some(negative) = &self.negative
            && negative.contains_key(&request.user_name)
        {
            return Some(Decision::Reject(Rejection::new(RejectCause::AccessReject)));
        }
        if let Some((limit, rate)) = &self.rate {
            let counter = rate
                .get_with(request.user_name.clone(), async {
                    Arc::new(AtomicU32::new(0))
                })
                .await;
            if counter.fetch_add(1, Ordering::Relaxed) >= *limit {
                return Some(Decision::Reject(Rejection::new(RejectCause::Overloaded)));
            }
        }
        None
    }

    /// Records RADIUS's answer; returns the decision to use (a cached
    /// Access-Accept replaces a timeout / dead-servers failure).
    #[must_use]
    pub async fn after(&self, request: &AuthRequest, decision: Decision) -> Decision {
        match &decision {
            Decision::Accept(_) => {
                if let (Some(positive), Some(key)) = (&self.positive, self.pap_key(request)) {
                    positive.insert(key, decision.clone()).await;
                }
            }
            Decision::Reject(r) if r.cause == RejectCause::AccessReject => {
                if let Some(positive) = &self.positive
                    && let Some(key) = self.pap_key(request)
                {
                    positive.invalidate(&key).await;
                }
                if let Some(negative) = &self.negative {
                    negative.insert(request.user_name.clone(), ()).await;
                }
            }
            Decision::Reject(r)
                if matches!(r.cause, RejectCause::Timeout | RejectCause::NoLiveServer) =>
            {
                if let (Some(positive), Some(key)) = (&self.positive, self.pap_key(request))
                    && let Some(cached) = positive.get(&key).await
                {
                    tracing::warn!("RADIUS unreachable: answering from the auth cache");
                    return cached;
                }
            }
            Decision::Reject(_) => {}
        }
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aaa::attributes::AcceptAttributes;
    use crate::aaa::request::SessionInfo;

    fn pap(password: &str) -> AuthRequest {
        AuthRequest {
            user_name: "u".into(),
            credentials: Credentials::Pap {
                password: password.as_bytes().to_vec(),
            },
            session: SessionInfo::default(),
            tunnel: None,
        }
    }

    fn reject(cause: RejectCause) -> Decision {
        Decision::Reject(Rejection::new(cause))
    }

    #[tokio::test]
    async fn positive_only_rides_out_outages_and_only_for_the_same_password() {
        let cache = AuthCache::new(
            &AuthCacheConfig {
                positive_ttl: Some(Duration::from_secs(60)),
                ..AuthCacheConfig::default()
            },
            [1; 16],
        );
        let accept = Decision::Accept(Box::<AcceptAttributes>::default());
        assert_eq!(cache.after(&pap("pw"), accept.clone()).await, accept);
        assert_eq!(
            cache.after(&pap("pw"), reject(RejectCause::Timeout)).await,
            accept
        );
        assert_eq!(
            cache
                .after(&pap("other"), reject(RejectCause::NoLiveServer))
                .await,
            reject(RejectCause::NoLiveServer)
        );
        // A real reject forgets the accept.
        let _ = cache
            .after(&pap("pw"), reject(RejectCause::AccessReject))
            .await;
        assert_eq!(
            cache.after(&pap("pw"), reject(RejectCause::Timeout)).await,
            reject(RejectCause::Timeout)
        );
    }

    #[tokio::test]
    async fn negative_cache_and_rate_limit() {
        let cache = AuthCache::new(
            &AuthCacheConfig {
                negative_ttl: Some(Duration::from_secs(60)),
                per_user_limit: Some(3),
                per_user_window: Duration::from_secs(60),
                ..AuthCacheConfig::default()
            },
            [1; 16],
        );
        assert_eq!(cache.before(&pap("a")).await, None);
        let _ = cache
            .after(&pap("a"), reject(RejectCause::AccessReject))
            .await;
        assert_eq!(
            cache.before(&pap("b")).await,
            Some(reject(RejectCause::AccessReject))
        );
        let other = AuthCache::new(
            &AuthCacheConfig {
                per_user_limit: Some(2),
                per_user_window: Duration::from_secs(60),
                ..AuthCacheConfig::default()
            },
            [1; 16],
        );
        assert_eq!(other.before(&pap("a")).await, None);
        assert_eq!(other.before(&pap("a")).await, None);
        assert_eq!(
            other.before(&pap("a")).await,
            Some(reject(RejectCause::Overloaded))
        );
    }
}
