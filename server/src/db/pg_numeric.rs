//! PostgreSQL's `numeric` in its binary wire form, written as the exact decimal text
//! `numeric_out` writes (every digit, no exponent, `NaN`, `Infinity`, `-Infinity`).
//!
//! The wire form (big-endian): `ndigits` i16, `weight` i16, `sign` u16, `dscale` u16, then
//! `ndigits` base-10000 digits (i16 each), the first one weighing 10000^`weight`. Leading
//! and trailing zero digits are left out; `dscale` is how many decimal digits follow the
//! point. Reading it instead of `numeric::text` spares the server a text conversion a
//! value; the text is the same (checked against PostgreSQL's own in the API tests).

use std::fmt;

use super::pg_decode::DecodeError;

const POSITIVE: u16 = 0x0000;
const NEGATIVE: u16 = 0x4000;
const NAN: u16 = 0xC000;
const PLUS_INFINITY: u16 = 0xD000;
const MINUS_INFINITY: u16 = 0xF000;
/// PostgreSQL's `NUMERIC_DSCALE_MAX`.
const DSCALE_MAX: u16 = 0x3FFF;
const NBASE: u16 = 10_000;

/// A checked `numeric` value, borrowing its digits from the row; [`fmt::Display`] writes
/// its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Numeric<'a> {
    weight: i16,
    sign: u16,
    dscale: u16,
    /// `ndigits` big-endian base-10000 digits, each checked below 10000.
    digits: &'a [u8],
}

impl<'a> Numeric<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Numeric<'a>, DecodeError> {
        let Some((header, digits)) = bytes.split_first_chunk::<8>() else {
            return Err(DecodeError::Size { expected: 8, got: bytes.len() });
        };
        let field = |i: usize| u16::from_be_bytes([header[i], header[i + 1]]);
        let ndigits = usize::try_from(field(0) as i16).map_err(|_| DecodeError::Numeric("digit count is negative"))?;
        if digits.len() != 2 * ndigits {
            return Err(DecodeError::Size { expected: 8 + 2 * ndigits, got: bytes.len() });
        }
        let numeric = Numeric { weight: field(2) as i16, sign: field(4), dscale: field(6), digits };
        if !matches!(numeric.sign, POSITIVE | NEGATIVE | NAN | PLUS_INFINITY | MINUS_INFINITY) {
            return Err(DecodeError::Numeric("sign is not one PostgreSQL writes"));
        }
        if numeric.dscale > DSCALE_MAX {
            return Err(DecodeError::Numeric("scale is too large"));
        }
        if numeric.digits.chunks_exact(2).any(|d| u16::from_be_bytes([d[0], d[1]]) >= NBASE) {
            return Err(DecodeError::Numeric("digit is not below 10000"));
        }
        Ok(numeric)
    }

    /// At least the length of the text of the value whose wire form is `bytes` (checked or
    /// not): a value of few digits can have a long text (`1e100000`, a scale of 16383).
    pub fn text_len_bound(bytes: &[u8]) -> usize {
        let Some(header) = bytes.first_chunk::<8>() else {
            return 0;
        };
        let weight = usize::try_from(i16::from_be_bytes([header[2], header[3]])).unwrap_or(0);
        let dscale = usize::from(u16::from_be_bytes([header[6], header[7]]));
        // A sign, `Infinity`'s length or 4 digits a group and the point, the scale's digits.
        10 + 4 * (weight + 1) + dscale
    }

    /// The base-10000 digit at position `d` (0 weighs 10000^weight); zero outside them.
    fn digit(&self, d: i32) -> u16 {
        usize::try_from(d)
            .ok()
            .and_then(|d| self.digits.get(2 * d..2 * d + 2))
            .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]))
    }
}

/// Four decimal digits, zero-padded.
fn four(dig: u16) -> [u8; 4] {
    [b'0' + (dig / 1000) as u8, b'0' + (dig / 100 % 10) as u8, b'0' + (dig / 10 % 10) as u8, b'0' + (dig % 10) as u8]
}

fn ascii(bytes: &[u8]) -> &str {
    // Only ever ASCII digits.
    std::str::from_utf8(bytes).unwrap_or_default()
}

impl fmt::Display for Numeric<'_> {
    /// PostgreSQL's `get_str_from_var`: the integer part without leading zeros (`0` when
    /// there is none), then `dscale` digits after the point, cut or padded with zeros.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.sign {
            NAN => return f.write_str("NaN"),
            PLUS_INFINITY => return f.write_str("Infinity"),
            MINUS_INFINITY => return f.write_str("-Infinity"),
            NEGATIVE => f.write_str("-")?,
            _ => {}
        }
        let weight = i32::from(self.weight);
        if weight < 0 {
            f.write_str("0")?;
        } else {
            f.write_str(itoa::Buffer::new().format(self.digit(0)))?;
            for d in 1..=weight {
                f.write_str(ascii(&four(self.digit(d))))?;
            }
        }
        let mut d = weight + 1;
        let mut left = usize::from(self.dscale);
        if left > 0 {
            f.write_str(".")?;
        }
        while left > 0 {
            let group = four(self.digit(d));
            let take = left.min(4);
            f.write_str(ascii(&group[..take]))?;
            left -= take;
            d += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend((digits.len() as i16).to_be_bytes());
        out.extend(weight.to_be_bytes());
        out.extend(sign.to_be_bytes());
        out.extend(dscale.to_be_bytes());
        for d in digits {
            out.extend(d.to_be_bytes());
        }
        out
    }

    fn text(weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> String {
        Numeric::parse(&wire(weight, sign, dscale, digits)).unwrap().to_string()
    }

    #[test]
    fn writes_what_numeric_out_writes() {
        // What `SELECT numeric_send(x)` returns for each.
        assert_eq!(text(0, POSITIVE, 0, &[]), "0");
        assert_eq!(text(0, POSITIVE, 2, &[]), "0.00");
        assert_eq!(text(0, POSITIVE, 0, &[7]), "7");
        assert_eq!(text(1, NEGATIVE, 0, &[12, 3456]), "-123456");
        assert_eq!(text(1, POSITIVE, 0, &[1]), "10000");
        assert_eq!(text(0, POSITIVE, 2, &[12, 5000]), "12.50");
        assert_eq!(text(0, NEGATIVE, 3, &[1, 2345]), "-1.234");
        assert_eq!(text(-1, POSITIVE, 4, &[5]), "0.0005");
        assert_eq!(text(-2, POSITIVE, 8, &[1234]), "0.00001234");
        assert_eq!(text(-1, POSITIVE, 6, &[1234, 5600]), "0.123456");
        assert_eq!(text(2, POSITIVE, 1, &[1, 0, 0, 1000]), "100000000.1");
        assert_eq!(text(0, NAN, 0, &[]), "NaN");
        assert_eq!(text(0, PLUS_INFINITY, 0, &[]), "Infinity");
        assert_eq!(text(0, MINUS_INFINITY, 0, &[]), "-Infinity");
    }

    #[test]
    fn bounds_the_text_length() {
        for (weight, sign, dscale, digits) in [
            (0, POSITIVE, 0, &[][..]),
            (0, MINUS_INFINITY, 0, &[]),
            (-3, NEGATIVE, 16383, &[1]),
            (32767, NEGATIVE, 2, &[9999]),
            (3, POSITIVE, 5, &[1, 2, 3, 4, 5]),
        ] {
            let bytes = wire(weight, sign, dscale, digits);
            let text = Numeric::parse(&bytes).unwrap().to_string();
            assert!(text.len() <= Numeric::text_len_bound(&bytes), "{weight} {dscale}");
        }
    }

    #[test]
    fn refuses_what_postgresql_never_sends() {
        assert!(Numeric::parse(&[0; 7]).is_err());
        assert!(Numeric::parse(&wire(0, POSITIVE, 0, &[10_000])).is_err());
        assert!(Numeric::parse(&wire(0, 0x1234, 0, &[1])).is_err());
        assert!(Numeric::parse(&wire(0, POSITIVE, DSCALE_MAX + 1, &[1])).is_err());
        let mut short = wire(0, POSITIVE, 0, &[1, 2]);
        short.pop();
        assert!(Numeric::parse(&short).is_err());
        let mut negative = wire(0, POSITIVE, 0, &[]);
        negative[0] = 0xFF;
        assert!(Numeric::parse(&negative).is_err());
    }
}
