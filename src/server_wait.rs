//! Waiting for an inference server to become ready (`infmax server wait`,
//! and every server `infmax run` starts) while streaming its log, failing
//! fast (with the log's last lines) when its process dies.

use crate::bench::process_alive;
use crate::error::{Error, Result};
use std::collections::VecDeque;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub(crate) struct WaitOptions {
    pub(crate) url: String,
    pub(crate) pid: Option<u32>,
    pub(crate) log: Option<PathBuf>,
    pub(crate) timeout: Duration,
    /// The flag that sets `timeout`, for the message when it passes.
    pub(crate) timeout_flag: &'static str,
    pub(crate) interval: Duration,
    /// Inside GitHub Actions: stop the runner from reading workflow commands
    /// in the (untrusted) server log.
    pub(crate) annotate: bool,
    /// Stream the log to stdout while waiting (else only its tail on failure).
    pub(crate) echo: bool,
}

const TAIL_LINES: usize = 40;

/// Follows a log file that may not exist yet, printing new complete lines.
struct LogTail {
    path: Option<PathBuf>,
    echo: bool,
    offset: u64,
    partial: Vec<u8>,
    last: VecDeque<String>,
}

impl LogTail {
    fn poll(&mut self, out: &mut impl Write) {
        let Some(path) = &self.path else { return };
        let Ok(mut f) = std::fs::File::open(path) else {
            return;
        };
        let len = f.metadata().map_or(0, |m| m.len());
        if len < self.offset {
            self.offset = 0; // truncated or replaced
        }
        if f.seek(SeekFrom::Start(self.offset)).is_err() {
            return;
        }
        let mut buf = Vec::new();
        if f.read_to_end(&mut buf).is_err() {
            return;
        }
        self.offset += buf.len() as u64;
        self.partial.extend_from_slice(&buf);
        while let Some(i) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=i).collect();
            let text = String::from_utf8_lossy(&line).trim_end().to_string();
            if self.echo {
                let _ = writeln!(out, "{text}");
            }
            self.last.push_back(text);
            if self.last.len() > TAIL_LINES {
                self.last.pop_front();
            }
        }
        let _ = out.flush();
    }

    fn tail(&self) -> String {
        match &self.path {
            None => String::new(),
            Some(p) if self.last.is_empty() => {
                format!("\n(the log {} is empty or missing)", p.display())
            }
            Some(p) => format!(
                "\nlast {} lines of {}:\n{}",
                self.last.len(),
                p.display(),
                self.last.iter().cloned().collect::<Vec<_>>().join("\n")
            ),
        }
    }
}

async fn ready(client: &reqwest::Client, url: &str) -> bool {
    match client.get(format!("{url}/health")).send().await {
        Ok(r) if r.status().is_success() => true,
        // No /health on this server: ask for the model list instead.
        Ok(r)
            if r.status() == reqwest::StatusCode::NOT_FOUND
                || r.status() == reqwest::StatusCode::METHOD_NOT_ALLOWED =>
        {
            matches!(client.get(format!("{url}/v1/models")).send().await, Ok(r) if r.status().is_success())
        }
        _ => false,
    }
}

pub(crate) fn wait(o: &WaitOptions) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::env(format!("cannot start the async runtime: {e}")))?;
    let client = crate::http::client(reqwest::Client::builder().timeout(Duration::from_secs(5)))?;
    let mut log = LogTail {
        path: o.log.clone(),
        echo: o.echo,
        offset: 0,
        partial: Vec::new(),
        last: VecDeque::new(),
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let fence = (o.annotate && o.echo && o.log.is_some())
        .then(|| crate::diag::CommandFence::open(&mut out));
    let start = Instant::now();
    let result = loop {
        log.poll(&mut out);
        if let Some(pid) = o.pid
            && !process_alive(pid)
        {
            log.poll(&mut out);
            break Err(Error::env(format!(
                "server process {pid} exited before {} became ready ({:.0} s){}",
                o.url,
                start.elapsed().as_secs_f64(),
                log.tail()
            )));
        }
        if rt.block_on(ready(&client, &o.url)) {
            log.poll(&mut out);
            eprintln!(
                "infmax: server at {} is ready after {:.1} s",
                o.url,
                start.elapsed().as_secs_f64()
            );
            break Ok(());
        }
        if start.elapsed() >= o.timeout {
            break Err(Error::env(format!(
                "server at {} not ready after {:.0} s ({}); neither /health nor /v1/models answered 200{}",
                o.url,
                o.timeout.as_secs_f64(),
                o.timeout_flag,
                log.tail()
            )));
        }
        std::thread::sleep(
            o.interval
                .min(o.timeout.saturating_sub(start.elapsed()))
                .max(Duration::from_millis(10)),
        );
    };
    if let Some(f) = fence {
        f.close(&mut out);
    }
    result
}
