//! Time as Alibaba Cloud SMS sees it: request timestamps in UTC (`2016-02-23T12:46:24Z`),
//! but send dates, receipt times and the per-number flow-control windows in China time
//! (UTC+8, `yyyy-MM-dd HH:mm:ss`, `yyyyMMdd`; a "day" starts at 16:00 UTC).

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use herald_domain::Millis;

/// China Standard Time's offset from UTC, in seconds.
pub const CHINA_OFFSET_SECS: i32 = 8 * 3600;
const CHINA_OFFSET_MS: i64 = CHINA_OFFSET_SECS as i64 * 1000;

fn china() -> FixedOffset {
    FixedOffset::east_opt(CHINA_OFFSET_SECS).expect("UTC+8 is a valid offset")
}

fn utc(ms: Millis) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// `Timestamp` / `x-acs-date`: UTC ISO-8601 to the second, `2016-02-23T12:46:24Z`.
pub fn acs_timestamp(ms: Millis) -> String {
    utc(ms).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Parses a request timestamp (`…Z` or any RFC 3339 offset) into unix seconds.
pub fn parse_acs_timestamp(value: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(value.trim())
        .ok()
        .map(|t| t.timestamp())
}

/// `SendDate` of QuerySendDetails: the China-time day, `yyyyMMdd`.
pub fn send_date(ms: Millis) -> String {
    utc(ms).with_timezone(&china()).format("%Y%m%d").to_string()
}

/// China time `yyyy-MM-dd HH:mm:ss` (receipts, QuerySendDetails dates).
pub fn china_time(ms: Millis) -> String {
    utc(ms)
        .with_timezone(&china())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// Parses China time `yyyy-MM-dd HH:mm:ss` into unix milliseconds.
pub fn parse_china_time(value: &str) -> Option<Millis> {
    let naive = NaiveDateTime::parse_from_str(value.trim(), "%Y-%m-%d %H:%M:%S").ok()?;
    china()
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.timestamp_millis())
}

/// A clock-aligned flow-control window in China time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Minute,
    Hour,
    Day,
}

impl Window {
    fn length_ms(self) -> i64 {
        match self {
            Self::Minute => 60_000,
            Self::Hour => 3_600_000,
            Self::Day => 86_400_000,
        }
    }

    /// Which window `ms` falls in (windows of the same kind are numbered consecutively).
    pub fn index(self, ms: Millis) -> i64 {
        (ms + CHINA_OFFSET_MS).div_euclid(self.length_ms())
    }

    /// When the window holding `ms` ends (the next one opens).
    pub fn end(self, ms: Millis) -> Millis {
        (self.index(ms) + 1) * self.length_ms() - CHINA_OFFSET_MS
    }

    /// Aliyun's wording in `isv.BUSINESS_LIMIT_CONTROL` messages (`触发分钟级流控Permits:1`).
    pub fn chinese_name(self) -> &'static str {
        match self {
            Self::Minute => "分钟级",
            Self::Hour => "小时级",
            Self::Day => "天级",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_china_time() {
        // 2024-01-31T16:30:05Z is 2024-02-01 00:30:05 in China.
        let ms = 1_706_718_605_000;
        assert_eq!(acs_timestamp(ms), "2024-01-31T16:30:05Z");
        assert_eq!(china_time(ms), "2024-02-01 00:30:05");
        assert_eq!(send_date(ms), "20240201");
        assert_eq!(parse_china_time("2024-02-01 00:30:05"), Some(ms));
        assert_eq!(parse_acs_timestamp("2024-01-31T16:30:05Z"), Some(ms / 1000));
        assert_eq!(parse_china_time("yesterday"), None);
    }

    #[test]
    fn windows_align_to_the_china_clock() {
        let ms = 1_706_718_605_000; // 00:30:05 China time
        assert_eq!(Window::Minute.end(ms), ms + 55_000);
        assert_eq!(Window::Hour.end(ms), ms + 29 * 60_000 + 55_000);
        // The China day ends at 16:00 UTC, 23h29m55s later.
        assert_eq!(Window::Day.end(ms), ms + (23 * 3600 + 29 * 60 + 55) * 1000);
        assert_eq!(
            Window::Day.index(ms - 31 * 60_000),
            Window::Day.index(ms) - 1
        );
    }
}
