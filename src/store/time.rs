//! Unix milliseconds as UTC text (ISO 8601 for ACP's `updatedAt`, a clock for `log`), by
//! civil-from-days arithmetic; pure functions, nothing of the store.

const MS_PER_DAY: i64 = 86_400_000;

/// A UTC instant split into calendar fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    milli: u32,
}

fn civil(ms: i64) -> Civil {
    let days = ms.div_euclid(MS_PER_DAY);
    let in_day = ms.rem_euclid(MS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    // `in_day` is below 86_400_000, so every field fits in u32.
    Civil {
        year,
        month,
        day,
        hour: (in_day / 3_600_000) as u32,
        minute: (in_day / 60_000 % 60) as u32,
        second: (in_day / 1000 % 60) as u32,
        milli: (in_day % 1000) as u32,
    }
}

/// (year, month 1-12, day 1-31) of a count of days since 1970-01-01, in the proleptic
/// Gregorian calendar (eras of 400 years from 0000-03-01).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `2026-11-30T08:42:27.123Z`.
pub fn iso8601_utc(ms: i64) -> String {
    let c = civil(ms);
    let year = if (0..=9999).contains(&c.year) {
        format!("{:04}", c.year)
    } else {
        format!("{:+05}", c.year)
    };
    format!(
        "{year}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        c.month, c.day, c.hour, c.minute, c.second, c.milli
    )
}

/// `08:42:27.123` (UTC).
pub fn clock_utc(ms: i64) -> String {
    let c = civil(ms);
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        c.hour, c.minute, c.second, c.milli
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_epoch_and_known_instants_format_as_iso_8601() {
        assert_eq!(iso8601_utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601_utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601_utc(1_709_251_199_999), "2024-02-29T23:59:59.999Z");
        assert_eq!(iso8601_utc(1_798_761_599_000), "2026-12-31T23:59:59.000Z");
        assert_eq!(iso8601_utc(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            iso8601_utc(253_402_300_800_000),
            "+10000-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn extreme_instants_do_not_panic() {
        for ms in [i64::MIN, i64::MAX, i64::MIN / 2] {
            assert!(iso8601_utc(ms).ends_with('Z'));
        }
    }

    #[test]
    fn every_day_for_four_centuries_follows_the_one_before() {
        // From 1900-01-01 (-25_567 days) over 400 years: each day is the next calendar day.
        let mut previous = civil_from_days(-25_568);
        for days in -25_567..-25_567 + 146_097 {
            let (year, month, day) = civil_from_days(days);
            let next_day = (year, month, day) == (previous.0, previous.1, previous.2 + 1);
            let month_ended = previous.2 == days_in_month(previous.0, previous.1);
            let next_month =
                month_ended && day == 1 && (year, month) == (previous.0, previous.1 + 1);
            let next_year = (month, day) == (1, 1)
                && year == previous.0 + 1
                && previous.1 == 12
                && previous.2 == 31;
            assert!(
                next_day || next_month || next_year,
                "{previous:?} then {:?}",
                (year, month, day)
            );
            assert!(day <= days_in_month(year, month));
            previous = (year, month, day);
        }
    }

    fn days_in_month(year: i64, month: u32) -> u32 {
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        match month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        }
    }

    #[test]
    fn the_clock_is_hours_to_milliseconds() {
        assert_eq!(clock_utc(3_723_004), "01:02:03.004");
    }
}
