#!/usr/bin/env python3
"""Client fidelity and cost of `infmax bench serve` against `infmax sim`.

The simulator runs the fixed schedule (ground truth) pinned to CPU 0; the
client is pinned to CPU 1. For each concurrency C it reports: the client's
TTFT / ITL against what the server really sent (/sim/stats), delivered vs
ideal output throughput (C tokens per ITL), client CPU time per streamed
token, peak client RSS, and the concurrency actually reached.

With --floor, each C is also run with examples/stream_floor.rs (plain
sockets, no HTTP library or parsing) against a fresh simulator: its TTFT gap
and CPU per token are the floor on this machine.

Usage (from the repository root, after
`cargo build --release && cargo build --release --example stream_floor`):
    python3 benches/client_fidelity.py [--conc 64 512 2048] [--itl-ms 10] [--ttft-ms 20]
        [--input-len 1024] [--output-len 256] [--waves 2] [--floor] [--baseline BIN]

--baseline BIN also runs another build's `bench serve` (e.g. the previous
commit's, built in a git worktree) against a fresh simulator, so a change is
judged beside what it replaces in the same run.
"""
import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import urllib.request

BIN = os.path.join(os.path.dirname(__file__), "..", "target", "release", "infmax")
# The least a client can do (examples/stream_floor.rs): what the kernel and
# the runtime cost on this machine, for comparison.
FLOOR = os.path.join(os.path.dirname(__file__), "..", "target", "release", "examples", "stream_floor")


def get(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read() or b"null")


@contextlib.contextmanager
def simulator(args):
    """A fresh simulator on CPU 0 with the fixed schedule; yields its URL."""
    proc = subprocess.Popen(
        ["taskset", "-c", "0", BIN, "sim", "--port", "0", "--workers", "1", "--served-model-name", "m",
         "--ttft-ms", str(args.ttft_ms), "--itl-ms", str(args.itl_ms), "--max-model-len", "1000000"],
        stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        yield line.split("listening on ")[1].split()[0]
    finally:
        proc.terminate()
        proc.wait()


def run_client(cmd):
    """Runs `cmd` on CPU 1; returns its stdout, CPU seconds and peak RSS in MB.

    The usage comes from wait4 on that one process (taskset execs the
    command), so neither the simulator nor an earlier client counts."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(["taskset", "-c", "1", *cmd], stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            print(err.read(), file=sys.stderr)
        return out.read(), usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0


def ideal_tok_s(conc, args):
    return conc * 1000.0 / args.itl_ms


def run(conc, args, client=BIN):
    with simulator(args) as url, tempfile.TemporaryDirectory() as d:
        _, cpu, rss = run_client(
            [client, "bench", "serve", "--model", "m", "--base-url", url,
             "--prompt-token-ids", "--random-input-len", str(args.input_len),
             "--random-output-len", str(args.output_len), "--num-prompts", str(conc * args.waves),
             "--max-concurrency", str(conc), "--ignore-eos", "--disable-tqdm",
             "--percentile-metrics", "ttft,tpot,itl,e2el", "--metric-percentiles", "50,99",
             "--save-result", "--result-dir", d, "--result-filename", "r.json"])
        with open(os.path.join(d, "r.json")) as f:
            r = json.load(f)
        truth = get(url + "/sim/stats")
    return {
        "conc": conc,
        "completed": r["completed"], "failed": r["failed"],
        "ttft_client_ms": r["mean_ttft_ms"], "ttft_true_ms": truth["ttft_ms"]["mean"],
        "itl_median_client_ms": r["median_itl_ms"], "itl_median_true_ms": truth["itl_ms"]["median"],
        "output_tok_s": r["output_throughput"],
        "pct_of_ideal": 100.0 * r["output_throughput"] / ideal_tok_s(conc, args),
        "client_cpu_us_per_token": 1e6 * cpu / max(r["total_output_tokens"], 1),
        "client_peak_rss_mb": rss,
        "conc_reached": r["max_concurrency_reached"],
        "server_lateness_p99_us": truth["lateness_us"]["p99"],
    }


def run_floor(conc, args):
    with simulator(args) as url:
        out, cpu, rss = run_client(
            [FLOOR, url.split("://")[1], str(conc), str(args.waves), str(args.input_len), str(args.output_len)])
        r = json.loads(out)
        truth = get(url + "/sim/stats")
    return {
        "ttft_client_ms": r["mean_ttft_ms"], "ttft_true_ms": truth["ttft_ms"]["mean"],
        "output_tok_s": r["tokens"] / r["wall_s"],
        "pct_of_ideal": 100.0 * r["tokens"] / r["wall_s"] / ideal_tok_s(conc, args),
        "client_cpu_us_per_token": 1e6 * cpu / max(r["tokens"], 1),
        "client_peak_rss_mb": rss,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conc", type=int, nargs="+", default=[64, 512, 2048])
    ap.add_argument("--ttft-ms", type=float, default=20)
    ap.add_argument("--itl-ms", type=float, default=10)
    ap.add_argument("--input-len", type=int, default=1024)
    ap.add_argument("--output-len", type=int, default=256)
    ap.add_argument("--waves", type=int, default=2)
    ap.add_argument("--floor", action="store_true", help="also run examples/stream_floor.rs")
    ap.add_argument("--baseline", metavar="BIN", help="also run this infmax build's bench serve")
    args = ap.parse_args()
    print(f"# ttft {args.ttft_ms} ms, itl {args.itl_ms} ms, {args.input_len} in / {args.output_len} out, {args.waves} waves")
    print("| C | TTFT client/true ms | ITL median client/true ms | tok/s (% of ideal) | client CPU us/token | peak RSS MB | conc reached | server p99 lateness us |")
    print("|---|---|---|---|---|---|---|---|")
    clients = [("", BIN)] + ([(" baseline", args.baseline)] if args.baseline else [])
    for c in args.conc:
        for label, client in clients:
            x = run(c, args, client)
            print(f"| {x['conc']}{label} | {x['ttft_client_ms']:.2f} / {x['ttft_true_ms']:.2f} | "
                  f"{x['itl_median_client_ms']:.3f} / {x['itl_median_true_ms']:.3f} | "
                  f"{x['output_tok_s']:.0f} ({x['pct_of_ideal']:.1f}%) | {x['client_cpu_us_per_token']:.2f} | "
                  f"{x['client_peak_rss_mb']:.0f} | {x['conc_reached']} | {x['server_lateness_p99_us']:.0f} |",
                  flush=True)
            if x["failed"]:
                print(f"  ({x['failed']} failed)")
        if args.floor:
            f = run_floor(c, args)
            print(f"| {c} floor | {f['ttft_client_ms']:.2f} / {f['ttft_true_ms']:.2f} | | "
                  f"{f['output_tok_s']:.0f} ({f['pct_of_ideal']:.1f}%) | "
                  f"{f['client_cpu_us_per_token']:.2f} | {f['client_peak_rss_mb']:.0f} | | |", flush=True)


if __name__ == "__main__":
    main()
