//! Per-AppKey rate limits for the data API: a fixed one-minute window per key, in this node's
//! memory (each node of a deployment limits on its own).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use pubdata_core::DomainError;

pub struct RateLimit {
    per_minute: u32,
    windows: Mutex<HashMap<String, (u64, u32)>>,
}

impl RateLimit {
    pub fn new(per_minute: u32) -> RateLimit {
        RateLimit {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a request for `key`; past the limit, `Throttled` with the seconds to wait.
    pub fn check(&self, key: &str) -> Result<(), DomainError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.check_at(key, now)
    }

    fn check_at(&self, key: &str, now_secs: u64) -> Result<(), DomainError> {
        let minute = now_secs / 60;
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if windows.len() > 100_000 {
            windows.retain(|_, (m, _)| *m == minute);
        }
        let entry = windows.entry(key.to_string()).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        if entry.1 >= self.per_minute {
            return Err(DomainError::Throttled {
                code: "app_key_rate",
                retry_after_secs: 60 - now_secs % 60,
            });
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_limited_per_minute_and_others_are_not() {
        let limit = RateLimit::new(3);
        for _ in 0..3 {
            limit.check_at("a", 120).unwrap();
        }
        match limit.check_at("a", 130) {
            Err(DomainError::Throttled { retry_after_secs, .. }) => assert_eq!(retry_after_secs, 50),
            other => panic!("{other:?}"),
        }
        limit.check_at("b", 130).unwrap();
        limit.check_at("a", 180).unwrap();
    }
}
