//! `infmax run`: the whole job on one machine. Generate the matrix; for each
//! server configuration start an engine (the simulator, or any command),
//! wait for it, benchmark every concurrency, process each result; then
//! collect, chart and summarise.
//!
//! Long (about 490 lines) because starting, waiting for and stopping each
//! engine, and the worker pool that runs them, are one lifecycle.

use crate::bench::{self, Backend, BenchOptions, dataset::DatasetSpec, metrics::Metric, progress};
use crate::error::{Error, Result};
use crate::matrix::MatrixEntry;
use crate::matrix::job_env::{Host, job_env_at, result_name, run_result_name};
use crate::results::{collect, process, report};

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Engine {
    /// `infmax sim` in engine-model mode, preset from the runner type.
    Sim,
    /// A real server command, templated with {port} {model} {tp} {ep} {dp_attn} {max_model_len} {precision} {framework} {image}.
    Cmd(String),
}

#[derive(Debug, Clone)]
pub(crate) struct RunOptions {
    pub(crate) engine: Engine,
    pub(crate) out: PathBuf,
    /// Divide ISL/OSL by this (1 = real lengths).
    pub(crate) length_divisor: u32,
    /// Prompts per run: this many per unit of concurrency...
    pub(crate) prompts_per_conc: usize,
    /// ...capped here (0 = no cap).
    pub(crate) max_prompts: usize,
    /// Server configurations run at the same time.
    pub(crate) jobs: usize,
    /// Simulated engine: run its clock this many times faster.
    pub(crate) sim_speedup: f64,
    /// Simulated engine: decode steps take this many times as long.
    pub(crate) sim_slowdown: f64,
    /// Each benchmark this many times (result names `…_r{k}` when above 1).
    pub(crate) repeats: u32,
    pub(crate) tokenizer: Option<String>,
    pub(crate) server_timeout: Duration,
    pub(crate) request_timeout: Duration,
}

impl RunOptions {
    pub(crate) fn scaled_down(&self) -> bool {
        self.length_divisor > 1
            || self.max_prompts > 0
            || (self.engine == Engine::Sim && self.sim_speedup != 1.0)
    }
}

/// Entries that share a server: everything but the concurrency.
fn group(entries: Vec<MatrixEntry>) -> Vec<Vec<MatrixEntry>> {
    let mut groups: Vec<(String, Vec<MatrixEntry>)> = Vec::new();
    for e in entries {
        let key = match &e {
            MatrixEntry::Single(s) => {
                let mut k = s.clone();
                k.conc = 0;
                k.run_eval = false;
                serde_json::to_string(&k)
            }
            MatrixEntry::Multi(m) => serde_json::to_string(m),
        }
        .unwrap_or_default();
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, g)) => g.push(e),
            None => groups.push((key, vec![e])),
        }
    }
    groups.into_iter().map(|(_, g)| g).collect()
}

struct Server {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        // SAFETY: signalling our own child's process group, created with setpgid below.
        unsafe {
            libc::kill(-(self.child.id() as libc::pid_t), libc::SIGTERM);
        }
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port for a server to listen on, chosen below the kernel's ephemeral
/// range when there is room: a port from `bind(:0)` comes from that range,
/// and between choosing it and the server binding it any outgoing
/// connection on the machine (a client's, another run's) may take it as its
/// local port; the server then fails with "address already in use".
fn free_port() -> Result<u16> {
    const FLOOR: u16 = 10_000;
    let ephemeral = ephemeral_start().unwrap_or(32_768);
    if let Some(span) = ephemeral.checked_sub(FLOOR).filter(|s| *s >= 1000) {
        let start = rand::random::<u16>() % span;
        for i in 0..64u16 {
            let port = FLOOR + start.wrapping_add(i.wrapping_mul(997)) % span;
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return Ok(port);
            }
        }
    }
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| Error::env(format!("no free port: {e}")))
}

/// The first port of the kernel's ephemeral range (Linux).
fn ephemeral_start() -> Option<u16> {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn common(e: &MatrixEntry) -> (&str, &str, &str, &str, &str, u32) {
    match e {
        MatrixEntry::Single(s) => (
            &s.model,
            &s.runner,
            &s.precision,
            &s.framework,
            &s.image,
            s.max_model_len,
        ),
        MatrixEntry::Multi(m) => (
            &m.model,
            &m.runner,
            &m.precision,
            &m.framework,
            &m.image,
            m.max_model_len,
        ),
    }
}

fn start_server(o: &RunOptions, e: &MatrixEntry, name: &str) -> Result<Server> {
    let (model, runner, precision, framework, image, max_len) = common(e);
    let log = o.out.join("logs").join(format!("{name}.log"));
    let log_file = std::fs::File::create(&log)
        .map_err(|err| Error::env(format!("cannot create {}: {err}", log.display())))?;
    // The simulator binds a port of the kernel's choosing and announces it
    // (no window in which another process can take it); a server command
    // gets a free port to bind, and is started again if it was taken.
    let port = match o.engine {
        Engine::Sim => 0,
        Engine::Cmd(_) => free_port()?,
    };
    let (tp, ep, dp) = match e {
        MatrixEntry::Single(s) => (s.tp, s.ep, s.dp_attn),
        MatrixEntry::Multi(m) => (m.decode.tp, m.decode.ep, m.decode.dp_attn),
    };
    let mut cmd = match &o.engine {
        Engine::Sim => {
            let exe = std::env::current_exe()
                .map_err(|err| Error::env(format!("cannot find the infmax binary: {err}")))?;
            let p = crate::sim::engine::preset(runner)
                .or_else(|| crate::sim::engine::preset("h100"))
                .expect("the h100 preset exists");
            let k = o.sim_speedup.max(1e-3);
            let mut c = Command::new(exe);
            c.args([
                "sim",
                "--port",
                &port.to_string(),
                "--served-model-name",
                model,
                "--workers",
                "1",
            ])
            .args([
                "--max-num-seqs",
                &p.max_num_seqs.to_string(),
                "--prefill-chunk",
                &p.prefill_chunk.to_string(),
            ])
            .args([
                "--prefill-tps",
                &(p.prefill_tps * k / o.sim_slowdown).to_string(),
            ])
            .args([
                "--decode-base-ms",
                &(p.decode_base_ms * o.sim_slowdown / k).to_string(),
                "--decode-per-seq-ms",
                &(p.decode_per_seq_ms * o.sim_slowdown / k).to_string(),
            ])
            .args([
                "--max-model-len",
                &(max_len / o.length_divisor.max(1) + 200).to_string(),
            ]);
            c
        }
        Engine::Cmd(template) => {
            // Config text goes in as quoted shell words, never as shell code.
            let q = crate::matrix::job_env::single_quote;
            let line = template
                .replace("{port}", &port.to_string())
                .replace("{model}", &q(model))
                .replace("{tp}", &tp.to_string())
                .replace("{ep}", &ep.to_string())
                .replace("{dp_attn}", &dp.to_string())
                .replace("{max_model_len}", &max_len.to_string())
                .replace("{precision}", &q(precision))
                .replace("{framework}", &q(framework))
                .replace("{image}", &q(image));
            let mut c = Command::new("sh");
            c.args(["-c", &line]);
            c
        }
    };
    let err_file = log_file
        .try_clone()
        .map_err(|err| Error::env(err.to_string()))?;
    cmd.stdin(Stdio::null()).stdout(log_file).stderr(err_file);
    {
        use std::os::unix::process::CommandExt;
        // A process group of its own, so stopping it stops what it started.
        cmd.process_group(0);
    }
    let child = cmd
        .spawn()
        .map_err(|err| Error::env(format!("cannot start the server: {err}")))?;
    Ok(Server {
        child,
        url: format!("http://127.0.0.1:{port}"),
        log,
    })
}

/// How many times a server is started when its port turns out to be taken.
const PORT_ATTEMPTS: u32 = 3;

/// Starts the server and waits until it is ready. A server that exits
/// because its port was taken (between choosing a free port and the server
/// binding it, anything on the machine may bind it) is started again on
/// another port, so a busy machine cannot fail a benchmark this way.
fn start_ready(o: &RunOptions, e: &MatrixEntry, name: &str) -> Result<Server> {
    let mut attempt = 1;
    loop {
        let mut s = start_server(o, e, name)?;
        if o.engine == Engine::Sim {
            read_announced_url(&mut s, o.server_timeout);
        }
        let waited = crate::server_wait::wait(&crate::server_wait::WaitOptions {
            url: s.url.clone(),
            pid: Some(s.child.id()),
            log: Some(s.log.clone()),
            timeout: o.server_timeout,
            timeout_flag: "--server-timeout",
            interval: Duration::from_millis(200),
            annotate: false,
            echo: false,
        });
        match waited {
            Ok(()) => return Ok(s),
            Err(_) if attempt < PORT_ATTEMPTS && port_was_taken(&s) => {
                eprintln!(
                    "infmax run: {}: its port was taken; starting it again on another port",
                    s.url
                );
                attempt += 1;
            }
            Err(err) => return Err(err),
        }
    }
}

/// The simulator's address, from the line it announces it with on stderr
/// (`infmax sim: listening on http://HOST:PORT`), read from its log; left as
/// it is if the process exits first or the time passes (the wait that
/// follows then says why, with the log's last lines).
fn read_announced_url(s: &mut Server, timeout: Duration) {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        let log = std::fs::read_to_string(&s.log).unwrap_or_default();
        if let Some(addr) = log
            .split(crate::sim::ANNOUNCEMENT)
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
        {
            s.url = format!("http://{addr}");
            return;
        }
        if !matches!(s.child.try_wait(), Ok(None)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The server has exited and its log says its address was in use (the
/// kernel's words, as Rust, Python and uvicorn print them).
fn port_was_taken(s: &Server) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(&s.log) else {
        return false;
    };
    let len = f.metadata().map_or(0, |m| m.len());
    let mut tail = Vec::new();
    if f.seek(SeekFrom::Start(len.saturating_sub(16 * 1024)))
        .is_err()
        || f.read_to_end(&mut tail).is_err()
    {
        return false;
    }
    let tail = String::from_utf8_lossy(&tail).to_ascii_lowercase();
    tail.contains("address already in use") || tail.contains("eaddrinuse")
}

/// One benchmark of one entry at one concurrency (repeat `repeat` of
/// `o.repeats`, from 1): bench, then process.
fn bench_one(
    o: &RunOptions,
    server: &Server,
    e: &MatrixEntry,
    conc: u32,
    repeat: u32,
) -> Result<String> {
    let host = Host::new(e, None, None);
    let mut env = job_env_at(e, conc, &host)?;
    let mut name = run_result_name(e, conc, &host.runner_name);
    if o.repeats > 1 {
        name = format!("{name}_r{repeat}");
        env.insert("RESULT_FILENAME".into(), name.clone());
    }
    let (model, ..) = common(e);
    let seq = match e {
        MatrixEntry::Single(s) => (s.isl, s.osl),
        MatrixEntry::Multi(m) => (m.isl, m.osl),
    };
    let d = o.length_divisor.max(1);
    let mut n = o.prompts_per_conc.max(1) * conc as usize;
    if o.max_prompts > 0 {
        n = n.min(o.max_prompts.max(conc as usize));
    }
    let raw = o.out.join("raw").join(format!("{name}.json"));
    let spec = match e {
        MatrixEntry::Single(s) => s.spec_decoding,
        MatrixEntry::Multi(m) => m.spec_decoding,
    };
    // As the CI scripts (benchmark_lib.sh `run_benchmark`): text prompts of
    // a speculative-decoding entry go as chat messages.
    let chat = spec != crate::config::SpecDecoding::None && o.tokenizer.is_some();
    let mut opts = BenchOptions {
        backend: Backend::Vllm,
        base_url: server.url.clone(),
        endpoint: if chat {
            "/v1/chat/completions".into()
        } else {
            "/v1/completions".into()
        },
        chat,
        model: model.to_string(),
        served_model_name: None,
        tokenizer: o.tokenizer.clone(),
        prompt_token_ids: o.tokenizer.is_none(),
        dataset: DatasetSpec {
            num_prompts: n,
            input_len: (seq.0 / d).max(1),
            output_len: (seq.1 / d).max(1),
            range_ratio: 1.0,
            prefix_len: 0,
            seed: 0,
            prep: crate::bench::dataset::Prep::Auto,
        },
        max_concurrency: Some(conc as usize),
        request_rate: f64::INFINITY,
        burstiness: 1.0,
        num_warmups: 0,
        ignore_eos: true,
        metrics: Metric::ALL.to_vec(),
        percentiles: vec![50.0, 90.0, 99.0],
        goodput: Vec::new(),
        result_path: Some(raw.clone()),
        metadata: [
            o.scaled_down()
                .then(|| ("scaled_down".into(), "true".into())),
            (o.repeats > 1).then(|| ("repeat".into(), repeat.to_string())),
        ]
        .into_iter()
        .flatten()
        .collect(),
        progress: progress::Mode::Off,
        progress_every: Duration::from_secs(5),
        server_pid: Some(server.child.id()),
        request_timeout: o.request_timeout,
        max_failure_rate: 0.05,
        token_ids_hint: "leave out --tokenizer to send token ids",
    };
    if !o.scaled_down() {
        // Full scale: exactly the CI scripts' protocol (one source of truth).
        bench::protocol::SWEEP.apply(&mut opts, None, Some(n))?;
    }
    let out = bench::run(&opts)?;
    if let Some(why) = out.verdict(opts.max_failure_rate) {
        return Err(Error::Failed(why));
    }
    process::run(Some(&raw), &o.out.join("processed"), &env)?;
    Ok(format!(
        "{:.1} tok/s total, TTFT {:.1} ms, TPOT {:.2} ms",
        out.metrics.total_token_throughput,
        out.metrics
            .dists
            .iter()
            .find(|(m, _)| *m == Metric::Ttft)
            .map_or(0.0, |(_, d)| d.median),
        out.metrics
            .dists
            .iter()
            .find(|(m, _)| *m == Metric::Tpot)
            .map_or(0.0, |(_, d)| d.median),
    ))
}

fn label(e: &MatrixEntry) -> String {
    match e {
        MatrixEntry::Single(s) => format!(
            "{} {} {} {} tp{} ep{}",
            s.exp_name, s.runner, s.framework, s.precision, s.tp, s.ep
        ),
        MatrixEntry::Multi(m) => format!(
            "{} {} {} {} p{}x{} d{}x{}",
            m.exp_name,
            m.runner,
            m.framework,
            m.precision,
            m.prefill.num_worker,
            m.prefill.tp,
            m.decode.num_worker,
            m.decode.tp
        ),
    }
}

/// Runs every entry; returns (succeeded, failed) benchmark counts.
pub(crate) fn run(o: &RunOptions, entries: Vec<MatrixEntry>) -> Result<(usize, usize)> {
    for d in ["logs", "raw", "processed"] {
        std::fs::create_dir_all(o.out.join(d))
            .map_err(|e| Error::env(format!("cannot create {}: {e}", o.out.join(d).display())))?;
    }
    let groups = group(entries);
    let total: usize = groups
        .iter()
        .map(|g| {
            g.iter()
                .map(|e| match e {
                    MatrixEntry::Single(_) => 1,
                    MatrixEntry::Multi(m) => m.conc.len(),
                })
                .sum::<usize>()
        })
        .sum::<usize>()
        * o.repeats.max(1) as usize;
    if o.scaled_down() {
        let clock = if o.engine == Engine::Sim {
            format!(", simulated engine clock x{}", o.sim_speedup)
        } else {
            String::new()
        };
        eprintln!(
            "infmax run: SCALED DOWN for a quick local run (lengths / {}, at most {} prompts per benchmark{clock}): these numbers are not measurements",
            o.length_divisor, o.max_prompts
        );
    }
    eprintln!(
        "infmax run: {total} benchmarks on {} server configurations, {} at a time -> {}",
        groups.len(),
        o.jobs,
        o.out.display()
    );
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let lock = Mutex::new(());
    std::thread::scope(|scope| {
        for _ in 0..o.jobs.max(1) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(g) = groups.get(i) else { return };
                    let first = &g[0];
                    let gname = format!(
                        "server{:03}_{}",
                        i + 1,
                        result_name(first, &Host::new(first, None, None).runner_name)
                    );
                    let report = |msg: String, ok: bool| {
                        let _g = lock.lock();
                        let n = done.fetch_add(1, Ordering::SeqCst) + 1;
                        if !ok {
                            failed.fetch_add(1, Ordering::SeqCst);
                        }
                        // A failure quotes the server's log: sanitised.
                        eprint!(
                            "{}",
                            crate::diag::for_people(format!(
                                "[{n}/{total}] {} {msg}\n",
                                if ok { "ok  " } else { "FAIL" }
                            ))
                        );
                    };
                    let server = start_ready(o, first, &gname);
                    let concs: Vec<(&MatrixEntry, u32, u32)> = g
                        .iter()
                        .flat_map(|e| match e {
                            MatrixEntry::Single(s) => vec![(e, s.conc)],
                            MatrixEntry::Multi(m) => m.conc.iter().map(|c| (e, *c)).collect(),
                        })
                        .flat_map(|(e, c)| (1..=o.repeats.max(1)).map(move |r| (e, c, r)))
                        .collect();
                    match server {
                        Err(err) => {
                            for (e, c, _) in concs {
                                report(
                                    format!("{} conc {c}: server did not start: {err}", label(e)),
                                    false,
                                );
                            }
                        }
                        Ok(server) => {
                            for (e, c, r) in concs {
                                match bench_one(o, &server, e, c, r) {
                                    Ok(m) => report(format!("{} conc {c}: {m}", label(e)), true),
                                    Err(err) => report(
                                        format!(
                                            "{} conc {c}: {err} (server log: {})",
                                            label(e),
                                            server.log.display()
                                        ),
                                        false,
                                    ),
                                }
                            }
                        }
                    }
                }
            });
        }
    });
    let failed = failed.load(Ordering::SeqCst);
    Ok((total - failed, failed))
}

/// Collects, charts and summarises a finished run's folder: the tables,
/// and what the collection passed over (for warnings).
/// `comparison`: overlay charts for the report (see [`report::write`]).
pub(crate) fn finish(
    o: &RunOptions,
    comparison: &[(String, String)],
) -> Result<(String, Vec<crate::diag::Diagnostic>)> {
    let collect::Collected { results, skipped } = collect::gather(&o.out.join("processed"))?;
    let text = serde_json::to_string_pretty(&results).map_err(|e| Error::env(e.to_string()))?;
    crate::fsutil::atomic_write(&o.out.join("agg_bmk.json"), text.as_bytes())
        .map_err(|e| Error::env(e.to_string()))?;
    let mut tables = String::new();
    if o.scaled_down() {
        tables.push_str("> **Scaled-down local run** (shorter prompts and fewer requests");
        tables.push_str(if o.engine == Engine::Sim {
            ", simulated engine with a faster clock"
        } else {
            ""
        });
        tables.push_str("): not a measurement.\n\n");
    }
    tables.push_str(&collect::tables(&results));
    crate::fsutil::atomic_write(&o.out.join("summary.md"), tables.as_bytes())
        .map_err(|e| Error::env(e.to_string()))?;
    let notice = o.scaled_down().then_some("Scaled-down local run (shorter prompts, fewer requests): these numbers are not measurements.");
    report::write(&results, &o.out.join("report"), notice, comparison)?;
    Ok((tables, skipped))
}

#[cfg(test)]
mod tests {
    /// On Linux the port is below the ephemeral range (outgoing connections
    /// cannot take it before the server binds it), and free.
    #[test]
    fn server_ports_come_from_below_the_ephemeral_range() {
        let low = super::ephemeral_start().unwrap_or(u16::MAX);
        for _ in 0..20 {
            let port = super::free_port().expect("a port");
            if low > 11_000 {
                assert!(
                    (10_000..low).contains(&port),
                    "{port} (ephemeral from {low})"
                );
            }
            std::net::TcpListener::bind(("127.0.0.1", port)).expect("free");
        }
    }
}
