//! [`Timestamp`]: a UTC instant with microsecond precision (PostgreSQL's `timestamptz`).
//!
//! Formatting and parsing are hand-written because they run once per row on both hot paths
//! (server encode, viewer decode); a general date library costs several times more per row
//! here. The calendar arithmetic is Howard Hinnant's `days_from_civil` / `civil_from_days`.

use std::fmt;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// Microseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid timestamp {0:?}: expected RFC 3339 UTC like 2024-01-31T12:00:00Z or 2024-01-31T12:00:00.123456Z")]
pub struct TimestampError(pub String);

const MICROS_PER_SECOND: i64 = 1_000_000;
const SECONDS_PER_DAY: i64 = 86_400;

impl Timestamp {
    pub fn from_unix_seconds(seconds: i64) -> Self {
        Timestamp(seconds * MICROS_PER_SECOND)
    }

    pub fn unix_micros(self) -> i64 {
        self.0
    }

    /// Appends the RFC 3339 form to `out`: `YYYY-MM-DDTHH:MM:SSZ`, with `.ffffff` before the
    /// `Z` only when the microseconds are not zero. Years outside 0..=9999 are clamped to
    /// that range's ends, as RFC 3339 cannot write them.
    pub fn write_rfc3339(self, out: &mut Vec<u8>) {
        let micros = self.0.clamp(MIN_MICROS, MAX_MICROS);
        let seconds = micros.div_euclid(MICROS_PER_SECOND);
        let fraction = micros.rem_euclid(MICROS_PER_SECOND) as u32;
        let days = seconds.div_euclid(SECONDS_PER_DAY);
        let second_of_day = seconds.rem_euclid(SECONDS_PER_DAY) as u32;
        let (year, month, day) = civil_from_days(days);
        let mut buf = *b"0000-00-00T00:00:00";
        put_digits(&mut buf[0..4], year as u32);
        put_digits(&mut buf[5..7], month);
        put_digits(&mut buf[8..10], day);
        put_digits(&mut buf[11..13], second_of_day / 3600);
        put_digits(&mut buf[14..16], second_of_day / 60 % 60);
        put_digits(&mut buf[17..19], second_of_day % 60);
        out.extend_from_slice(&buf);
        if fraction != 0 {
            let mut frac = *b".000000";
            put_digits(&mut frac[1..7], fraction);
            out.extend_from_slice(&frac);
        }
        out.push(b'Z');
    }

    /// Parses what [`Timestamp::write_rfc3339`] writes, plus any fraction of 1-9 digits
    /// (truncated to microseconds) and a `+00:00` offset in place of `Z`.
    pub fn parse_rfc3339(text: &str) -> Result<Self, TimestampError> {
        let fail = || TimestampError(text.to_owned());
        let b = text.as_bytes();
        if b.len() < 20
            || b[4] != b'-'
            || b[7] != b'-'
            || !matches!(b[10], b'T' | b't' | b' ')
            || b[13] != b':'
            || b[16] != b':'
        {
            return Err(fail());
        }
        let year = digits(&b[0..4]).ok_or_else(fail)? as i64;
        let month = digits(&b[5..7]).ok_or_else(fail)?;
        let day = digits(&b[8..10]).ok_or_else(fail)?;
        let hour = digits(&b[11..13]).ok_or_else(fail)?;
        let minute = digits(&b[14..16]).ok_or_else(fail)?;
        let second = digits(&b[17..19]).ok_or_else(fail)?;
        if !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return Err(fail());
        }
        let mut rest = &b[19..];
        let mut fraction = 0u32;
        if let Some((b'.', after_dot)) = rest.split_first() {
            let len = after_dot.iter().take_while(|c| c.is_ascii_digit()).count();
            if len == 0 || len > 9 {
                return Err(fail());
            }
            for (i, c) in after_dot[..len.min(6)].iter().enumerate() {
                fraction += u32::from(c - b'0') * 10u32.pow(5 - i as u32);
            }
            rest = &after_dot[len..];
        }
        if rest != b"Z" && rest != b"z" && rest != b"+00:00" {
            return Err(fail());
        }
        let days = days_from_civil(year, month, day);
        let seconds = days * SECONDS_PER_DAY + i64::from(hour * 3600 + minute * 60 + second);
        Ok(Timestamp(seconds * MICROS_PER_SECOND + i64::from(fraction)))
    }
}

/// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z.
const MIN_MICROS: i64 = -62_167_219_200 * MICROS_PER_SECOND;
const MAX_MICROS: i64 = 253_402_300_800 * MICROS_PER_SECOND - 1;

/// Writes `value` as decimal digits filling `dst`, zero-padded on the left (the high digits
/// that do not fit are dropped).
pub fn put_digits(dst: &mut [u8], mut value: u32) {
    for slot in dst.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

fn digits(src: &[u8]) -> Option<u32> {
    src.iter().try_fold(0u32, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0')))
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian `(year, month, day)` of a day counted from 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = Vec::with_capacity(27);
        self.write_rfc3339(&mut buf);
        // write_rfc3339 writes ASCII only.
        f.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?)
    }
}

impl std::str::FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timestamp::parse_rfc3339(s)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buf = Vec::with_capacity(27);
        self.write_rfc3339(&mut buf);
        serializer.serialize_str(std::str::from_utf8(&buf).map_err(serde::ser::Error::custom)?)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 UTC timestamp")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
                Timestamp::parse_rfc3339(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(Timestamp(1).to_string(), "1970-01-01T00:00:00.000001Z");
        assert_eq!(Timestamp(-1).to_string(), "1969-12-31T23:59:59.999999Z");
        assert_eq!(Timestamp::from_unix_seconds(951_782_400).to_string(), "2000-02-29T00:00:00Z");
        assert_eq!(Timestamp::from_unix_seconds(1_704_067_199).to_string(), "2023-12-31T23:59:59Z");
    }

    #[test]
    fn round_trips_across_four_centuries() {
        let mut seconds = -62_000_000_000i64;
        while seconds < 250_000_000_000 {
            for micros in [0, 1, 999_999, 123_456] {
                let t = Timestamp(seconds * MICROS_PER_SECOND + micros);
                assert_eq!(Timestamp::parse_rfc3339(&t.to_string()), Ok(t), "{t}");
            }
            seconds += 7_919_993; // a prime step walks through every month and leap rule
        }
    }

    #[test]
    fn parses_other_spellings_and_rejects_garbage() {
        let t = Timestamp::parse_rfc3339("2024-02-29T12:34:56.1234567+00:00").unwrap();
        assert_eq!(t.to_string(), "2024-02-29T12:34:56.123456Z");
        for bad in [
            "",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00+01:00",
            "2024-01-01T00:00:00.Z",
            "２０２４-01-01T00:00:00Z",
        ] {
            assert!(Timestamp::parse_rfc3339(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn serde_uses_the_string_form() {
        let json = serde_json::to_string(&Timestamp(0)).unwrap();
        assert_eq!(json, "\"1970-01-01T00:00:00Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), Timestamp(0));
    }
}
