//! Config values that are written as text (`6h`, `2GiB`) but used as numbers.
//!
//! Each is parsed once, while the config is deserialized, so a bad value is
//! reported with the file, line and column like any other config error, and
//! the code that uses it gets a number, never a string to parse again. Each
//! keeps the text the user wrote and serializes back to it: the manifest's
//! `config.effective` shows the value as written, and `carbonstat verify`,
//! which rebuilds the config from the manifest, reads the same value back.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A span of time written as a whole number and a unit: `30s`, `90m`, `6h`, `1d`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duration {
    text: String,
    value: std::time::Duration,
}

const DURATION_FORM: &str = "a duration such as 6h, 90m, 30s or 1d";

impl Duration {
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let bad = || format!("'{s}' is not {DURATION_FORM}");
        let n: u64 = num.parse().map_err(|_| bad())?;
        let unit_secs = match unit.trim() {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86400,
            _ => return Err(bad()),
        };
        let secs = n.checked_mul(unit_secs).ok_or_else(bad)?;
        Ok(Duration {
            text: s.to_string(),
            value: std::time::Duration::from_secs(secs),
        })
    }

    pub fn get(&self) -> std::time::Duration {
        self.value
    }

    /// The text as written in the config.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Duration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(DURATION_FORM)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Duration, E> {
                Duration::parse(v)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Str(v), &DURATION_FORM))
            }
        }
        d.deserialize_str(V)
    }
}

/// An amount of memory: a number (decimals allowed) and a unit, `512MiB`,
/// `2GiB`, `1.5GB`; a bare number is bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByteSize {
    text: String,
    bytes: usize,
}

const SIZE_FORM: &str = "a size such as 2GiB, 1536MiB or 1.5GB (units B, KB, KiB, MB, MiB, GB, GiB; a bare number is bytes)";

impl ByteSize {
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let bad = || format!("'{s}' is not {SIZE_FORM}");
        let n: f64 = num.parse().map_err(|_| bad())?;
        let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1.0,
            "k" | "kb" => 1e3,
            "kib" => 1024.0,
            "m" | "mb" => 1e6,
            "mib" => 1024.0 * 1024.0,
            "g" | "gb" => 1e9,
            "gib" => 1024.0 * 1024.0 * 1024.0,
            _ => return Err(bad()),
        };
        let bytes = n * mult;
        if !bytes.is_finite() || bytes >= usize::MAX as f64 {
            return Err(bad());
        }
        Ok(ByteSize {
            text: s.to_string(),
            bytes: bytes as usize,
        })
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The text as written in the config.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(SIZE_FORM)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ByteSize, E> {
                ByteSize::parse(v)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Str(v), &SIZE_FORM))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_write_back() {
        // 6 h × 3 600 s = 21 600 s
        let d = Duration::parse("6h").unwrap();
        assert_eq!(d.get().as_secs(), 21600);
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"6h\"");
        let back: Duration = serde_json::from_str("\"6h\"").unwrap();
        assert_eq!(back.get().as_secs(), 21600);
        assert_eq!(back.to_string(), "6h");
        assert_eq!(Duration::parse("90m").unwrap().get().as_secs(), 5400);
        assert_eq!(Duration::parse("30s").unwrap().get().as_secs(), 30);
        assert_eq!(Duration::parse("1d").unwrap().get().as_secs(), 86400);
        for bad in [
            "soon",
            "6",
            "h",
            "-1h",
            "1.5h",
            "6 hours",
            "99999999999999999999d",
        ] {
            let e = Duration::parse(bad).unwrap_err();
            assert!(e.contains(DURATION_FORM), "{bad}: {e}");
        }
    }

    #[test]
    fn sizes_parse_and_write_back() {
        let s = ByteSize::parse("2GiB").unwrap();
        assert_eq!(s.bytes(), 2 * 1024 * 1024 * 1024);
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"2GiB\"");
        let back: ByteSize = serde_json::from_str("\"2GiB\"").unwrap();
        assert_eq!(back.bytes(), 2 * 1024 * 1024 * 1024);
        assert_eq!(back.to_string(), "2GiB");
        assert_eq!(
            ByteSize::parse("512MiB").unwrap().bytes(),
            512 * 1024 * 1024
        );
        // 1.5 × 10^9
        assert_eq!(ByteSize::parse("1.5GB").unwrap().bytes(), 1_500_000_000);
        assert_eq!(ByteSize::parse("100KiB").unwrap().bytes(), 102_400);
        assert_eq!(ByteSize::parse("1000000").unwrap().bytes(), 1_000_000);
        for bad in ["lots", "2TiB", "GiB", "1.2.3MiB", "1e30GiB"] {
            let e = ByteSize::parse(bad).unwrap_err();
            assert!(e.contains(SIZE_FORM), "{bad}: {e}");
        }
    }
}
