//! Checks of flag values clap cannot express, shared by several commands.

use crate::error::{Error, Result};
use crate::seqlen::SeqLen;

pub(super) fn parse_seq_len(s: &str) -> std::result::Result<SeqLen, String> {
    s.parse()
}

pub(super) fn ms(flag: &str, v: f64) -> Result<std::time::Duration> {
    if v.is_finite() && v >= 0.0 {
        Ok(std::time::Duration::from_secs_f64(v / 1e3))
    } else {
        Err(Error::usage(format!(
            "{flag} {v}: expected a number of milliseconds >= 0"
        )))
    }
}

/// Seconds any timeout may take: beyond it a deadline would overflow the clock.
const MAX_SECS: f64 = 1e7;

pub(super) fn positive_secs(flag: &str, v: f64) -> Result<std::time::Duration> {
    if v > 0.0 && v <= MAX_SECS {
        Ok(std::time::Duration::from_secs_f64(v))
    } else {
        Err(Error::usage(format!(
            "{flag} {v:?}: expected a number of seconds > 0 and at most {MAX_SECS:e}"
        )))
    }
}

pub(super) fn split_list(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim).filter(|x| !x.is_empty())
}

pub(super) fn check_name(name: &str) -> Result<()> {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "--name {name:?}: use letters, digits, `.`, `_` and `-`"
        )))
    }
}
