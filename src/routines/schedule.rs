//! Time schedules: cron expressions (5 or 6 fields, in a time zone, via croner) and fixed intervals.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// When a time-triggered routine fires.
#[derive(Debug, Clone)]
pub enum Schedule {
    Cron { cron: Box<Cron>, expression: String, time_zone: Tz },
    Every { interval: Duration },
}

/// Why a schedule was refused; said at creation, never discovered at fire time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("invalid cron expression `{expression}`: {reason}")]
    Cron { expression: String, reason: String },
    #[error("unknown time zone `{0}` (use an IANA name such as Europe/Berlin or UTC)")]
    TimeZone(String),
    #[error("invalid duration `{0}` (use a number with ms, s, m, h or d, e.g. 30s or 5m)")]
    Duration(String),
    #[error("the interval must be at least 1 second, got {0:?}")]
    TooShort(Duration),
    #[error("the cron expression `{0}` never fires")]
    Never(String),
}

impl Schedule {
    /// A cron expression with 5 fields (minute precision) or 6 (seconds first), evaluated in `time_zone`.
    pub fn cron(expression: &str, time_zone: &str) -> Result<Schedule, ScheduleError> {
        let time_zone: Tz = time_zone.parse().map_err(|_| ScheduleError::TimeZone(time_zone.to_string()))?;
        let fields = expression.split_whitespace().count();
        if !(5..=6).contains(&fields) {
            return Err(ScheduleError::Cron {
                expression: expression.into(),
                reason: format!("expected 5 or 6 fields, found {fields}"),
            });
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build()
            .parse(expression)
            .map_err(|error| ScheduleError::Cron { expression: expression.into(), reason: error.to_string() })?;
        let schedule = Schedule::Cron { cron: Box::new(cron), expression: expression.to_string(), time_zone };
        if schedule.next_after(Utc::now().timestamp_millis()).is_none() {
            return Err(ScheduleError::Never(expression.to_string()));
        }
        Ok(schedule)
    }

    pub fn every(interval: Duration) -> Result<Schedule, ScheduleError> {
        if interval < Duration::from_secs(1) {
            return Err(ScheduleError::TooShort(interval));
        }
        Ok(Schedule::Every { interval })
    }

    /// The first fire time strictly after `after_ms` (Unix ms), or None if there is none.
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        match self {
            Schedule::Every { interval } => {
                let step = i64::try_from(interval.as_millis()).ok()?.max(1);
                // Aligned to multiples of the interval, so every node computes the same slots.
                Some((after_ms.div_euclid(step) + 1) * step)
            }
            Schedule::Cron { cron, time_zone, .. } => {
                let after = time_zone.timestamp_millis_opt(after_ms).single()?;
                cron.find_next_occurrence(&after, false).ok().map(|next: DateTime<Tz>| next.timestamp_millis())
            }
        }
    }

    /// The trigger spec stored with the routine: the cron expression, or `@every <ms>ms`.
    pub fn spec(&self) -> String {
        match self {
            Schedule::Cron { expression, .. } => expression.clone(),
            Schedule::Every { interval } => format!("@every {}ms", interval.as_millis()),
        }
    }

    /// Reads a stored spec back (`time_zone` applies to cron expressions).
    pub fn from_spec(spec: &str, time_zone: &str) -> Result<Schedule, ScheduleError> {
        match spec.strip_prefix("@every ") {
            Some(interval) => Schedule::every(parse_duration(interval)?),
            None => Schedule::cron(spec, time_zone),
        }
    }
}

/// `500ms`, `30s`, `5m`, `2h`, `1d` (one unit).
pub fn parse_duration(text: &str) -> Result<Duration, ScheduleError> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| ScheduleError::Duration(text.to_string()))?;
    let millis = match unit {
        "ms" => Some(number),
        "s" => number.checked_mul(1_000),
        "m" => number.checked_mul(60_000),
        "h" => number.checked_mul(3_600_000),
        "d" => number.checked_mul(86_400_000),
        _ => None,
    };
    millis.map(Duration::from_millis).ok_or_else(|| ScheduleError::Duration(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(zone: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        zone.with_ymd_and_hms(y, mo, d, h, mi, 0).single().expect("valid local time").timestamp_millis()
    }

    fn utc(ms: i64) -> String {
        Utc.timestamp_millis_opt(ms).single().expect("valid").format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }

    #[test]
    fn five_and_six_fields_in_a_time_zone() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let daily = Schedule::cron("0 9 * * *", "Europe/Berlin").unwrap();
        // 09:00 in Berlin is 08:00 UTC in winter (CET) and 07:00 UTC in summer (CEST).
        assert_eq!(utc(daily.next_after(at(berlin, 2026, 1, 10, 12, 0)).unwrap()), "2026-01-11T08:00:00Z");
        assert_eq!(utc(daily.next_after(at(berlin, 2026, 7, 10, 12, 0)).unwrap()), "2026-07-11T07:00:00Z");
        let seconds = Schedule::cron("*/15 * * * * *", "UTC").unwrap();
        let start = at(chrono_tz::UTC, 2026, 1, 1, 0, 0) + 1;
        assert_eq!(utc(seconds.next_after(start).unwrap()), "2026-01-01T00:00:15Z");
    }

    #[test]
    fn dst_spring_forward_skips_the_missing_hour_and_fall_back_fires_once() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let half_past_two = Schedule::cron("30 2 * * *", "Europe/Berlin").unwrap();
        // 2026-03-29: clocks jump 02:00 -> 03:00 CEST; 02:30 does not exist that day.
        let spring = half_past_two.next_after(at(berlin, 2026, 3, 29, 0, 0)).unwrap();
        let fired = berlin.timestamp_millis_opt(spring).single().unwrap();
        assert_ne!(
            fired.format("%Y-%m-%d %H:%M").to_string(),
            "2026-03-29 02:30",
            "no fire at a time that does not exist"
        );
        assert_eq!(utc(spring), "2026-03-29T01:00:00Z", "fires once, at 03:00 CEST, right after the gap");
        // 2026-10-25: 02:30 happens twice (CEST, then CET); the routine fires for one of them, not both.
        let before = at(berlin, 2026, 10, 25, 0, 0);
        let first = half_past_two.next_after(before).unwrap();
        let second = half_past_two.next_after(first).unwrap();
        assert_eq!(utc(first), "2026-10-25T00:30:00Z");
        assert_eq!(utc(second), "2026-10-26T01:30:00Z", "next fire is the following day");
    }

    #[test]
    fn bad_schedules_are_refused_with_their_reason() {
        assert!(matches!(Schedule::cron("61 * * * *", "UTC"), Err(ScheduleError::Cron { .. })));
        assert!(matches!(Schedule::cron("* * *", "UTC"), Err(ScheduleError::Cron { .. })));
        assert_eq!(
            Schedule::cron("0 9 * * *", "Mars/Olympus").unwrap_err(),
            ScheduleError::TimeZone("Mars/Olympus".into())
        );
        assert_eq!(parse_duration("10x").unwrap_err(), ScheduleError::Duration("10x".into()));
        assert_eq!(
            Schedule::every(Duration::from_millis(10)).unwrap_err(),
            ScheduleError::TooShort(Duration::from_millis(10))
        );
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
    }

    #[test]
    fn intervals_are_aligned_so_nodes_agree() {
        let every = Schedule::every(Duration::from_secs(10)).unwrap();
        assert_eq!(every.next_after(12_345), Some(20_000));
        assert_eq!(every.next_after(20_000), Some(30_000));
        assert_eq!(Schedule::from_spec(&every.spec(), "UTC").unwrap().next_after(0), Some(10_000));
    }
}
