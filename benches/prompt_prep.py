#!/usr/bin/env python3
"""Prompt preparation of `infmax bench serve`: assembled vs encoded.

A 32k-entry byte-level BPE tokenizer (examples/bench_tokenizer.rs, trained
once into target/bench-tokenizer-32k/), the random dataset with 8192-token
inputs at range ratio 0.8 and 1024 prompts, against `infmax sim` (one
output token, no delays: the run after the preparation is short). Each
setting runs --runs times, alternating, and reports min/median/max of what
the result's `prompt_preparation` says: prompt tokens per CPU-second (every
thread) of the preparation, and of the preparation plus the measured phase
(`client_cost.cpu_seconds`: assembled text and every request body are made
as each request leaves, so that is where their cost shows), wall seconds,
and the client's peak RSS; plus mismatched prompts (`input_lens_fingerprint`),
which must be 0.

Settings: `auto` (assembled, checked on a sample) on every core and pinned
to one core (`taskset -c 1`), and `encode` (every prompt encoded and
corrected: the path before assembly, the baseline) on every core.

Usage (from the repository root):
    cargo build --release && cargo build --release --example bench_tokenizer
    python3 benches/prompt_prep.py [--runs 3] [--num-prompts 1024] [--input-len 8192]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
BIN = os.path.join(ROOT, "target", "release", "infmax")
MAKE_TOK = os.path.join(ROOT, "target", "release", "examples", "bench_tokenizer")
TOK_DIR = os.path.join(ROOT, "target", "bench-tokenizer-32k")


def tokenizer():
    path = os.path.join(TOK_DIR, "tokenizer.json")
    if not os.path.exists(path):
        subprocess.run([MAKE_TOK, TOK_DIR, "32000", "40000"], check=True, stdout=subprocess.DEVNULL)
    return path


def run(url_port, tok, prep, pin, args, out_dir, i):
    name = f"{prep}-{'pinned' if pin else 'all'}-{i}.json"
    cmd = [BIN, "bench", "serve", "--port", str(url_port), "--model", "m", "--tokenizer", tok,
           "--random-input-len", str(args.input_len), "--random-range-ratio", "0.8",
           "--random-output-len", "1", "--num-prompts", str(args.num_prompts),
           "--max-concurrency", "64", "--prompt-prep", prep, "--disable-tqdm",
           "--save-result", "--result-dir", out_dir, "--result-filename", name]
    if pin:
        cmd = ["taskset", "-c", "1", *cmd]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.path.join(out_dir, name)) as f:
        r = json.load(f)
    p = r["prompt_preparation"]
    fp = r["input_lens_fingerprint"]
    return {
        "method": p["method"],
        "mtok_per_cpu_s": p["prompt_tokens"] / max(p["cpu_seconds"], 1e-9) / 1e6,
        # Assembled text is made as each request leaves: its cost is in the
        # measured phase's client CPU, so this column counts both.
        "mtok_per_cpu_s_all": p["prompt_tokens"]
        / max(p["cpu_seconds"] + r["client_cost"]["cpu_seconds"], 1e-9) / 1e6,
        "seconds": p["seconds"],
        "threads": p["threads"],
        "rss_mb": r["client_cost"]["peak_rss_mb"],
        "mismatched": fp["mismatched_prompts"],
        "prompt_tokens": p["prompt_tokens"],
    }


def spread(xs, fmt):
    xs = sorted(xs)
    return f"{fmt.format(xs[0])} / {fmt.format(statistics.median(xs))} / {fmt.format(xs[-1])}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--num-prompts", type=int, default=1024)
    ap.add_argument("--input-len", type=int, default=8192)
    args = ap.parse_args()
    tok = tokenizer()
    sim = subprocess.Popen([BIN, "sim", "--port", "0", "--served-model-name", "m", "--ttft-ms", "0",
                            "--itl-ms", "0", "--max-model-len", "1000000"],
                           stderr=subprocess.PIPE, text=True)
    try:
        port = int(sim.stderr.readline().split("listening on ")[1].split()[0].rsplit(":", 1)[1])
        settings = [("auto", False), ("auto", True), ("encode", False)]
        got = {s: [] for s in settings}
        with tempfile.TemporaryDirectory() as out:
            for i in range(args.runs):
                for s in settings:
                    got[s].append(run(port, tok, s[0], s[1], args, out, i))
    finally:
        sim.terminate()
        sim.wait()
    print(f"{args.num_prompts} prompts of {args.input_len} tokens (range ratio 0.8), 32k byte-level BPE, "
          f"{args.runs} runs; min / median / max")
    print("| setting | method | threads | M prompt tokens per CPU-second: preparation | preparation + sending | "
          "preparation wall s | peak RSS MB | mismatched |")
    print("|---|---|---|---|---|---|---|---|")
    for (prep, pin), rs in got.items():
        print(f"| {prep}{' (1 core)' if pin else ''} | {rs[0]['method']} | {rs[0]['threads']} | "
              f"{spread([r['mtok_per_cpu_s'] for r in rs], '{:.2f}')} | "
              f"{spread([r['mtok_per_cpu_s_all'] for r in rs], '{:.2f}')} | {spread([r['seconds'] for r in rs], '{:.2f}')} | "
              f"{spread([r['rss_mb'] for r in rs], '{:.0f}')} | {max(r['mismatched'] for r in rs)} |")
    bad = [s for s, rs in got.items() if any(r["mismatched"] for r in rs)]
    if bad:
        print(f"mismatched prompts in {bad}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
