//! Available-to-sell per channel, from the units free to sell.

use serde::{Deserialize, Serialize};

/// How much of a SKU's free stock one channel listing may show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelAllocation {
    /// Units held back from every channel (damage, miscounts).
    pub safety_buffer: i64,
    /// The share of what is left this channel may sell, 0–100.
    pub percent: u8,
    /// The most this channel may show, if capped.
    pub max: Option<i64>,
}

impl Default for ChannelAllocation {
    fn default() -> Self {
        Self {
            safety_buffer: 0,
            percent: 100,
            max: None,
        }
    }
}

impl ChannelAllocation {
    pub fn check(&self) -> Result<(), &'static str> {
        if self.percent > 100 {
            return Err("percent must be 0 to 100");
        }
        if !(0..=crate::model::MAX_UNITS).contains(&self.safety_buffer) {
            return Err("safety_buffer out of range");
        }
        if self
            .max
            .is_some_and(|m| !(0..=crate::model::MAX_UNITS).contains(&m))
        {
            return Err("max out of range");
        }
        Ok(())
    }

    /// on hand − reserved (`free`) − safety buffer, then the percentage (rounded down), then the
    /// cap, never below zero.
    pub fn available_to_sell(&self, free: i64) -> i64 {
        let after_buffer = (free - self.safety_buffer).max(0);
        let share = after_buffer * i64::from(self.percent) / 100;
        let capped = self.max.map_or(share, |m| share.min(m));
        capped.max(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_then_percent_rounded_down_then_cap_never_negative() {
        let rule = ChannelAllocation {
            safety_buffer: 3,
            percent: 50,
            max: Some(20),
        };
        assert_eq!(rule.available_to_sell(10), 3, "(10-3)*50% = 3.5 -> 3");
        assert_eq!(rule.available_to_sell(100), 20, "capped");
        assert_eq!(rule.available_to_sell(2), 0, "below the buffer");
        assert_eq!(rule.available_to_sell(-5), 0);
        assert_eq!(ChannelAllocation::default().available_to_sell(7), 7);
        assert!(
            ChannelAllocation {
                percent: 101,
                ..Default::default()
            }
            .check()
            .is_err()
        );
    }
}
