//! `infmax server wait`: until the inference server answers, streaming its
//! log meanwhile.

use super::Written;
use crate::diag;
use crate::error::Result;
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub(super) enum ServerCommand {
    /// Wait until a server answers /health (or /v1/models), streaming its log meanwhile.
    Wait(ServerWaitArgs),
}

#[derive(Args, Debug)]
pub(super) struct ServerWaitArgs {
    /// Base URL of the server [default: http://127.0.0.1:PORT].
    #[arg(long, env = "INFMAX_SERVER_URL")]
    url: Option<String>,
    /// Port on 127.0.0.1 (when --url is not given).
    #[arg(long, default_value_t = 8000, env = "INFMAX_SERVER_PORT")]
    port: u16,
    /// The server's process: fail as soon as it exits.
    #[arg(long, env = "INFMAX_SERVER_PID")]
    pid: Option<u32>,
    /// The server's log file: streamed to stdout while waiting, last lines shown on failure.
    #[arg(long, env = "INFMAX_SERVER_LOG")]
    log: Option<PathBuf>,
    /// Give up after this many seconds.
    #[arg(long, default_value = "1800", value_parser = super::values::seconds, env = "INFMAX_SERVER_TIMEOUT")]
    timeout: std::time::Duration,
    /// Seconds between health checks.
    #[arg(long, default_value = "1", value_parser = super::values::seconds)]
    interval: std::time::Duration,
}

fn server_wait(a: &ServerWaitArgs) -> Result<()> {
    let url = a
        .url
        .clone()
        .unwrap_or_else(|| format!("http://127.0.0.1:{}", a.port));
    crate::server_wait::wait(&crate::server_wait::WaitOptions {
        url: url.trim_end_matches('/').to_string(),
        pid: a.pid,
        log: a.log.clone(),
        timeout: a.timeout,
        timeout_flag: "--timeout",
        interval: a.interval,
        annotate: diag::in_github_actions(),
        echo: true,
    })
}

pub(super) fn exec(c: ServerCommand) -> Result<Written> {
    match c {
        ServerCommand::Wait(a) => server_wait(&a).map(|()| Written::default()),
    }
}
