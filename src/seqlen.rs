//! Input/output sequence-length pairs and their names (`1k1k`, `8k1k`, ...).

use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// Named pairs, in the order they are listed in messages.
const NAMED: [(&str, u32, u32); 3] = [
    ("1k1k", 1024, 1024),
    ("1k8k", 1024, 8192),
    ("8k1k", 8192, 1024),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub(crate) struct SeqLen {
    pub(crate) isl: u32,
    pub(crate) osl: u32,
}

impl SeqLen {
    pub(crate) const fn new(isl: u32, osl: u32) -> SeqLen {
        SeqLen { isl, osl }
    }

    /// `1k1k`, `1k8k`, `8k1k`, else `{isl}_{osl}`.
    pub(crate) fn name(&self) -> String {
        NAMED
            .iter()
            .find(|(_, i, o)| *i == self.isl && *o == self.osl)
            .map_or_else(
                || format!("{}_{}", self.isl, self.osl),
                |(n, _, _)| n.to_string(),
            )
    }

    /// The engine's context length for a run: isl + osl + 200.
    pub(crate) fn max_model_len(&self) -> u32 {
        self.isl.saturating_add(self.osl).saturating_add(200)
    }
}

impl fmt::Display for SeqLen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl FromStr for SeqLen {
    type Err = String;

    /// Accepts the names above and `{isl}_{osl}`.
    fn from_str(s: &str) -> Result<SeqLen, String> {
        if let Some((_, isl, osl)) = NAMED.iter().find(|(n, _, _)| *n == s) {
            return Ok(SeqLen::new(*isl, *osl));
        }
        let parsed = s.split_once('_').and_then(|(a, b)| {
            let isl = a.parse::<u32>().ok().filter(|v| *v > 0)?;
            let osl = b.parse::<u32>().ok().filter(|v| *v > 0)?;
            Some(SeqLen::new(isl, osl))
        });
        parsed.ok_or_else(|| {
            let names: Vec<&str> = NAMED.iter().map(|(n, _, _)| *n).collect();
            format!(
                "unknown sequence-length name `{s}`; allowed: {}, or ISL_OSL in tokens (e.g. 2048_512)",
                names.join(", ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(SeqLen::new(1024, 1024).name(), "1k1k");
        assert_eq!(SeqLen::new(1024, 8192).name(), "1k8k");
        assert_eq!(SeqLen::new(8192, 1024).name(), "8k1k");
        assert_eq!(SeqLen::new(2048, 128).name(), "2048_128");
        assert_eq!(SeqLen::new(1024, 1024).max_model_len(), 2248);
    }

    #[test]
    fn parse_round_trips_and_rejects() {
        assert_eq!("8k1k".parse::<SeqLen>(), Ok(SeqLen::new(8192, 1024)));
        assert_eq!("2048_128".parse::<SeqLen>(), Ok(SeqLen::new(2048, 128)));
        assert!("2k2k".parse::<SeqLen>().is_err());
        assert!("0_5".parse::<SeqLen>().is_err());
    }
}
