"""What driving the engine from Python costs: training with a Python callback at every step against
`elmsim train`, and a live Session fed from Python against `elmsim simulate` on the same samples.

    PYTHONPATH=build/release/python /usr/bin/python3 tools/bench/python_overhead.py [--rounds 3]

Uses the demo's model shape (configs/demo_shd_adding.toml) on generated data in a scratch folder;
each round runs the command line and Python back to back, so both see the same machine. Prints one
Markdown table (docs/benchmarks.md, "Python").
"""

import argparse
import json
import os
import re
import subprocess
import tempfile
import time

import numpy as np

import elmsim

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def config(data, steps, threads):
    text = open(os.path.join(ROOT, "configs", "demo_shd_adding.toml")).read()
    text = text.replace('"../data/demo/shd_train.h5"', f'"{data}/train.h5"')
    text = text.replace('"../data/demo/shd_test.h5"', f'"{data}/test.h5"')
    text = re.sub(r"^max_steps = \d+", f"max_steps = {steps}", text, flags=re.M)
    text = re.sub(r"^eval_every = \d+", "eval_every = 0", text, flags=re.M)
    text = re.sub(r"^checkpoint_every = \d+", "checkpoint_every = 0", text, flags=re.M)
    text = re.sub(r"^adding_test_pairs = \d+", "adding_test_pairs = 100", text, flags=re.M)
    return text + f"threads = {threads}\n"


def loop_rate(metrics):
    """Steps per second of the training loop: the metrics log's last training line."""
    rows = [json.loads(line) for line in open(metrics)]
    return [r for r in rows if r["kind"] == "train"][-1]["steps_per_s"]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--binary", default=os.path.join(ROOT, "build", "release", "elmsim"))
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--samples", type=int, default=100, help="test samples streamed through the session")
    a = p.parse_args()
    work = tempfile.mkdtemp(prefix="elmsim_python_bench_")
    run = lambda *args: subprocess.run([a.binary, *map(str, args)], check=True, capture_output=True, text=True)
    run("gen-shd", "--out", f"{work}/train.h5", "--samples", 400, "--seed", 1)
    run("gen-shd", "--out", f"{work}/test.h5", "--samples", a.samples, "--seed", 2)
    cfg_path = f"{work}/bench.toml"
    open(cfg_path, "w").write(config(work, a.steps, a.threads))
    # The streams: the same network shape on single SHD samples (1 s each), untrained (the work per
    # update does not depend on the weights).
    shd_text = re.sub(r"^adding_test_pairs = \d+\n", "", config(work, a.steps, 1), flags=re.M)
    open(f"{work}/shd.toml", "w").write(shd_text.replace('kind = "shd-adding"', 'kind = "shd"'))
    run("init", "--config", f"{work}/shd.toml", "--out", f"{work}/stream.h5")

    print(f"# elmsim from Python vs the command line: {a.steps} training steps of the demo model "
          f"({a.threads} threads), {a.samples} samples streamed; {a.rounds} rounds")
    print("| round | `elmsim train` s/step | Python + callback s/step | ratio | `simulate --mode event --batch 1` events/s "
          "| Python Session events/s | ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    walls = []
    samples, labels, _ = elmsim.read_spike_dataset(f"{work}/test.h5")
    events = sum(len(t) for t, _ in samples)
    for r in range(1, a.rounds + 1):
        # Seconds per step of the training loop alone (the metrics log's steps/s over the run: no
        # start-up, data loading or final evaluation), and of the whole call.
        t0 = time.perf_counter()
        run("train", "--config", cfg_path, "--out", f"{work}/cli.h5", "--quiet")
        cli_wall = time.perf_counter() - t0
        cli_step = 1.0 / loop_rate(f"{work}/cli.metrics.jsonl")
        seen = []
        t0 = time.perf_counter()
        elmsim.train(cfg_path, out=f"{work}/py.h5", on_step=lambda s: seen.append(s["loss"]))
        py_wall = time.perf_counter() - t0
        py_step = 1.0 / loop_rate(f"{work}/py.metrics.jsonl")
        assert len(seen) == a.steps
        walls.append(py_wall / cli_wall)

        # One stream at a time on both sides: the same samples, the same event grid (1 ms, max_dt 20 ms).
        t0 = time.perf_counter()
        run("simulate", "--model", f"{work}/stream.h5", "--data", f"{work}/test.h5", "--mode", "event",
            "--resolution-ms", 1.0, "--max-dt-ms", 20.0, "--batch", 1, "--threads", 1, "--trace", f"{work}/t.h5",
            "--record", "logits", "--final-logits")
        cli_rate = events / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        with elmsim.Session(f"{work}/stream.h5", mode="event", resolution_ms=1.0, max_dt_ms=20.0, threads=1) as s:
            for times, channels in samples:
                for start in range(0, 1000, 50):  # 50 ms chunks, as a live source sends them
                    chunk = (times >= start) & (times < start + 50)
                    s.push_events(times[chunk], channels[chunk])
                    s.advance_to(float(start))
                s.finish(1000.0)
                s.prediction
                s.reset()
        py_rate = events / (time.perf_counter() - t0)
        print(f"| {r} | {cli_step:.5f} | {py_step:.5f} | {py_step / cli_step:.3f} | {cli_rate:,.0f} | "
              f"{py_rate:,.0f} | {py_rate / cli_rate:.2f} |", flush=True)
    print(f"\nwhole calls (start-up, data, training, final evaluation): Python / command line = "
          + ", ".join(f"{w:.3f}" for w in walls))


if __name__ == "__main__":
    main()
