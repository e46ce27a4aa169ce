//! The benchmark's own HTTP/1.1 client, for plain `http://` servers: the
//! request written by hand and its answer read in the task that sent it.
//!
//! Why not reqwest here: hyper reads each connection in a task of its own
//! and hands every body chunk to the request's task through a channel, so
//! each streamed token cost two task wake-ups and an extra read. `perf`
//! put most of the gap between `bench serve` and the minimal client there
//! (docs/benchmarks.md). TLS and proxies stay on reqwest (`request::Transport`).
//!
//! The answer is hostile input: the head, the chunk sizes and the chunk
//! lines are capped; a malformed one is an error, never a panic.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest response head accepted, and the most headers: hyper's
/// limits, so no server reqwest read is refused here.
const MAX_HEAD: usize = 400 << 10;
const MAX_HEADERS: usize = 100;
/// The longest chunk-size or trailer line accepted (extensions included).
const MAX_CHUNK_LINE: usize = 4096;
/// Room made for each read. Pages are only touched as bytes arrive, so an
/// idle request holds little of it.
const READ_ROOM: usize = 16 << 10;

/// Why a request got no answer head.
#[derive(Debug)]
pub(crate) enum SendError {
    /// No connection could be opened.
    Connect(io::Error),
    /// The connection broke, or the head was not HTTP, before an answer:
    /// the server did not answer this request, so it may be sent again.
    BeforeAnswer(String),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Connect(e) => write!(f, "cannot connect: {e}"),
            SendError::BeforeAnswer(e) => f.write_str(e),
        }
    }
}

/// Keep-alive connections to one server, and the head every request to it
/// starts with.
pub(crate) struct Pool {
    addr: String,
    /// The `host` line, and the `authorization` line if any: what every
    /// request's head carries.
    headers: String,
    /// `POST <path> HTTP/1.1`, [`headers`](Pool::headers) and the fixed
    /// ones, up to content-length.
    head: String,
    idle: Mutex<Vec<TcpStream>>,
}

impl Pool {
    /// A pool for `url`; `None` unless it is plain `http://`. `bearer`:
    /// the API key every request carries (checked to be header-safe).
    pub(crate) fn for_url(url: &str, bearer: Option<&str>) -> Option<Arc<Pool>> {
        let u = reqwest::Url::parse(url).ok()?;
        if u.scheme() != "http" || !u.username().is_empty() || u.password().is_some() {
            return None;
        }
        let host = u.host_str()?;
        let port = u.port_or_known_default()?;
        let host_header = match u.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        };
        let path = match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        };
        let auth = bearer.map_or_else(String::new, |k| format!("authorization: Bearer {k}\r\n"));
        let headers = format!("host: {host_header}\r\n{auth}");
        Some(Arc::new(Pool {
            addr: format!("{host}:{port}"),
            head: format!(
                "POST {path} HTTP/1.1\r\n{headers}content-type: application/json\r\naccept: text/event-stream\r\n"
            ),
            headers,
            idle: Mutex::new(Vec::new()),
        }))
    }

    async fn connect(&self) -> Result<TcpStream, SendError> {
        let s = TcpStream::connect(&self.addr)
            .await
            .map_err(SendError::Connect)?;
        s.set_nodelay(true).map_err(SendError::Connect)?;
        Ok(s)
    }

    /// `GET <path>` on a new connection; at the answer's end the
    /// connection joins the pool (how connections are opened before a run).
    pub(crate) async fn get(self: &Arc<Self>, path: &str) -> Result<Response, SendError> {
        let stream = self.connect().await?;
        let get = format!("GET {path} HTTP/1.1\r\n{}\r\n", self.headers);
        Ok(self.exchange(stream, get.as_bytes()).await?.1)
    }

    /// The most recently used idle connection that is still open. A server
    /// closes idle connections (uvicorn after 5 s): each one taken is
    /// checked first, so a request is not sent onto a closed one and then
    /// sent again.
    fn take(&self) -> Option<TcpStream> {
        loop {
            let s = self.idle.lock().ok()?.pop()?;
            if still_open(&s) {
                return Some(s);
            }
        }
    }

    fn put(&self, s: TcpStream) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(s);
        }
    }

    /// Sends `body` on an idle connection (a new one when `fresh` or none is
    /// idle) and reads the answer's head. The instant is when the request
    /// went onto the connection.
    pub(crate) async fn send(
        self: &Arc<Self>,
        body: &[u8],
        fresh: bool,
    ) -> Result<(Instant, Response), SendError> {
        let stream = match (!fresh).then(|| self.take()).flatten() {
            Some(s) => s,
            None => self.connect().await?,
        };
        let mut request = Vec::with_capacity(self.head.len() + 32 + body.len());
        request.extend_from_slice(self.head.as_bytes());
        request.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
        request.extend_from_slice(body);
        self.exchange(stream, &request).await
    }

    /// Writes `request` and reads the answer's head.
    async fn exchange(
        self: &Arc<Self>,
        mut stream: TcpStream,
        request: &[u8],
    ) -> Result<(Instant, Response), SendError> {
        let sent = Instant::now();
        stream
            .write_all(request)
            .await
            .map_err(|e| SendError::BeforeAnswer(format!("sending the request: {e}")))?;
        let mut buf = Vec::with_capacity(READ_ROOM);
        loop {
            let (status, head, framing, keep_alive) = loop {
                match parse_head(&buf)? {
                    Some(h) => break h,
                    None if buf.len() >= MAX_HEAD => {
                        return Err(SendError::BeforeAnswer(format!(
                            "an answer head longer than {MAX_HEAD} bytes"
                        )));
                    }
                    None => {}
                }
                buf.reserve(READ_ROOM);
                match stream.read_buf(&mut buf).await {
                    Ok(0) => {
                        return Err(SendError::BeforeAnswer(
                            "the connection closed before an answer".into(),
                        ));
                    }
                    Ok(_) => {}
                    Err(e) => {
                        return Err(SendError::BeforeAnswer(format!("reading the answer: {e}")));
                    }
                }
            };
            // An interim answer (100 Continue): the real one follows.
            if (100..200).contains(&status) && status != 101 {
                buf.drain(..head);
                continue;
            }
            return Ok((
                sent,
                Response {
                    status,
                    stream: Some(stream),
                    buf,
                    pos: head,
                    framing,
                    keep_alive,
                    pool: Arc::clone(self),
                },
            ));
        }
    }
}

/// Whether an idle connection can carry a request: not closed by the
/// server, and nothing unread on it (bytes after an answer's end mean the
/// framing was not what the server sent). One non-blocking peek.
#[cfg(unix)]
fn still_open(s: &TcpStream) -> bool {
    use std::os::fd::AsRawFd;
    let mut byte = 0u8;
    // SAFETY: a one-byte peek into a local buffer on a socket we own.
    let n = unsafe {
        libc::recv(
            s.as_raw_fd(),
            (&raw mut byte).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock
}

#[cfg(not(unix))]
fn still_open(_: &TcpStream) -> bool {
    true
}

/// How the answer's body ends (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Framing {
    Length(u64),
    Chunked(Chunk),
    /// Read until the server closes.
    Close,
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Chunk {
    Size,
    Data(u64),
    DataEnd,
    Trailer,
}

type Head = (u16, usize, Framing, bool);

/// Status, head length, framing and whether the connection may be reused;
/// `None` while the head is incomplete.
fn parse_head(buf: &[u8]) -> Result<Option<Head>, SendError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut r = httparse::Response::new(&mut headers);
    let len = match r.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => {
            let start: String = String::from_utf8_lossy(&buf[..buf.len().min(80)])
                .chars()
                .collect();
            return Err(SendError::BeforeAnswer(format!(
                "the answer is not HTTP/1 ({e}): {start:?}"
            )));
        }
    };
    let status = r.code.unwrap_or(0);
    let mut keep_alive = r.version == Some(1);
    let mut length: Option<u64> = None;
    let mut chunked = None;
    for h in r.headers.iter() {
        let value = String::from_utf8_lossy(h.value);
        if h.name.eq_ignore_ascii_case("connection") {
            if value
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("close"))
            {
                keep_alive = false;
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked only when it is the last coding; any other ends at close.
            let last = value.rsplit(',').next().unwrap_or("").trim();
            chunked = Some(last.eq_ignore_ascii_case("chunked"));
        } else if h.name.eq_ignore_ascii_case("content-length") {
            let n = value.trim().parse::<u64>().map_err(|_| {
                SendError::BeforeAnswer(format!("a content-length that is not a number: {value:?}"))
            })?;
            if length.is_some_and(|l| l != n) {
                return Err(SendError::BeforeAnswer(
                    "two different content-lengths".into(),
                ));
            }
            length = Some(n);
        }
    }
    let framing = if (100..200).contains(&status) || status == 204 || status == 304 {
        Framing::Done
    } else {
        match (chunked, length) {
            (Some(true), _) => Framing::Chunked(Chunk::Size),
            (Some(false), _) | (None, None) => Framing::Close,
            (None, Some(n)) => Framing::Length(n),
        }
    };
    // Close-delimited; a switch of protocol; both a length and chunking
    // (RFC 9112 §6.3: read as chunked, then the connection is not trusted).
    if framing == Framing::Close || status == 101 || (chunked.is_some() && length.is_some()) {
        keep_alive = false;
    }
    Ok(Some((status, len, framing, keep_alive)))
}

/// What the decoder can do with the bytes it holds.
#[derive(Debug, PartialEq)]
enum Step {
    /// Body bytes `buf[from..to]`.
    Data(usize, usize),
    NeedMore,
    End,
}

/// One step of decoding `buf[*pos..]` under `framing`, consuming what it
/// uses. Pure, so every split of the bytes can be tested.
fn step(framing: &mut Framing, buf: &[u8], pos: &mut usize) -> Result<Step, String> {
    loop {
        let avail = &buf[*pos..];
        match framing {
            Framing::Done => return Ok(Step::End),
            Framing::Length(0) | Framing::Chunked(Chunk::Data(0)) => {
                *framing = match framing {
                    Framing::Length(_) => Framing::Done,
                    _ => Framing::Chunked(Chunk::DataEnd),
                };
            }
            Framing::Length(n) | Framing::Chunked(Chunk::Data(n)) => {
                if avail.is_empty() {
                    return Ok(Step::NeedMore);
                }
                let k = usize::try_from(*n).unwrap_or(usize::MAX).min(avail.len());
                *n -= k as u64;
                let from = *pos;
                *pos += k;
                return Ok(Step::Data(from, from + k));
            }
            Framing::Close => {
                if avail.is_empty() {
                    return Ok(Step::NeedMore);
                }
                let from = *pos;
                *pos = buf.len();
                return Ok(Step::Data(from, buf.len()));
            }
            Framing::Chunked(state) => {
                let Some(nl) = avail.iter().position(|&b| b == b'\n') else {
                    if avail.len() > MAX_CHUNK_LINE {
                        return Err(format!("a chunk line longer than {MAX_CHUNK_LINE} bytes"));
                    }
                    return Ok(Step::NeedMore);
                };
                let line = avail[..nl].strip_suffix(b"\r").unwrap_or(&avail[..nl]);
                match state {
                    Chunk::DataEnd if line.is_empty() => *state = Chunk::Size,
                    Chunk::DataEnd => return Err("a chunk longer than its size".into()),
                    Chunk::Size => {
                        let digits = line.split(|&b| b == b';').next().unwrap_or(b"");
                        let digits = std::str::from_utf8(digits).unwrap_or("").trim();
                        let size = u64::from_str_radix(digits, 16)
                            .ok()
                            .filter(|_| !digits.starts_with('+'))
                            .ok_or_else(|| {
                                let shown: String =
                                    String::from_utf8_lossy(line).chars().take(40).collect();
                                format!("a chunk size that is not hexadecimal: {shown:?}")
                            })?;
                        *state = if size == 0 {
                            Chunk::Trailer
                        } else {
                            Chunk::Data(size)
                        };
                    }
                    Chunk::Trailer if line.is_empty() => *framing = Framing::Done,
                    Chunk::Trailer => {}
                    Chunk::Data(_) => unreachable!("handled above"),
                }
                *pos += nl + 1;
            }
        }
    }
}

/// An answer whose head has been read; its body is read with [`chunk`].
///
/// [`chunk`]: Response::chunk
pub(crate) struct Response {
    pub(crate) status: u16,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
    pos: usize,
    framing: Framing,
    keep_alive: bool,
    pool: Arc<Pool>,
}

impl Response {
    /// Whether the connection goes back to the pool at the answer's end.
    pub(crate) fn reusable(&self) -> bool {
        self.keep_alive && self.stream.is_some()
    }

    /// The next bytes of the body as they arrive; `None` at its end, when
    /// a reusable connection goes back to the pool. Dropping the answer
    /// before its end closes the connection.
    pub(crate) async fn chunk(&mut self) -> Result<Option<&[u8]>, String> {
        loop {
            match step(&mut self.framing, &self.buf, &mut self.pos)? {
                Step::Data(from, to) => return Ok(Some(&self.buf[from..to])),
                Step::End => {
                    if let Some(s) = self.stream.take() {
                        // Bytes past the end mean the framing was not what
                        // the server sent: the connection is not reused.
                        if self.keep_alive && self.pos == self.buf.len() {
                            self.pool.put(s);
                        }
                    }
                    return Ok(None);
                }
                Step::NeedMore => {}
            }
            let Some(stream) = self.stream.as_mut() else {
                return Ok(None);
            };
            if self.pos == self.buf.len() {
                self.buf.clear();
            } else {
                self.buf.drain(..self.pos);
            }
            self.pos = 0;
            self.buf.reserve(READ_ROOM);
            match stream.read_buf(&mut self.buf).await {
                Ok(0) if self.framing == Framing::Close => {
                    self.stream = None;
                    self.framing = Framing::Done;
                }
                Ok(0) => {
                    self.stream = None;
                    return Err("the server closed the connection mid-answer".into());
                }
                Ok(_) => {}
                Err(e) => {
                    self.stream = None;
                    return Err(format!("reading the answer: {e}"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `wire` fed in pieces of `piece` bytes; the body and whether
    /// the decoder reached the end.
    fn decode(mut framing: Framing, wire: &[u8], piece: usize) -> Result<(Vec<u8>, bool), String> {
        let (mut buf, mut pos, mut body) = (Vec::new(), 0, Vec::new());
        let mut fed = 0;
        loop {
            match step(&mut framing, &buf, &mut pos)? {
                Step::Data(a, b) => body.extend_from_slice(&buf[a..b]),
                Step::End => return Ok((body, true)),
                Step::NeedMore if fed == wire.len() => return Ok((body, false)),
                Step::NeedMore => {
                    let to = (fed + piece).min(wire.len());
                    buf.extend_from_slice(&wire[fed..to]);
                    fed = to;
                }
            }
        }
    }

    #[test]
    fn chunked_bodies_decode_whatever_the_read_sizes() {
        let wire = b"5;ext=1\r\nhello\r\nB\r\n, world and\r\n1\n!\n0\r\nx-trailer: 1\r\n\r\n";
        for piece in 1..=wire.len() {
            assert_eq!(
                decode(Framing::Chunked(Chunk::Size), wire, piece),
                Ok((b"hello, world and!".to_vec(), true)),
                "pieces of {piece}"
            );
        }
    }

    #[test]
    fn length_and_close_framed_bodies() {
        for piece in 1..6 {
            assert_eq!(
                decode(Framing::Length(4), b"abcd", piece),
                Ok((b"abcd".to_vec(), true))
            );
            assert_eq!(
                decode(Framing::Close, b"abcde", piece),
                Ok((b"abcde".to_vec(), false))
            );
        }
        assert_eq!(decode(Framing::Length(0), b"", 1), Ok((vec![], true)));
        // Short: the decoder waits for more (the caller sees the close).
        assert_eq!(
            decode(Framing::Length(9), b"abc", 2),
            Ok((b"abc".to_vec(), false))
        );
    }

    #[test]
    fn hostile_chunking_is_an_error_not_a_panic() {
        for wire in [
            &b"zz\r\n"[..],
            b"-1\r\n",
            b"+5\r\nhello\r\n",
            b"ffffffffffffffffff\r\n",
            b"2\r\nabc\r\n",
        ] {
            assert!(
                decode(Framing::Chunked(Chunk::Size), wire, 1).is_err(),
                "{:?}",
                String::from_utf8_lossy(wire)
            );
        }
        let long = vec![b'1'; MAX_CHUNK_LINE + 2];
        assert!(decode(Framing::Chunked(Chunk::Size), &long, 1024).is_err());
        // A huge but well-formed size only waits for its bytes.
        assert_eq!(
            decode(Framing::Chunked(Chunk::Size), b"ffffffffffffffff\r\nab", 3),
            Ok((b"ab".to_vec(), false))
        );
    }

    #[test]
    fn heads_say_how_the_body_ends() {
        let head = |s: &str| parse_head(s.as_bytes()).map_err(|e| e.to_string());
        let ok = |s: &str| head(s).ok().flatten().map(|(st, _, f, k)| (st, f, k));
        assert_eq!(
            ok("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"),
            Some((200, Framing::Chunked(Chunk::Size), true))
        );
        assert_eq!(
            ok("HTTP/1.1 200 OK\r\ncontent-length: 7\r\nconnection: close\r\n\r\n"),
            Some((200, Framing::Length(7), false))
        );
        assert_eq!(
            ok("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n"),
            Some((200, Framing::Close, false))
        );
        assert_eq!(
            ok("HTTP/1.0 200 OK\r\n\r\n"),
            Some((200, Framing::Close, false))
        );
        assert_eq!(
            ok("HTTP/1.1 204 No Content\r\n\r\n"),
            Some((204, Framing::Done, true))
        );
        assert_eq!(
            ok("HTTP/1.1 101 Switching Protocols\r\nupgrade: x\r\n\r\n"),
            Some((101, Framing::Done, false))
        );
        assert_eq!(
            ok("HTTP/1.1 200 OK\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n"),
            Some((200, Framing::Chunked(Chunk::Size), false)),
            "read as chunked, the connection not reused"
        );
        assert_eq!(head("HTTP/1.1 200 OK\r\ncontent"), Ok(None));
        for bad in [
            "SSH-2.0-OpenSSH\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
        ] {
            assert!(head(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn only_plain_http_urls_get_a_pool() {
        let p = Pool::for_url("http://127.0.0.1:8000/v1/completions?x=1", None).expect("pool");
        assert_eq!(p.addr, "127.0.0.1:8000");
        assert!(
            p.head
                .starts_with("POST /v1/completions?x=1 HTTP/1.1\r\nhost: 127.0.0.1:8000\r\n")
        );
        let p = Pool::for_url("http://[::1]/v1/completions", Some("k-1")).expect("pool");
        assert_eq!(p.addr, "[::1]:80");
        assert!(
            p.head
                .contains("host: [::1]\r\nauthorization: Bearer k-1\r\ncontent-type")
        );
        assert_eq!(p.headers, "host: [::1]\r\nauthorization: Bearer k-1\r\n");
        for other in ["https://h/v1", "http://u:p@h/v1", "not a url"] {
            assert!(Pool::for_url(other, None).is_none(), "{other}");
        }
    }

    /// Against a scripted server: an interim 100 is skipped; a finished
    /// answer's connection is pooled and reused; one the server closed
    /// while idle, or one with stray bytes after its answer, is not.
    #[tokio::test]
    async fn only_open_clean_idle_connections_are_reused() {
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        use std::time::Duration;
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = l.local_addr().expect("addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let n = count.fetch_add(1, SeqCst);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let _ = s.read(&mut buf).await;
                    let first: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
                    let _ = s.write_all(first).await;
                    match n {
                        0 => {} // closed while idle in the client's pool
                        1 => {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            let _ = s.write_all(b"stray").await;
                            tokio::time::sleep(Duration::from_secs(5)).await;
                        }
                        _ => {
                            while let Ok(1..) = s.read(&mut buf).await {
                                let again = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                                let _ = s.write_all(again).await;
                            }
                        }
                    }
                });
            }
        });
        let pool = Pool::for_url(&format!("http://{addr}/v1/completions"), None).expect("pool");
        let body = |pool: Arc<Pool>| async move {
            let (_, mut r) = pool.send(b"{}", false).await.expect("an answer");
            assert_eq!(r.status, 200);
            let mut b = Vec::new();
            while let Some(c) = r.chunk().await.expect("a body") {
                b.extend_from_slice(c);
            }
            b
        };
        let idle = |pool: &Pool| pool.idle.lock().map(|v| v.len()).unwrap_or(0);
        assert_eq!(body(Arc::clone(&pool)).await, b"ok");
        assert_eq!(idle(&pool), 1, "pooled at the answer's end");
        tokio::time::sleep(Duration::from_millis(100)).await;
        // The server closed connection 0: a new one, no failed send.
        assert_eq!(body(Arc::clone(&pool)).await, b"ok");
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Connection 1 has stray bytes: a new one, reused after.
        assert_eq!(body(Arc::clone(&pool)).await, b"ok");
        assert_eq!(body(Arc::clone(&pool)).await, b"ok");
        assert_eq!(accepted.load(SeqCst), 3);
        assert_eq!(idle(&pool), 1);
    }
}
