//! The floor for `benches/client_fidelity.py`: the least a client can do to
//! read C token streams on one core. Plain tokio sockets, one task per
//! connection, the request written by hand, every read timestamped where it
//! returns, tokens counted by a byte search; no HTTP library, no SSE or JSON
//! parsing, no per-request records. Its TTFT error and CPU per token are what
//! the kernel and the runtime cost on this machine, so the bench can show how
//! much of `infmax bench serve`'s figures is ours.
//!
//! Only for the simulator's completions endpoint with token-id prompts.
//!
//! Usage: stream_floor HOST:PORT CONCURRENCY WAVES INPUT_LEN OUTPUT_LEN
//! Prints one JSON object: tokens, requests, wall_s, mean_ttft_ms.

use std::error::Error;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

const TOKEN: &[u8] = b"\"text\":\"";
const DONE: &[u8] = b"data: [DONE]";

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

/// Streams `waves` requests one after another on one connection; returns
/// (tokens, summed TTFT in seconds).
async fn stream(mut s: TcpStream, req: std::sync::Arc<Vec<u8>>, waves: usize) -> Res<(u64, f64)> {
    let mut buf = vec![0u8; 1 << 16];
    let (mut tokens, mut ttft_sum) = (0u64, 0f64);
    for _ in 0..waves {
        let sent = Instant::now();
        s.write_all(&req).await?;
        let mut first = true;
        // The bytes of a pattern split over two reads: keep the tail.
        let mut window: Vec<u8> = Vec::new();
        loop {
            let n = s.read(&mut buf).await?;
            if n == 0 {
                return Err("the server closed the connection mid-stream".into());
            }
            let now = Instant::now();
            // Kept bytes can finish a pattern but never hold a whole one.
            let keep = window.len().min(DONE.len() - 1);
            window.drain(..window.len() - keep);
            let token_from = keep.saturating_sub(TOKEN.len() - 1);
            window.extend_from_slice(&buf[..n]);
            let k = count(&window[token_from..], TOKEN) as u64;
            if k > 0 && first {
                ttft_sum += (now - sent).as_secs_f64();
                first = false;
            }
            tokens += k;
            if count(&window, DONE) > 0 {
                break;
            }
        }
    }
    Ok((tokens, ttft_sum))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, conc, waves, input_len, output_len] = args.as_slice() else {
        return Err("usage: stream_floor HOST:PORT CONCURRENCY WAVES INPUT_LEN OUTPUT_LEN".into());
    };
    let conc: usize = conc.parse()?;
    let waves: usize = waves.parse()?;
    let input_len: usize = input_len.parse()?;
    let ids: Vec<String> = (0..input_len)
        .map(|i| (100 + i % 30000).to_string())
        .collect();
    let body = format!(
        r#"{{"model":"m","prompt":[{}],"max_tokens":{output_len},"ignore_eos":true,"stream":true,"stream_options":{{"include_usage":true}}}}"#,
        ids.join(",")
    );
    let req = format!(
        "POST /v1/completions HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let req = std::sync::Arc::new(req.into_bytes());
    let mut conns = Vec::with_capacity(conc);
    for _ in 0..conc {
        let s = TcpStream::connect(addr.as_str()).await?;
        s.set_nodelay(true)?;
        conns.push(s);
    }
    let t0 = Instant::now();
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|s| tokio::spawn(stream(s, req.clone(), waves)))
        .collect();
    let (mut tokens, mut ttft_sum) = (0u64, 0f64);
    for t in tasks {
        let (k, f) = t.await??;
        tokens += k;
        ttft_sum += f;
    }
    let wall = t0.elapsed().as_secs_f64();
    let requests = conc * waves;
    println!(
        r#"{{"tokens":{tokens},"requests":{requests},"wall_s":{wall:.4},"mean_ttft_ms":{:.4}}}"#,
        ttft_sum * 1e3 / requests as f64
    );
    Ok(())
}
