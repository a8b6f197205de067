//! A token bucket matching SP-API usage plans (rate in requests per second, burst), so we wait
//! before Amazon would throttle us instead of burning retries on 429s.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

pub struct TokenBucket {
    rate_per_second: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    pub fn new(rate_per_second: f64, burst: u32) -> Self {
        Self {
            rate_per_second,
            burst: f64::from(burst),
            state: Mutex::new((f64::from(burst), Instant::now())),
        }
    }

    /// Waits until a request may be sent, then takes its token.
    pub async fn acquire(&self) {
        loop {
            let wait = {
                let mut state = self.state.lock().await;
                let (tokens, at) = &mut *state;
                let now = Instant::now();
                *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate_per_second)
                    .min(self.burst);
                *at = now;
                if *tokens >= 1.0 {
                    *tokens -= 1.0;
                    return;
                }
                Duration::from_secs_f64((1.0 - *tokens) / self.rate_per_second)
            };
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_burst_is_free_then_requests_are_spaced_by_the_rate() {
        let bucket = TokenBucket::new(0.5, 3);
        let start = Instant::now();
        for _ in 0..3 {
            bucket.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        bucket.acquire().await;
        assert_eq!(start.elapsed().as_secs(), 2, "0.5 requests per second");
    }
}
