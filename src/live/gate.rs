//! Politeness per RDAP host: a concurrency cap, a request rate, Retry-After
//! honouring and a circuit breaker.
//!
//! Every request to a host first passes its [`HostGate`]. Time is tokio's,
//! so tests can pause and advance it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Politeness settings for one host.
#[derive(Debug, Clone, PartialEq)]
pub struct GateConfig {
    /// Requests in flight at once.
    pub max_concurrent: usize,
    /// Requests per second (a steady rate; no bursts beyond `burst`).
    pub rate: f64,
    /// Requests that may go at once after an idle spell.
    pub burst: u32,
    /// Consecutive failures that open the breaker.
    pub breaker_failures: u32,
    /// How long an open breaker refuses requests before it lets one probe through.
    pub breaker_cooldown: Duration,
    /// Longest Retry-After honoured; longer values are cut to this.
    pub max_retry_after: Duration,
    /// Longest a request waits for its turn (rate slot, Retry-After) before
    /// giving up with [`GateError::Busy`]/[`GateError::RateLimited`].
    pub max_queue_wait: Duration,
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig {
            max_concurrent: 4,
            rate: 2.0,
            burst: 1,
            breaker_failures: 5,
            breaker_cooldown: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(3600),
            max_queue_wait: Duration::from_secs(60),
        }
    }
}

/// Why the gate refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GateError {
    /// The host asked us to wait (HTTP 429) for longer than we queue.
    #[error("rate_limited")]
    RateLimited,
    /// The host keeps failing; the breaker is open.
    #[error("circuit_open")]
    CircuitOpen,
    /// The rate-limit queue is longer than `max_queue_wait`.
    #[error("busy")]
    Busy,
}

impl GateError {
    /// The short error code for output and metrics.
    pub fn code(self) -> &'static str {
        match self {
            GateError::RateLimited => "rate_limited",
            GateError::CircuitOpen => "circuit_open",
            GateError::Busy => "busy",
        }
    }
}

#[derive(Debug)]
struct State {
    /// The next free rate slot (GCRA "theoretical arrival time").
    next_slot: Instant,
    /// No request before this (Retry-After).
    blocked_until: Option<Instant>,
    /// Consecutive failures.
    failures: u32,
    /// When the breaker opened, if it is open.
    open_since: Option<Instant>,
    /// A half-open probe is in flight.
    probing: bool,
    /// Cool-down in force (doubles on a failed probe, up to 16 x).
    cooldown: Duration,
    /// Breaker trips so far.
    trips: u64,
}

/// The gate of one host.
#[derive(Debug)]
pub struct HostGate {
    config: GateConfig,
    permits: Arc<Semaphore>,
    state: Mutex<State>,
}

/// Permission to send one request; hold it until the response is read,
/// then report the result with [`HostGate::success`] or [`HostGate::failure`].
#[derive(Debug)]
pub struct Pass {
    _permit: OwnedSemaphorePermit,
    probe: bool,
}

impl HostGate {
    /// A gate with `config`.
    pub fn new(config: GateConfig) -> Self {
        let now = Instant::now();
        HostGate {
            permits: Arc::new(Semaphore::new(config.max_concurrent.max(1))),
            state: Mutex::new(State {
                next_slot: now,
                blocked_until: None,
                failures: 0,
                open_since: None,
                probing: false,
                cooldown: config.breaker_cooldown,
                trips: 0,
            }),
            config,
        }
    }

    /// Wait for a turn: breaker closed (or this is the probe), no
    /// Retry-After in force, a rate slot, a concurrency permit.
    pub async fn enter(&self) -> Result<Pass, GateError> {
        let (wait_until, probe) = {
            let mut st = self.lock();
            let now = Instant::now();
            let mut probe = false;
            if let Some(since) = st.open_since {
                if now < since + st.cooldown || st.probing {
                    return Err(GateError::CircuitOpen);
                }
                st.probing = true;
                probe = true;
            }
            let mut start = now;
            if let Some(until) = st.blocked_until {
                if until > now + self.config.max_queue_wait {
                    if probe {
                        st.probing = false;
                    }
                    return Err(GateError::RateLimited);
                }
                start = start.max(until);
            }
            // GCRA: each request takes the next slot, 1/rate apart; slots
            // may lag behind `start` by at most (burst - 1) intervals.
            let interval = self.interval();
            let earliest = start
                .checked_sub(interval * self.config.burst.saturating_sub(1))
                .unwrap_or(start);
            let slot = st.next_slot.max(earliest);
            if slot > now + self.config.max_queue_wait {
                if probe {
                    st.probing = false;
                }
                return Err(GateError::Busy);
            }
            st.next_slot = slot + interval;
            (slot.max(start), probe)
        };
        tokio::time::sleep_until(wait_until).await;
        let permit = match self.permits.clone().acquire_owned().await {
            Ok(p) => p,
            // The semaphore is never closed; treat it as busy if it were.
            Err(_) => return Err(GateError::Busy),
        };
        // The breaker may have opened, or the host may have answered 429,
        // while this request waited for its turn: a slot taken before a
        // Retry-After must not be spent in spite of it.
        loop {
            let blocked = {
                let mut st = self.lock();
                if !probe && st.open_since.is_some() {
                    return Err(GateError::CircuitOpen);
                }
                let now = Instant::now();
                match st.blocked_until {
                    Some(until) if until > now + self.config.max_queue_wait => {
                        if probe {
                            st.probing = false;
                        }
                        return Err(GateError::RateLimited);
                    }
                    Some(until) if until > now => Some(until),
                    _ => None,
                }
            };
            match blocked {
                Some(until) => tokio::time::sleep_until(until).await,
                None => break,
            }
        }
        Ok(Pass {
            _permit: permit,
            probe,
        })
    }

    /// The request succeeded (an answer, including 404).
    pub fn success(&self, pass: Pass) {
        let mut st = self.lock();
        st.failures = 0;
        if pass.probe || st.open_since.is_some() {
            st.open_since = None;
            st.probing = false;
            st.cooldown = self.config.breaker_cooldown;
        }
    }

    /// The request failed (timeout, connection error, 5xx, bad body).
    pub fn failure(&self, pass: Pass) {
        let mut st = self.lock();
        st.failures = st.failures.saturating_add(1);
        let now = Instant::now();
        if pass.probe {
            st.probing = false;
            st.open_since = Some(now);
            st.cooldown = (st.cooldown * 2).min(self.config.breaker_cooldown * 16);
            st.trips += 1;
        } else if st.open_since.is_none() && st.failures >= self.config.breaker_failures {
            st.open_since = Some(now);
            st.trips += 1;
        }
    }

    /// The host answered 429 (or a quota notice): no requests before
    /// `retry_after` from now (capped). Returns the wait in force.
    pub fn throttled(&self, pass: Pass, retry_after: Option<Duration>) -> Duration {
        let wait = retry_after
            .unwrap_or(Duration::from_secs(60))
            .min(self.config.max_retry_after);
        let mut st = self.lock();
        let until = Instant::now() + wait;
        st.blocked_until = Some(st.blocked_until.map_or(until, |b| b.max(until)));
        if pass.probe {
            st.probing = false;
            st.open_since = None;
        }
        wait
    }

    /// Breaker trips so far.
    pub fn trips(&self) -> u64 {
        self.lock().trips
    }

    /// True while the breaker is open.
    pub fn is_open(&self) -> bool {
        self.lock().open_since.is_some()
    }

    fn interval(&self) -> Duration {
        if self.config.rate > 0.0 && self.config.rate.is_finite() {
            Duration::from_secs_f64(1.0 / self.config.rate)
        } else {
            Duration::ZERO
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means another task panicked mid-update; the
        // state is plain numbers, still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Parse a Retry-After value: delay seconds, or an HTTP date (relative to `now`).
pub fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let delta = when.timestamp() - now.timestamp();
    Some(Duration::from_secs(u64::try_from(delta).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn gate(rate: f64, burst: u32) -> HostGate {
        HostGate::new(GateConfig {
            rate,
            burst,
            ..GateConfig::default()
        })
    }

    #[tokio::test(start_paused = true)]
    async fn rate_spaces_requests() {
        let g = gate(2.0, 1);
        let t0 = Instant::now();
        let mut times = Vec::new();
        for _ in 0..5 {
            let pass = g.enter().await.unwrap();
            times.push(Instant::now() - t0);
            g.success(pass);
        }
        let ms: Vec<u128> = times.iter().map(|d| d.as_millis()).collect();
        assert_eq!(ms, [0, 500, 1000, 1500, 2000]);
    }

    #[tokio::test(start_paused = true)]
    async fn burst_after_idle() {
        let g = gate(1.0, 3);
        tokio::time::advance(Duration::from_secs(10)).await;
        let t0 = Instant::now();
        let mut ms = Vec::new();
        for _ in 0..5 {
            let pass = g.enter().await.unwrap();
            ms.push((Instant::now() - t0).as_millis());
            g.success(pass);
        }
        assert_eq!(ms, [0, 0, 0, 1000, 2000]);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrency_cap() {
        let g = Arc::new(HostGate::new(GateConfig {
            max_concurrent: 2,
            rate: 1000.0,
            ..GateConfig::default()
        }));
        let a = g.enter().await.unwrap();
        let _b = g.enter().await.unwrap();
        let g2 = g.clone();
        let third = tokio::spawn(async move { g2.enter().await.map(|_| Instant::now()) });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!third.is_finished());
        let released = Instant::now();
        g.success(a);
        let at = third.await.unwrap().unwrap();
        assert_eq!(at, released);
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_blocks_then_allows() {
        let g = gate(100.0, 1);
        let pass = g.enter().await.unwrap();
        assert_eq!(
            g.throttled(pass, Some(Duration::from_secs(5))),
            Duration::from_secs(5)
        );
        let t0 = Instant::now();
        let pass = g.enter().await.unwrap();
        assert_eq!((Instant::now() - t0).as_secs(), 5);
        g.success(pass);
        // A day-long Retry-After is capped, and beyond max_queue_wait it fails fast.
        let pass = g.enter().await.unwrap();
        assert_eq!(
            g.throttled(pass, Some(Duration::from_secs(86_400))),
            Duration::from_secs(3600)
        );
        assert_eq!(g.enter().await.unwrap_err(), GateError::RateLimited);
    }

    /// Requests already queued for a rate slot when a 429 arrives do not go
    /// out in spite of it (found by the 429-storm flood test: 52 requests
    /// after a day-long Retry-After).
    #[tokio::test(start_paused = true)]
    async fn queued_requests_respect_a_later_retry_after() {
        let g = Arc::new(gate(10.0, 1));
        let first = g.enter().await.unwrap();
        let queued: Vec<_> = (0..5)
            .map(|_| {
                let g = g.clone();
                tokio::spawn(async move { g.enter().await.map(|p| g.success(p)) })
            })
            .collect();
        // Let them take their slots (100 ms apart), then the 429 lands.
        tokio::task::yield_now().await;
        g.throttled(first, Some(Duration::from_secs(86_400)));
        for q in queued {
            assert_eq!(q.await.unwrap(), Err(GateError::RateLimited));
        }
        // A short Retry-After is waited out instead.
        let g = Arc::new(gate(10.0, 1));
        let first = g.enter().await.unwrap();
        let t0 = Instant::now();
        let g2 = g.clone();
        let queued = tokio::spawn(async move { g2.enter().await.map(|_| Instant::now()) });
        tokio::task::yield_now().await;
        g.throttled(first, Some(Duration::from_secs(2)));
        let at = queued.await.unwrap().unwrap();
        assert_eq!((at - t0).as_secs(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn breaker_opens_probes_and_closes() {
        let g = HostGate::new(GateConfig {
            rate: 1000.0,
            breaker_failures: 3,
            breaker_cooldown: Duration::from_secs(30),
            ..GateConfig::default()
        });
        for _ in 0..3 {
            let pass = g.enter().await.unwrap();
            g.failure(pass);
        }
        assert!(g.is_open());
        assert_eq!(g.enter().await.unwrap_err(), GateError::CircuitOpen);
        tokio::time::advance(Duration::from_secs(31)).await;
        let probe = g.enter().await.unwrap();
        // Only one probe at a time.
        assert_eq!(g.enter().await.unwrap_err(), GateError::CircuitOpen);
        g.failure(probe);
        // Failed probe: open again, with a doubled cool-down.
        tokio::time::advance(Duration::from_secs(31)).await;
        assert_eq!(g.enter().await.unwrap_err(), GateError::CircuitOpen);
        tokio::time::advance(Duration::from_secs(30)).await;
        let probe = g.enter().await.unwrap();
        g.success(probe);
        assert!(!g.is_open());
        assert_eq!(g.trips(), 2);
        g.success(g.enter().await.unwrap());
    }

    #[test]
    fn retry_after_forms() {
        let now = chrono::Utc
            .with_ymd_and_hms(2026, 11, 24, 10, 0, 0)
            .unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Tue, 24 Nov 2026 10:05:00 GMT", now),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            parse_retry_after("Tue, 24 Nov 2026 09:05:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
