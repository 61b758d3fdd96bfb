//! Politeness per destination address: at most N connections to one IP address at once and a
//! rate limit of new connections to it (governor, keyed by address), shared by everything
//! that connects — STARTTLS probes ([`crate::smtp::Prober`]) and policy fetches
//! ([`crate::fetch::PolicyFetcher`]) — so a server that hosts both, or thousands of policy
//! hosts (`mta-sts.*` at a hosting vendor), sees the same bound from either.
//!
//! This module owns the slots and the limiter. It does not time anything out: a caller waits
//! here before its own timeouts start, so queueing never eats into a connection's time.
//! Memory is bounded: the per-address state is pruned of idle addresses past
//! `address_capacity`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The per-address slots and rate limiter of one scan. Share it behind an `Arc`.
pub struct AddressGate {
    per_address: NonZeroUsize,
    address_capacity: usize,
    slots: Mutex<HashMap<IpAddr, Arc<Semaphore>>>,
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
}

impl std::fmt::Debug for AddressGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddressGate")
            .field("per_address", &self.per_address)
            .field("rate_limited", &self.limiter.is_some())
            .finish_non_exhaustive()
    }
}

/// Held while connected to an address: the slot is given back when it is dropped.
#[derive(Debug)]
pub struct Pass {
    _permit: Option<OwnedSemaphorePermit>,
}

impl AddressGate {
    /// At most `per_address` connections to one address at once, new ones at most at `rate`
    /// (`None`: no rate limit); state for at most about `address_capacity` addresses.
    pub fn new(per_address: NonZeroUsize, rate: Option<Quota>, address_capacity: usize) -> Self {
        AddressGate {
            per_address,
            address_capacity: address_capacity.max(1),
            slots: Mutex::new(HashMap::new()),
            limiter: rate.map(RateLimiter::keyed),
        }
    }

    /// Waits for a slot at `ip` (IPv4-mapped addresses count as their IPv4 address) and for
    /// the rate limiter, then returns the slot, held until the [`Pass`] is dropped.
    pub async fn enter(&self, ip: IpAddr) -> Pass {
        let ip = ip.to_canonical();
        let slot = self.slot(ip);
        // The semaphore is never closed, so acquiring cannot fail.
        let permit = slot.acquire_owned().await.ok();
        if let Some(limiter) = &self.limiter {
            if limiter.len() >= self.address_capacity {
                limiter.retain_recent();
            }
            limiter.until_key_ready(&ip).await;
        }
        Pass { _permit: permit }
    }

    fn slot(&self, ip: IpAddr) -> Arc<Semaphore> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = slots.get(&ip) {
            return s.clone();
        }
        if slots.len() >= self.address_capacity {
            // Prune addresses nobody holds or waits for.
            slots.retain(|_, s| Arc::strong_count(s) > 1);
        }
        let s = Arc::new(Semaphore::new(self.per_address.get()));
        slots.insert(ip, s.clone());
        s
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// One slot per address: a second entry waits until the first pass is dropped; another
    /// address (and the IPv4-mapped form of the first, which is the same host) is gated alike.
    #[tokio::test]
    async fn one_connection_per_address_at_once() {
        let gate = Arc::new(AddressGate::new(NonZeroUsize::MIN, None, 16));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let first = gate.enter(a).await;
        let _other = tokio::time::timeout(Duration::from_secs(1), gate.enter(other))
            .await
            .expect("another address has its own slot");
        let waiting = tokio::time::timeout(Duration::from_millis(100), gate.enter(mapped)).await;
        assert!(
            waiting.is_err(),
            "the same host waits while its slot is held"
        );
        drop(first);
        tokio::time::timeout(Duration::from_secs(1), gate.enter(mapped))
            .await
            .expect("the slot is free again");
    }
}
