//! Write quotas: a token bucket per principal (`governor`), so one client cannot spend the
//! table's whole write capacity. Reads are never counted.
//!
//! The buckets live in this process: with N tasks behind a load balancer, a principal gets up
//! to N times the quota (README, "Rate limits").

use std::{
    num::NonZeroU32,
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use governor::{
    Quota, RateLimiter,
    clock::{Clock, DefaultClock},
    middleware::StateInformationMiddleware,
    state::keyed::DefaultKeyedStateStore,
};

use super::headers::whole_seconds;
use crate::auth_policy::Principal;

/// The quota and its window (draft-ietf-httpapi-ratelimit-headers).
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// What is left of the quota and when it is whole again.
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// Default of `BOOKSTORE_WRITE_RATE`: writes per second a principal may sustain.
pub const DEFAULT_WRITE_RATE: u32 = 50;
/// Default of `BOOKSTORE_WRITE_BURST`: writes a principal may make at once.
pub const DEFAULT_WRITE_BURST: u32 = 100;
/// Every this many writes, buckets that have refilled are dropped, so principals seen once do
/// not stay in memory.
const FORGET_FULL_BUCKETS_EVERY: u32 = 4096;

/// Keyed by the principal itself (an `Arc` clone when a bucket is made), not by a string built
/// for every write.
type Limiter = RateLimiter<
    Principal,
    DefaultKeyedStateStore<Principal>,
    DefaultClock,
    StateInformationMiddleware,
>;

/// The write quota of every principal.
pub struct WriteQuota {
    limiter: Limiter,
    rate: NonZeroU32,
    burst: NonZeroU32,
    /// `RateLimit-Policy`, the same on every answer.
    policy: HeaderValue,
    writes: AtomicU32,
}

/// The rate-limit headers of one write's answer (draft-ietf-httpapi-ratelimit-headers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaState {
    /// `RateLimit-Policy`: the quota and its window.
    pub policy: HeaderValue,
    /// `RateLimit`: what is left and when it is whole again.
    pub remaining: HeaderValue,
}

/// A write refused for its quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaExceeded {
    /// Seconds until the principal may write again (`Retry-After`).
    pub retry_after: u64,
    /// The headers, with nothing remaining.
    pub state: QuotaState,
}

impl WriteQuota {
    /// `rate` writes per second with bursts of `burst` per principal; `None` (no limit) when
    /// either is 0.
    pub fn new(rate: u32, burst: u32) -> Option<Self> {
        let (rate, burst) = (NonZeroU32::new(rate)?, NonZeroU32::new(burst)?);
        let quota = Quota::per_second(rate).allow_burst(burst);
        // The policy as a window: a full bucket lasts `burst` writes and refills in
        // `burst / rate` seconds (rounded up, so the advertised rate is never above the real one).
        let window = burst.get().div_ceil(rate.get()).max(1);
        let policy = HeaderValue::try_from(format!("\"writes\";q={burst};w={window}"))
            .expect("digits and ASCII");
        Some(Self {
            limiter: RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>(),
            rate,
            burst,
            policy,
            writes: AtomicU32::new(0),
        })
    }

    /// Counts one write of `principal`, or refuses it.
    pub fn check(&self, principal: &Principal) -> Result<QuotaState, QuotaExceeded> {
        if self
            .writes
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(FORGET_FULL_BUCKETS_EVERY)
        {
            self.limiter.retain_recent();
        }
        match self.limiter.check_key(principal) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                // Until the bucket is full again.
                let refill = Duration::from_secs_f64(
                    f64::from(self.burst.get() - remaining.min(self.burst.get()))
                        / f64::from(self.rate.get()),
                );
                Ok(self.state(remaining, whole_seconds(refill, 0)))
            }
            Err(not_until) => {
                metrics::counter!("write_quota_refusals_total").increment(1);
                let wait = not_until.wait_time_from(self.limiter.clock().now());
                let retry_after = whole_seconds(wait, 1);
                Err(QuotaExceeded {
                    retry_after,
                    state: self.state(0, retry_after),
                })
            }
        }
    }

    fn state(&self, remaining: u32, reset: u64) -> QuotaState {
        QuotaState {
            policy: self.policy.clone(),
            remaining: HeaderValue::try_from(format!("\"writes\";r={remaining};t={reset}"))
                .expect("digits and ASCII"),
        }
    }
}

impl QuotaState {
    /// Sets `RateLimit-Policy` and `RateLimit`.
    pub fn insert_into(self, headers: &mut HeaderMap) {
        headers.insert(RATELIMIT_POLICY, self.policy);
        headers.insert(RATELIMIT, self.remaining);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_turns_the_quota_off() {
        assert!(WriteQuota::new(0, 10).is_none());
        assert!(WriteQuota::new(10, 0).is_none());
    }

    #[test]
    fn a_burst_then_refusals_for_that_principal_only() {
        let quota = WriteQuota::new(1, 3).unwrap();
        let alice = Principal::static_token("alice");
        let first = quota.check(&alice).unwrap();
        assert_eq!(first.policy, "\"writes\";q=3;w=3");
        assert_eq!(first.remaining, "\"writes\";r=2;t=1");
        quota.check(&alice).unwrap();
        quota.check(&alice).unwrap();
        let refused = quota.check(&alice).unwrap_err();
        assert_eq!(refused.retry_after, 1);
        assert_eq!(refused.state.remaining, "\"writes\";r=0;t=1");
        assert!(quota.check(&Principal::static_token("bob")).is_ok());
    }
}
