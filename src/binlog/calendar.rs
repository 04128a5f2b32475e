//! Dates the way Maxwell 1.22.6 prints them, including the ones a permissive server stores.
//!
//! Maxwell's binlog library (mysql-binlog-connector-java 0.20) turns a DATE / DATETIME into
//! epoch milliseconds with a lenient `java.util.GregorianCalendar` in UTC, and Maxwell formats
//! that instant back with the same calendar. Measured against Maxwell 1.22.6 (see
//! docs/maxwell-compatibility.md, "Invalid and partly-zero dates"), that gives:
//! - a year, month or day of 0 (`0000-00-00`, `2020-00-15`, `0000-01-01`, `2020-05-00`) is a
//!   zero date, whatever the time of day and fraction: [`Civil::Zero`];
//! - a day past the end of its month rolls over (`2020-02-31` → `2020-03-02`,
//!   `0001-02-29` → `0001-03-01`);
//! - the calendar is Julian before 1582-10-15 and Gregorian from then on: a valid date prints
//!   unchanged (`1500-02-29` exists in the Julian calendar), a date in the ten days the reform
//!   skipped moves ten days on (`1582-10-10` → `1582-10-20`).
//!
//! Invariant: every valid proleptic-Gregorian date outside 1582-10-05..=1582-10-14 with a
//! valid time maps to itself.

/// 1582-10-15 (the first Gregorian day of `GregorianCalendar`) in days since 1970-01-01.
pub const GREGORIAN_CUTOVER: i64 = -141_427;
/// Days since 1970-01-01 of the raw Julian day count below at its zero.
const JULIAN_OFFSET: i64 = -719_470;

/// A date and time as Maxwell prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Civil {
    /// Printed `0000-00-00[ 00:00:00[.000…]]`, or `null` with `output_null_zerodates`.
    Zero,
    /// Year, month, day, hour, minute, second after the lenient calendar's normalisation.
    At { y: i64, m: u32, d: u32, h: u32, mi: u32, s: u32 },
}

/// Days since 1970-01-01 of the proleptic-Gregorian date (y, m, 1) + (d - 1), any m ≥ 1.
fn gregorian_days(y: i64, m: i64, d: i64) -> i64 {
    let (y, m) = (y + (m - 1).div_euclid(12), (m - 1).rem_euclid(12) + 1);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468 + (d - 1)
}

/// Days since 1970-01-01 of the Julian-calendar date (y, m, 1) + (d - 1), any m ≥ 1.
fn julian_days(y: i64, m: i64, d: i64) -> i64 {
    let (y, m) = (y + (m - 1).div_euclid(12), (m - 1).rem_euclid(12) + 1);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(4);
    let yoe = y - era * 4;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5;
    era * 1461 + yoe * 365 + doy + JULIAN_OFFSET + (d - 1)
}

/// Days since 1970-01-01 → Julian-calendar (year, month, day).
fn julian_from_days(z: i64) -> (i64, u32, u32) {
    let z = z - JULIAN_OFFSET;
    let era = z.div_euclid(1461);
    let doe = z.rem_euclid(1461);
    let yoe = (doe - doe / 1460) / 365;
    let doy = doe - 365 * yoe;
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 4;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days since 1970-01-01 → the (year, month, day) `GregorianCalendar` shows for that day.
pub fn hybrid_from_days(z: i64) -> (i64, u32, u32) {
    if z >= GREGORIAN_CUTOVER {
        super::values::civil_from_days(z)
    } else {
        julian_from_days(z)
    }
}

/// The stored fields of a DATE/DATETIME → what Maxwell prints. A zero year, month or day is
/// [`Civil::Zero`]; otherwise the fields are read as a lenient `GregorianCalendar` reads them
/// (Gregorian when that lands on or after the cutover, else Julian) and shown in it.
pub fn civil(y: u64, m: u64, d: u64, h: u64, mi: u64, s: u64) -> Civil {
    if y == 0 || m == 0 || d == 0 {
        return Civil::Zero;
    }
    let (y, m, d) = (y as i64, m as i64, d as i64);
    let g = gregorian_days(y, m, d);
    let days = if g >= GREGORIAN_CUTOVER { g } else { julian_days(y, m, d) };
    let secs = days * 86_400 + (h * 3600 + mi * 60 + s) as i64;
    let (days, tod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = hybrid_from_days(days);
    Civil::At { y, m, d, h: (tod / 3600) as u32, mi: (tod / 60 % 60) as u32, s: (tod % 60) as u32 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: u64, m: u64, d: u64) -> Civil {
        civil(y, m, d, 0, 0, 0)
    }

    fn at(y: i64, m: u32, d: u32) -> Civil {
        Civil::At { y, m, d, h: 0, mi: 0, s: 0 }
    }

    #[test]
    fn anchors() {
        assert_eq!(gregorian_days(1970, 1, 1), 0);
        assert_eq!(gregorian_days(1582, 10, 15), GREGORIAN_CUTOVER);
        assert_eq!(julian_days(1582, 10, 5), GREGORIAN_CUTOVER);
        assert_eq!(julian_days(1969, 12, 19), 0);
        for z in [-800_000, -141_428, -141_427, -1, 0, 1, 20_000, 2_932_896] {
            let (y, m, d) = julian_from_days(z);
            assert_eq!(julian_days(y, m as i64, d as i64), z);
        }
    }

    #[test]
    fn zero_parts_are_zero_dates() {
        for (y, m, d) in [(0, 0, 0), (2020, 0, 15), (2020, 5, 0), (0, 1, 1), (0, 12, 31), (2020, 0, 0)] {
            assert_eq!(date(y, m, d), Civil::Zero, "{y}-{m}-{d}");
        }
        assert_eq!(civil(2020, 0, 0, 10, 0, 0), Civil::Zero);
    }

    #[test]
    fn days_past_the_month_roll_over() {
        assert_eq!(date(2020, 2, 31), at(2020, 3, 2));
        assert_eq!(date(2021, 4, 31), at(2021, 5, 1));
        assert_eq!(date(2021, 2, 29), at(2021, 3, 1));
        assert_eq!(date(1, 2, 29), at(1, 3, 1));
        assert_eq!(date(9999, 12, 31), at(9999, 12, 31));
        assert_eq!(civil(2020, 2, 31, 10, 11, 12), Civil::At { y: 2020, m: 3, d: 2, h: 10, mi: 11, s: 12 });
    }

    #[test]
    fn julian_before_the_reform() {
        assert_eq!(date(1000, 1, 1), at(1000, 1, 1));
        assert_eq!(date(1500, 2, 29), at(1500, 2, 29));
        assert_eq!(date(1500, 2, 30), at(1500, 3, 1));
        assert_eq!(date(1582, 10, 4), at(1582, 10, 4));
        assert_eq!(date(1582, 10, 5), at(1582, 10, 15));
        assert_eq!(date(1582, 10, 10), at(1582, 10, 20));
        assert_eq!(date(1582, 10, 14), at(1582, 10, 24));
        assert_eq!(date(1582, 10, 15), at(1582, 10, 15));
        assert_eq!(date(1700, 2, 29), at(1700, 3, 1));
    }

    #[test]
    fn valid_dates_map_to_themselves() {
        for z in (-719_162..2_932_897).step_by(997) {
            let (y, m, d) = super::super::values::civil_from_days(z);
            // Every Gregorian date is a Julian one too, but for the ten days the reform skipped.
            if !(y == 1582 && m == 10 && (5..15).contains(&d)) {
                assert_eq!(date(y as u64, m as u64, d as u64), at(y, m, d), "{y}-{m}-{d}");
            }
        }
    }
}
