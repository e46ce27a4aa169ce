//! A simulator process for tests, and a tiny HTTP/1.1 client that is
//! independent of the project's own load generator (std sockets only).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `infmax sim --port 0 ARGS`, killed on drop.
pub struct SimProcess {
    pub child: Child,
    pub addr: String,
}

impl SimProcess {
    /// Serving model `m` on the fixed schedule: first token after `ttft_ms`,
    /// then one every `itl_ms`.
    pub fn fixed(ttft_ms: &str, itl_ms: &str) -> SimProcess {
        SimProcess::start(&[
            "--served-model-name",
            "m",
            "--ttft-ms",
            ttft_ms,
            "--itl-ms",
            itl_ms,
        ])
    }

    pub fn start(args: &[&str]) -> SimProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_infmax"))
            .args(["sim", "--port", "0", "--workers", "2"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("infmax sim starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let mut lines = BufReader::new(stderr).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        let addr = first
            .split("listening on http://")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_else(|| panic!("sim announces its address, got {first:?}"))
            .to_string();
        // Keep draining stderr so the simulator never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.by_ref() {});
        SimProcess { child, addr }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Whether the process has exited, waiting up to `timeout`.
    pub fn exited_within(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response read by [`request`]: status, headers, and body pieces with the
/// time each arrived.
#[derive(Debug)]
pub struct Reply {
    pub sent_at: Instant,
    pub status: u16,
    pub headers: String,
    pub body: Vec<u8>,
    /// SSE events (the text after `data: `) and when their last byte arrived.
    pub events: Vec<(Instant, String)>,
    /// The body ended cleanly (final zero-size chunk or Content-Length reached).
    pub clean_end: bool,
    /// Reading stopped because nothing arrived within the read timeout.
    pub timed_out: bool,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("JSON body ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// Events that are JSON chunks (not `[DONE]`).
    pub fn chunks(&self) -> Vec<serde_json::Value> {
        self.events
            .iter()
            .filter(|(_, e)| e != "[DONE]")
            .filter_map(|(_, e)| serde_json::from_str(e).ok())
            .collect()
    }

    pub fn has_done(&self) -> bool {
        self.events.iter().any(|(_, e)| e == "[DONE]")
    }
}

/// Sends one request (`Connection: close`) and reads the reply as it arrives.
pub fn request(addr: &str, method: &str, path: &str, body: &str, read_timeout: Duration) -> Reply {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).ok();
    s.set_read_timeout(Some(read_timeout)).ok();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let sent_at = Instant::now();
    s.write_all(req.as_bytes()).expect("write request");
    let mut raw: Vec<u8> = Vec::new();
    let mut buf = [0u8; 65536];
    let mut head_end = None;
    let mut reply = Reply {
        sent_at,
        status: 0,
        headers: String::new(),
        body: Vec::new(),
        events: Vec::new(),
        clean_end: false,
        timed_out: false,
    };
    let mut chunked = false;
    let mut content_length: Option<usize> = None;
    let mut body_pos = 0; // parse position in raw for chunked decoding
    let mut pending_events = String::new();
    loop {
        let n = match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                reply.timed_out = true;
                break;
            }
            Err(_) => break,
        };
        let now = Instant::now();
        raw.extend_from_slice(&buf[..n]);
        if head_end.is_none()
            && let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n")
        {
            head_end = Some(i + 4);
            let head = String::from_utf8_lossy(&raw[..i]).to_string();
            reply.status = head
                .split_whitespace()
                .nth(1)
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            let lower = head.to_ascii_lowercase();
            chunked = lower.contains("transfer-encoding: chunked");
            content_length = lower
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok());
            reply.headers = head;
            body_pos = i + 4;
        }
        let Some(_) = head_end else { continue };
        if chunked {
            // Decode every complete chunk available.
            loop {
                let rest = &raw[body_pos..];
                let Some(le) = rest.windows(2).position(|w| w == b"\r\n") else {
                    break;
                };
                let size_str = String::from_utf8_lossy(&rest[..le]).to_string();
                let Ok(size) = usize::from_str_radix(size_str.trim(), 16) else {
                    break;
                };
                if size == 0 {
                    reply.clean_end = true;
                    break;
                }
                if rest.len() < le + 2 + size + 2 {
                    break;
                }
                let data = rest[le + 2..le + 2 + size].to_vec();
                body_pos += le + 2 + size + 2;
                reply.body.extend_from_slice(&data);
                pending_events.push_str(&String::from_utf8_lossy(&data));
                while let Some(i) = pending_events.find("\n\n") {
                    let ev: String = pending_events.drain(..i + 2).collect();
                    if let Some(d) = ev.trim_end().strip_prefix("data: ") {
                        reply.events.push((now, d.to_string()));
                    }
                }
            }
            if reply.clean_end {
                break;
            }
        } else {
            reply.body = raw[body_pos..].to_vec();
            if content_length.is_some_and(|l| reply.body.len() >= l) {
                reply.clean_end = true;
                break;
            }
        }
    }
    reply
}

pub fn post(addr: &str, path: &str, body: &str) -> Reply {
    request(addr, "POST", path, body, Duration::from_secs(30))
}

pub fn get(addr: &str, path: &str) -> Reply {
    request(addr, "GET", path, "", Duration::from_secs(30))
}
