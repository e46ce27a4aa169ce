//! The crate's error type and the exit codes it maps to.

use crate::diag::Diagnostic;
use std::fmt;

/// Exit code: bad input (configs, changelog, runner config, result files).
pub(crate) const EXIT_INVALID: u8 = 1;
/// Exit code: bad arguments (also what clap uses for parse errors).
pub(crate) const EXIT_USAGE: u8 = 2;
/// Exit code: a failure outside the input (git, the network, the file system).
pub(crate) const EXIT_ENV: u8 = 3;
/// Exit code: the work ran and its output was written, but it failed a check
/// (too many failed requests, the server died, an eval below its floor).
pub(crate) const EXIT_FAILED: u8 = 4;

#[derive(Debug)]
pub(crate) enum Error {
    /// Problems in input files, each with its location.
    Invalid(Vec<Diagnostic>),
    /// A bad argument or combination of arguments.
    Usage(String),
    /// Something outside the input failed: git, the GitHub API, I/O.
    Env(String),
    /// The work ran (its output is written) but failed a check.
    Failed(String),
}

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Error::Invalid(_) => EXIT_INVALID,
            Error::Usage(_) => EXIT_USAGE,
            Error::Env(_) => EXIT_ENV,
            Error::Failed(_) => EXIT_FAILED,
        }
    }

    pub(crate) fn invalid(d: Diagnostic) -> Error {
        Error::Invalid(vec![d])
    }

    pub(crate) fn usage(msg: impl Into<String>) -> Error {
        Error::Usage(msg.into())
    }

    pub(crate) fn env(msg: impl Into<String>) -> Error {
        Error::Env(msg.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Invalid(diags) => {
                let lines: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
                f.write_str(&lines.join("\n"))
            }
            Error::Usage(m) | Error::Env(m) | Error::Failed(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

/// Turns a list of problems into `Ok(())` when it is empty.
pub(crate) fn check(diags: Vec<Diagnostic>) -> Result<()> {
    if diags.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(diags))
    }
}

/// A value, or its problems moved into `problems`; other errors stay errors.
pub(crate) fn invalid_into<T>(r: Result<T>, problems: &mut Vec<Diagnostic>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(Error::Invalid(mut d)) => {
            problems.append(&mut d);
            Ok(None)
        }
        Err(e) => Err(e),
    }
}
