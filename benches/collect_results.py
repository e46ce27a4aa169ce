#!/usr/bin/env python3
"""Time `infmax collect results` over N processed results (one folder per
job, as artifacts arrive), end to end: walk, parse, aggregate, tables.

Usage (from the repository root, after `cargo build --release`):
    python3 benches/collect_results.py [N] [RUNS]
"""
import json, os, subprocess, sys, tempfile, time

n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
binary = os.path.join(os.path.dirname(__file__), "..", "target", "release", "infmax")
with tempfile.TemporaryDirectory() as d:
    for i in range(n):
        job = os.path.join(d, "art", f"job_{i}")
        os.makedirs(job)
        conc = 2 ** (i % 10)
        r = {"hw": ["b200", "h100", "mi355x", "gb200"][i % 4], "conc": conc, "image": "img", "model": f"org/model-{i % 7}",
             "infmax_model_prefix": ["dsr1", "gptoss"][i % 2], "framework": ["vllm", "sglang", "trt"][i % 3], "precision": "fp8",
             "spec_decoding": "none", "isl": 1024, "osl": 1024, "disagg": False, "is_multinode": False, "tp": 8, "ep": 1,
             "dp_attention": False, "tput_per_gpu": 1000.0 + i, "output_tput_per_gpu": 500.0, "input_tput_per_gpu": 500.0,
             "median_ttft": 0.1, "median_tpot": 0.02, "median_intvty": 50.0, "median_e2el": 20.0,
             "mean_ttft": 0.1, "p99_ttft": 0.3, "mean_tpot": 0.02, "p99_tpot": 0.03, "mean_intvty": 50.0, "p99_intvty": 33.3}
        with open(os.path.join(job, f"agg_r{i}.json"), "w") as f:
            json.dump(r, f)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([binary, "collect", "results", os.path.join(d, "art"), "--name", "bmk", "--out-dir", d],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    times.sort()
    print(f"collect results: {n} results, median {times[len(times) // 2] * 1e3:.1f} ms, best {times[0] * 1e3:.1f} ms over {runs} runs")
