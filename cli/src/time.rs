//! Unix times as readable UTC dates.

/// Formats unix seconds as `YYYY-MM-DD HH:MM:SS UTC` (0 as `never`/`-` is the caller's call).
pub fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A time with its relation to `now`: `2026-01-01 00:00:00 UTC (in 1h 2m)` or `(3d ago)`.
pub fn relative(secs: u64, now: u64) -> String {
    let (delta, future) = if secs >= now {
        (secs - now, true)
    } else {
        (now - secs, false)
    };
    let span = span(delta);
    if future {
        format!("{} (in {span})", utc(secs))
    } else {
        format!("{} ({span} ago)", utc(secs))
    }
}

/// A duration in seconds as `1d 2h 3m 4s`, largest units first, zero units left out.
pub fn span(secs: u64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let parts = [
        (secs / 86_400, "d"),
        (secs % 86_400 / 3600, "h"),
        (secs % 3600 / 60, "m"),
        (secs % 60, "s"),
    ];
    parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_750_000_000), "2025-06-15 15:06:40 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(4_102_444_799), "2099-12-31 23:59:59 UTC");
    }

    #[test]
    fn spans_and_relative_times() {
        assert_eq!(span(0), "0s");
        assert_eq!(span(3600), "1h");
        assert_eq!(span(90_061), "1d 1h 1m 1s");
        assert_eq!(relative(100, 40), "1970-01-01 00:01:40 UTC (in 1m)");
        assert_eq!(relative(40, 100), "1970-01-01 00:00:40 UTC (1m ago)");
    }
}
