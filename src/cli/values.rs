//! The value parsers clap runs on typed flags: each says what is allowed
//! (clap names the flag and the value).

use crate::seqlen::SeqLen;

pub(super) fn parse_seq_len(s: &str) -> std::result::Result<SeqLen, String> {
    s.parse()
}

/// Milliseconds, at least 0.
pub(super) fn millis(s: &str) -> std::result::Result<std::time::Duration, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| (0.0..=MAX_SECS * 1e3).contains(v))
        .map(|v| std::time::Duration::from_secs_f64(v / 1e3))
        .ok_or_else(|| {
            format!(
                "expected a number of milliseconds >= 0 and at most {:e}",
                MAX_SECS * 1e3
            )
        })
}

/// Seconds any timeout may take: beyond it a deadline would overflow the clock.
const MAX_SECS: f64 = 1e7;

/// Seconds of a timeout or an interval: above 0.
pub(super) fn seconds(s: &str) -> std::result::Result<std::time::Duration, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| *v > 0.0 && *v <= MAX_SECS)
        .map(std::time::Duration::from_secs_f64)
        .ok_or_else(|| format!("expected a number of seconds > 0 and at most {MAX_SECS:e}"))
}

/// Seconds, 0 included.
pub(super) fn seconds_or_zero(s: &str) -> std::result::Result<std::time::Duration, String> {
    match s.trim().parse::<f64>() {
        Ok(0.0) => Ok(std::time::Duration::ZERO),
        _ => seconds(s)
            .map_err(|_| format!("expected a number of seconds >= 0 and at most {MAX_SECS:e}")),
    }
}

/// A factor above 0 (1.1 = 10% more).
pub(super) fn factor(s: &str) -> std::result::Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0)
        .ok_or_else(|| "expected a factor above 0 (1.1 = 10% slower per token)".to_string())
}

/// `METRIC=PERCENT`: a regression gate's noise threshold, as a fraction.
pub(super) fn threshold(
    s: &str,
) -> std::result::Result<(crate::results::compare::Metric, f64), String> {
    use crate::results::compare::Metric;
    let names: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
    let bad = |why: &str| {
        format!(
            "{why}; expected METRIC=PERCENT with METRIC one of {}, e.g. tput=3%",
            names.join(", ")
        )
    };
    let (m, v) = s.split_once('=').ok_or_else(|| bad("no `=`"))?;
    let metric = Metric::parse(m.trim()).ok_or_else(|| bad("unknown metric"))?;
    let pct: f64 = v
        .trim()
        .trim_end_matches('%')
        .parse()
        .map_err(|_| bad("not a number"))?;
    if !(pct.is_finite() && pct > 0.0 && pct < 1000.0) {
        return Err(bad("the percentage must be above 0 and below 1000"));
    }
    Ok((metric, pct / 100.0))
}

/// An engine-model preset of the simulator (a runner type like
/// `b200-dgxc` names its GPU's).
pub(super) fn preset(s: &str) -> std::result::Result<String, String> {
    let s = s.trim();
    crate::sim::engine::preset(s)
        .map(|_| s.to_string())
        .ok_or_else(|| {
            format!(
                "unknown; presets: {}",
                crate::sim::engine::preset_names().join(", ")
            )
        })
}

/// An aggregate's name: it becomes part of a file name.
pub(super) fn name(s: &str) -> std::result::Result<String, String> {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        Ok(s.to_string())
    } else {
        Err("use letters, digits, `.`, `_` and `-`".into())
    }
}

// Typed flag values for `bench serve` (clap's value_parser): clap names
// the flag and the value, these say what is allowed.

pub(super) fn backend(s: &str) -> std::result::Result<crate::bench::Backend, String> {
    crate::bench::Backend::parse(s.trim()).ok_or_else(|| {
        format!(
            "unknown; allowed: {}",
            crate::bench::Backend::NAMES.join(", ")
        )
    })
}

/// Requests per second, `inf` (or `infinity`) to send all at once.
pub(super) fn request_rate(s: &str) -> std::result::Result<f64, String> {
    match s.trim() {
        "inf" | "infinity" => Ok(f64::INFINITY),
        r => r
            .parse::<f64>()
            .ok()
            .filter(|v| (1e-6..=1e9).contains(v))
            .ok_or_else(|| "expected requests per second from 1e-6 to 1e9, or inf".to_string()),
    }
}

/// A whole number from `min` to `max` (sizes the client allocates for up
/// front are refused here, not by an abort mid-run).
pub(super) fn whole<T: TryFrom<u64> + Clone + Send + Sync + 'static>(
    min: u64,
    max: u64,
) -> impl Fn(&str) -> std::result::Result<T, String> + Clone + Send + Sync + 'static {
    move |s| {
        s.trim()
            .parse::<u64>()
            .ok()
            .filter(|v| (min..=max).contains(v))
            .and_then(|v| T::try_from(v).ok())
            .ok_or_else(|| format!("expected a whole number from {min} to {max}"))
    }
}

/// A number from `min` to `max`.
pub(super) fn number(
    min: f64,
    max: f64,
) -> impl Fn(&str) -> std::result::Result<f64, String> + Clone + Send + Sync + 'static {
    move |s| {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| (min..=max).contains(v))
            .ok_or_else(|| format!("expected a number from {min} to {max}"))
    }
}

/// `--dataset-name`: the seed's client's name for the one dataset infmax has.
pub(super) fn dataset(s: &str) -> std::result::Result<String, String> {
    match s.trim() {
        "random" => Ok("random".into()),
        _ => Err("only `random` is supported".into()),
    }
}

// The comma lists take an empty item (`ttft,tpot,`) as nothing, as the
// seed's benchmark client and infmax always have: None, dropped by the
// command.

pub(super) fn metric(
    s: &str,
) -> std::result::Result<Option<crate::bench::metrics::Metric>, String> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    crate::bench::metrics::Metric::parse(s.trim())
        .map(Some)
        .ok_or_else(|| "unknown metric; allowed: ttft, tpot, itl, e2el".to_string())
}

pub(super) fn percentile(s: &str) -> std::result::Result<Option<f64>, String> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| *v > 0.0 && *v < 100.0)
        .map(Some)
        .ok_or_else(|| "not a percentile between 0 and 100".to_string())
}

/// `ttft:MS`, `tpot:MS` or `e2el:MS`: a goodput service-level objective.
pub(super) fn goodput(
    s: &str,
) -> std::result::Result<(crate::bench::metrics::Metric, f64), String> {
    use crate::bench::metrics::Metric;
    s.split_once(':')
        .and_then(|(k, v)| {
            let m = Metric::parse(k.trim()).filter(|m| *m != Metric::Itl)?;
            Some((m, v.trim().parse::<f64>().ok().filter(|v| *v >= 0.0)?))
        })
        .ok_or_else(|| "expected ttft:MS, tpot:MS or e2el:MS".to_string())
}

/// `KEY=VALUE` for the result's top level. The seed's result processor
/// converts keys ending in `ms` or containing `tpot` with float(): such a
/// key takes a number.
pub(super) fn metadata(s: &str) -> std::result::Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .filter(|(k, _)| !k.trim().is_empty())
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .ok_or_else(|| "expected KEY=VALUE".to_string())?;
    if (k.ends_with("ms") || k.contains("tpot")) && v.parse::<f64>().is_err() {
        return Err("a key ending in `ms` or containing `tpot` needs a number (the seed's result processor reads such keys as numbers); rename the key to record text".into());
    }
    Ok((k, v))
}
