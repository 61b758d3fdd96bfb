//! A bounded single-flight cache, used for address lookups of MX and policy hosts.
//!
//! A provider's MX name can be shared by 100 000 domains: the first lookup of a key runs, every
//! lookup of the same key while it is in flight waits for it and gets the same value
//! (a *join*), and the completed value is reused until it expires (a *hit*). The number of
//! completed entries is bounded by a CLOCK (second-chance) ring so memory stays flat on huge
//! scans; in-flight entries are never evicted (their number is bounded by the caller's
//! concurrency). The cache owns no I/O: the caller passes the future that computes a value.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

/// Counters of a cache, for benchmarks and progress lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups answered from a completed, unexpired entry.
    pub hits: u64,
    /// Lookups that started a computation.
    pub misses: u64,
    /// Lookups that waited for a computation already in flight.
    pub joins: u64,
    /// Completed entries evicted to stay within the capacity.
    pub evictions: u64,
    /// Entries now held (completed and in flight).
    pub entries: u64,
}

enum Slot<V: Clone> {
    Pending(u64, Shared<BoxFuture<'static, V>>),
    Ready {
        value: V,
        expires: Instant,
        referenced: bool,
    },
}

struct State<K, V: Clone> {
    map: HashMap<K, Slot<V>>,
    ring: VecDeque<K>,
    next_id: u64,
}

/// A bounded single-flight cache from `K` to `V`.
pub struct SingleFlight<K, V: Clone> {
    state: Mutex<State<K, V>>,
    capacity: usize,
    hits: AtomicU64,
    misses: AtomicU64,
    joins: AtomicU64,
    evictions: AtomicU64,
}

impl<K, V> SingleFlight<K, V>
where
    K: Hash + Eq + Clone,
    V: Clone + Send + Sync + 'static,
{
    /// A cache keeping at most `capacity` completed entries (0: share in-flight only).
    pub fn new(capacity: usize) -> Self {
        SingleFlight {
            state: Mutex::new(State {
                map: HashMap::new(),
                ring: VecDeque::new(),
                next_id: 0,
            }),
            capacity,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            joins: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
        }
    }

    /// Returns the cached value for `key`, joins the computation in flight, or starts
    /// `compute()`. `lifetime` says how long a computed value may be reused.
    pub async fn get_or_compute<F>(
        &self,
        key: K,
        compute: F,
        lifetime: impl FnOnce(&V) -> Duration,
    ) -> V
    where
        F: FnOnce() -> BoxFuture<'static, V>,
    {
        let (id, fut) = {
            let mut st = self.lock();
            let now = Instant::now();
            match st.map.get_mut(&key) {
                Some(Slot::Ready {
                    value,
                    expires,
                    referenced,
                }) if *expires > now => {
                    *referenced = true;
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    return value.clone();
                }
                Some(Slot::Pending(id, fut)) => {
                    self.joins.fetch_add(1, Ordering::Relaxed);
                    (*id, fut.clone())
                }
                existing => {
                    let expired = existing.is_some();
                    self.misses.fetch_add(1, Ordering::Relaxed);
                    let id = st.next_id;
                    st.next_id += 1;
                    let fut = compute().shared();
                    st.map.insert(key.clone(), Slot::Pending(id, fut.clone()));
                    if !expired {
                        st.ring.push_back(key.clone());
                    }
                    (id, fut)
                }
            }
        };
        let value = fut.await;
        let ttl = lifetime(&value);
        let mut st = self.lock();
        if matches!(st.map.get(&key), Some(Slot::Pending(p, _)) if *p == id) {
            if self.capacity == 0 || ttl.is_zero() {
                st.map.remove(&key);
                st.ring.retain(|k| k != &key);
            } else {
                st.map.insert(
                    key,
                    Slot::Ready {
                        value: value.clone(),
                        expires: Instant::now() + ttl,
                        referenced: false,
                    },
                );
                self.evict(&mut st);
            }
        }
        value
    }

    /// Evicts completed entries beyond the capacity (CLOCK: a referenced entry gets a second
    /// chance). Bounded: at most two passes over the ring.
    fn evict(&self, st: &mut State<K, V>) {
        let mut budget = st.ring.len().saturating_mul(2);
        while st.map.len() > self.capacity && budget > 0 {
            budget -= 1;
            let Some(k) = st.ring.pop_front() else { break };
            match st.map.get_mut(&k) {
                Some(Slot::Ready { referenced, .. }) if *referenced => {
                    *referenced = false;
                    st.ring.push_back(k);
                }
                Some(Slot::Ready { .. }) => {
                    st.map.remove(&k);
                    self.evictions.fetch_add(1, Ordering::Relaxed);
                }
                Some(Slot::Pending(..)) => st.ring.push_back(k),
                None => {}
            }
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> CacheStats {
        let entries = self.lock().map.len() as u64;
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            joins: self.joins.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            entries,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<K, V>> {
        // A panic while holding the lock cannot leave the map inconsistent in a way that
        // matters (worst case a stale Pending entry), so a poisoned lock is used as is.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    fn counted(calls: &Arc<AtomicUsize>, v: u32, delay_ms: u64) -> BoxFuture<'static, u32> {
        let calls = calls.clone();
        async move {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            v
        }
        .boxed()
    }

    #[tokio::test]
    async fn concurrent_lookups_share_one_computation() {
        let cache = Arc::new(SingleFlight::<String, u32>::new(10));
        let calls = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let (cache, calls) = (cache.clone(), calls.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .get_or_compute(
                        "mx".into(),
                        || counted(&calls, 7, 50),
                        |_| Duration::from_secs(60),
                    )
                    .await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), 7);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let s = cache.stats();
        assert_eq!((s.misses, s.joins + s.hits), (1, 49));
        // completed: now a hit
        let v = cache
            .get_or_compute(
                "mx".into(),
                || counted(&calls, 8, 0),
                |_| Duration::from_secs(60),
            )
            .await;
        assert_eq!(v, 7);
        assert_eq!(cache.stats().hits, s.hits + 1);
    }

    #[tokio::test]
    async fn capacity_is_bounded_and_expiry_recomputes() {
        let cache = SingleFlight::<u32, u32>::new(100);
        let calls = Arc::new(AtomicUsize::new(0));
        for i in 0..1000 {
            cache
                .get_or_compute(i, || counted(&calls, i, 0), |_| Duration::from_secs(60))
                .await;
        }
        let s = cache.stats();
        assert!(s.entries <= 100, "{s:?}");
        assert_eq!(s.evictions, 900);
        // zero lifetime: never kept
        let c2 = SingleFlight::<u32, u32>::new(10);
        c2.get_or_compute(1, || counted(&calls, 1, 0), |_| Duration::ZERO)
            .await;
        assert_eq!(c2.stats().entries, 0);
        // expired entry recomputed
        let c3 = SingleFlight::<u32, u32>::new(10);
        c3.get_or_compute(1, || counted(&calls, 1, 0), |_| Duration::from_millis(1))
            .await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        let v = c3
            .get_or_compute(1, || counted(&calls, 2, 0), |_| Duration::from_secs(1))
            .await;
        assert_eq!(v, 2);
        assert_eq!(c3.stats().misses, 2);
        assert_eq!(c3.stats().entries, 1);
    }

    #[tokio::test]
    async fn referenced_entries_survive_eviction() {
        let cache = SingleFlight::<u32, u32>::new(2);
        let calls = Arc::new(AtomicUsize::new(0));
        let ttl = |_: &u32| Duration::from_secs(60);
        cache.get_or_compute(1, || counted(&calls, 1, 0), ttl).await;
        cache.get_or_compute(2, || counted(&calls, 2, 0), ttl).await;
        cache.get_or_compute(1, || counted(&calls, 1, 0), ttl).await; // hit: referenced
        cache.get_or_compute(3, || counted(&calls, 3, 0), ttl).await; // evicts 2, not 1
        let before = calls.load(Ordering::SeqCst);
        cache.get_or_compute(1, || counted(&calls, 1, 0), ttl).await;
        assert_eq!(calls.load(Ordering::SeqCst), before, "1 was kept");
        cache.get_or_compute(2, || counted(&calls, 2, 0), ttl).await;
        assert_eq!(calls.load(Ordering::SeqCst), before + 1, "2 was evicted");
    }
}
