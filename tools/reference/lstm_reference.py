#!/usr/bin/python3
"""A plain PyTorch byte LSTM language model: the baseline that `elmsim bench-text` trains next to an
ELM Network of the same parameter count, on the same bytes, for the same wall time.

Model: byte -> embedding (256 x E) -> one LSTM layer of H units -> linear readout to 256 logits. Its
parameter count is
    P(H) = 256 E  +  4 H (E + H) + 8 H  +  256 H + 256
(the embedding; the LSTM's input and recurrent weights of its four gates and PyTorch's two bias
vectors b_ih, b_hh; the readout). --params P picks the H whose P(H) is closest to P.

Data, exactly as elmsim's bytes task reads it (io/byte_stream.cpp, io/task_data.cpp):
  * split: train = bytes [0, floor(f0 n)), valid = the next floor(f1 n), test = the rest, where
    floor() counts a product within 1e-9 (relative) of an integer as that integer
    (models/time_grid.cpp grid_floor), so 0.9 x 1e8 gives exactly 9e7;
  * training: B streams; stream r reads segment r = [r s, (r + 1) s) of the train part, s = n_train // B.
    A step reads one window of W + 1 bytes from every stream (W inputs, W next-byte targets) at a
    common position p, then p += W; when p + W + 1 > s all streams go back to p = 0 together and the
    state starts from zero. Between windows the (detached) state is carried: truncated BPTT;
  * evaluation: the same layout over the test part with max(B, 16) streams, windows from p = 0 while
    p + W + 1 <= s (or the first K windows), the state carried across windows from a zero start.
The loss is the mean cross-entropy over all W x B predictions; bpc = loss / ln 2.

Optimiser: Adam (--lr, default 2e-3; betas 0.9, 0.999; eps 1e-8, as elmsim's), the gradient's global
norm clipped at --clip (default 1). Training stops after --seconds of wall time (checked after each
step, as elmsim's time limit is) or --max-steps steps.

Usage (Debian's /usr/bin/python3 with python3-torch; tools/install_bench_deps.sh installs it):
    lstm_reference.py --data FILE --params P [--embed 64] [--window 256] [--batch 32]
                      [--split 0.9,0.05,0.05] [--seconds S | --max-steps K] [--eval-bytes N]
                      [--gen-bytes 2000] [--lr 2e-3] [--clip 1] [--threads 2] [--seed 1] [--json OUT]
Prints one line; with --json, OUT holds one JSON object (see README.md in this folder). Bad input is
one line "lstm_reference.py: ..." and exit code 2.
"""

import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

LN2 = math.log(2.0)
EVAL_MIN_STREAMS = 16   # io/task_data.cpp make_eval_source: max(batch_size, 16) evaluation streams
CURVE_POINTS = 20       # about this many points of the training curve over --seconds
GEN_TEMPERATURE = 0.8   # `elmsim generate`'s default


class InputProblem(Exception):
    """Bad input: reported as one line, exit code 2."""


def lstm_params(embed, hidden):
    return 256 * embed + 4 * hidden * (embed + hidden) + 8 * hidden + 256 * hidden + 256


def hidden_for_params(target, embed):
    """The H >= 1 whose parameter count is closest to target (the smaller H on a tie)."""
    # Root of 4 H^2 + (4 E + 264) H + 256 E + 256 - target = 0, then its integer neighbours.
    b = 4 * embed + 264
    c = 256 * embed + 256 - target
    root = (-b + math.sqrt(max(b * b - 16 * c, 0.0))) / 8.0
    candidates = {max(1, int(math.floor(root)) + d) for d in (-1, 0, 1, 2)}
    return min(sorted(candidates), key=lambda h: abs(lstm_params(embed, h) - target))


def grid_floor(q):
    """floor(q), except that q within 1e-9 x max(1, q) of an integer is that integer (models/time_grid.cpp)."""
    r = float(round(q))
    return int(r) if abs(q - r) <= 1e-9 * max(1.0, q) else int(math.floor(q))


def split_sizes(n, fractions):
    """(train, valid, test) byte counts of a file of n bytes, as io/byte_stream.cpp splits it."""
    if len(fractions) != 3 or any(not math.isfinite(f) or f < 0 for f in fractions):
        raise InputProblem(f"--split: expected three numbers >= 0, got {fractions}")
    if abs(sum(fractions) - 1.0) > 1e-9:
        raise InputProblem(f"--split: expected fractions that sum to 1, got {sum(fractions)}")
    train = grid_floor(fractions[0] * float(n))
    valid = grid_floor(fractions[1] * float(n))
    return train, valid, n - train - valid


class ByteLSTM(torch.nn.Module):
    def __init__(self, embed, hidden):
        super().__init__()
        self.embedding = torch.nn.Embedding(256, embed)
        self.lstm = torch.nn.LSTM(embed, hidden)
        self.readout = torch.nn.Linear(hidden, 256)

    def forward(self, tokens, state):
        """tokens [T, B] (int64); state (h, c) each [1, B, H] or None. Returns logits [T, B, 256], state."""
        out, state = self.lstm(self.embedding(tokens), state)
        return self.readout(out), state


def windows_of(part, streams, window):
    """part viewed as [streams, segment] (the streams' segments), segment = len(part) // streams."""
    segment = part.numel() // streams
    if segment < window + 1:
        raise InputProblem(f"the split holds {part.numel()} bytes, too few for {streams} streams of one "
                           f"{window + 1}-byte window")
    return part[:streams * segment].view(streams, segment)


def window_at(streams_view, pos, window):
    """Inputs and targets [W, B] (int64) of the window at position pos of every stream."""
    w = streams_view[:, pos:pos + window + 1].t().long()
    return w[:-1], w[1:]


def detach(state):
    return None if state is None else tuple(s.detach() for s in state)


def train(model, data, a):
    view = windows_of(data, a.batch, a.window)
    segment = view.shape[1]
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8)
    curve_every = a.seconds / CURVE_POINTS if a.seconds > 0 else 0.0
    curve, pending = [], []
    state, pos, steps = None, 0, 0
    model.train()
    t0 = time.perf_counter()
    last_point = 0.0
    while True:
        elapsed = time.perf_counter() - t0
        if (a.max_steps > 0 and steps >= a.max_steps) or (a.seconds > 0 and elapsed >= a.seconds):
            break
        if pos + a.window + 1 > segment:  # all streams wrap together and start from a zero state
            pos = 0
        if pos == 0:
            state = None
        x, y = window_at(view, pos, a.window)
        pos += a.window
        logits, state = model(x, detach(state))
        loss = F.cross_entropy(logits.reshape(-1, 256), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if a.clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip)
        opt.step()
        steps += 1
        pending.append(loss.item() / LN2)
        now = time.perf_counter() - t0
        if now - last_point >= curve_every:
            curve.append([round(now, 3), steps, sum(pending) / len(pending)])
            pending, last_point = [], now
    seconds = time.perf_counter() - t0
    if pending:
        curve.append([round(seconds, 3), steps, sum(pending) / len(pending)])
    return steps, seconds, curve


@torch.no_grad()
def evaluate(model, data, a):
    streams = max(a.batch, EVAL_MIN_STREAMS)
    view = windows_of(data, streams, a.window)
    available = (view.shape[1] - 1) // a.window
    windows = available
    if a.eval_bytes > 0:
        windows = min(available, max(1, a.eval_bytes // (streams * a.window)))
    model.eval()
    state, loss_sum, count = None, 0.0, 0
    t0 = time.perf_counter()
    for k in range(windows):
        x, y = window_at(view, k * a.window, a.window)
        logits, state = model(x, state)
        loss_sum += F.cross_entropy(logits.reshape(-1, 256), y.reshape(-1), reduction="sum").item()
        count += y.numel()
    seconds = time.perf_counter() - t0
    return loss_sum / count / LN2, count, seconds


@torch.no_grad()
def generate(model, n, seed):
    """n bytes, one at a time from a zero state, each drawn from softmax(logits / 0.8) and fed back."""
    if n <= 0:
        return 0.0
    g = torch.Generator().manual_seed(seed)
    model.eval()
    byte = torch.tensor([[ord("\n")]], dtype=torch.long)
    state = None
    t0 = time.perf_counter()
    for _ in range(n):
        logits, state = model(byte, state)
        probs = torch.softmax(logits[0, 0] / GEN_TEMPERATURE, dim=0)
        byte = torch.multinomial(probs, 1, generator=g).view(1, 1)
    return n / (time.perf_counter() - t0)


def read_bytes(path):
    if not os.path.isfile(path):
        raise InputProblem(f"{path}: expected a regular file (the byte file)")
    with open(path, "rb") as f:
        raw = f.read()
    return torch.frombuffer(bytearray(raw), dtype=torch.uint8)


def parse_args(argv):
    p = argparse.ArgumentParser(description="PyTorch byte-LSTM baseline on elmsim's byte-task data layout")
    p.add_argument("--data", required=True, help="the byte file")
    p.add_argument("--params", type=int, required=True, help="target parameter count; H is chosen to match")
    p.add_argument("--embed", type=int, default=64, help="embedding width E (default 64)")
    p.add_argument("--window", type=int, default=256, help="truncated-BPTT window W in bytes (default 256)")
    p.add_argument("--batch", type=int, default=32, help="parallel streams B (default 32)")
    p.add_argument("--split", default="0.9,0.05,0.05", help="train,valid,test fractions (default 0.9,0.05,0.05)")
    p.add_argument("--seconds", type=float, default=0.0, help="wall-clock training budget (0 = none)")
    p.add_argument("--max-steps", type=int, default=0, help="optimizer steps at most (0 = no limit)")
    p.add_argument("--eval-bytes", type=int, default=0,
                   help="test bytes to score, rounded down to whole windows of max(B, 16) x W bytes, at least "
                        "one (default 0 = the whole test part)")
    p.add_argument("--gen-bytes", type=int, default=2000, help="bytes to generate for the speed measure (0 = skip)")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (default 2e-3)")
    p.add_argument("--clip", type=float, default=1.0, help="gradient-norm clip (0 = off; default 1)")
    p.add_argument("--threads", type=int, default=2, help="torch intra-op and inter-op threads (default 2)")
    p.add_argument("--seed", type=int, default=1, help="initialisation and sampling seed (default 1)")
    p.add_argument("--json", default="", help="also write the results as one JSON object to this file")
    return p.parse_args(argv)


def check_args(a):
    def need(ok, flag, expected, got):
        if not ok:
            raise InputProblem(f"{flag}: expected {expected}, got {got}")

    need(a.params >= 1, "--params", ">= 1", a.params)
    need(1 <= a.embed <= 65536, "--embed", "1 to 65536", a.embed)
    need(1 <= a.window <= 1_000_000, "--window", "1 to 1000000", a.window)
    need(1 <= a.batch <= 65536, "--batch", "1 to 65536", a.batch)
    need(math.isfinite(a.seconds) and a.seconds >= 0, "--seconds", "a number >= 0", a.seconds)
    need(a.max_steps >= 0, "--max-steps", ">= 0", a.max_steps)
    need(a.seconds > 0 or a.max_steps > 0, "--seconds / --max-steps", "one of them > 0", "neither")
    need(a.eval_bytes >= 0, "--eval-bytes", ">= 0", a.eval_bytes)
    need(a.gen_bytes >= 0, "--gen-bytes", ">= 0", a.gen_bytes)
    need(math.isfinite(a.lr) and a.lr > 0, "--lr", "a number > 0", a.lr)
    need(math.isfinite(a.clip) and a.clip >= 0, "--clip", "a number >= 0", a.clip)
    need(1 <= a.threads <= 1024, "--threads", "1 to 1024", a.threads)
    try:
        a.fractions = [float(f) for f in a.split.split(",")]
    except ValueError:
        raise InputProblem(f"--split: expected three comma-separated numbers, got \"{a.split}\"") from None


def main(argv=None):
    a = parse_args(argv)
    check_args(a)
    # Both before any parallel work: torch refuses to change the inter-op pool once it has been used.
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(a.threads)
    data = read_bytes(a.data)
    n_train, n_valid, n_test = split_sizes(data.numel(), a.fractions)
    for name, size, f in zip(("train", "valid", "test"), (n_train, n_valid, n_test), a.fractions):
        if f > 0 and size < 2:  # io/byte_stream.hpp: min_split_bytes
            raise InputProblem(f"{a.data}: {name} split: expected at least 2 bytes, found {size}")
    train_part = data[:n_train]
    test_part = data[n_train + n_valid:]

    hidden = hidden_for_params(a.params, a.embed)
    torch.manual_seed(a.seed)
    model = ByteLSTM(a.embed, hidden)
    params = sum(p.numel() for p in model.parameters())
    assert params == lstm_params(a.embed, hidden)

    # Both layouts are checked before any training, so a file too small fails at once.
    windows_of(train_part, a.batch, a.window)
    windows_of(test_part, max(a.batch, EVAL_MIN_STREAMS), a.window)
    steps, train_seconds, curve = train(model, train_part, a)
    test_bpc, eval_bytes, eval_seconds = evaluate(model, test_part, a)
    gen_rate = generate(model, a.gen_bytes, a.seed)

    bytes_per_step = a.batch * a.window
    result = {
        "params": params, "target_params": a.params, "embed": a.embed, "hidden": hidden, "window": a.window,
        "batch": a.batch, "threads": a.threads, "lr": a.lr, "clip": a.clip, "seed": a.seed,
        "split_bytes": [n_train, n_valid, n_test], "steps": steps, "train_seconds": train_seconds,
        "train_bytes_per_s": steps * bytes_per_step / train_seconds if train_seconds > 0 else 0.0,
        "eval_bytes": eval_bytes, "eval_seconds": eval_seconds,
        "eval_bytes_per_s": eval_bytes / eval_seconds if eval_seconds > 0 else 0.0,
        "gen_bytes": a.gen_bytes, "gen_bytes_per_s": gen_rate, "test_bpc": test_bpc, "bpc_curve": curve,
        "torch": torch.__version__,
    }
    print(f"lstm_reference: E {a.embed} H {hidden} params {params} (target {a.params}) | {steps} steps in "
          f"{train_seconds:.1f} s, {result['train_bytes_per_s']:.0f} train bytes/s | test bpc {test_bpc:.4f} over "
          f"{eval_bytes} bytes, {result['eval_bytes_per_s']:.0f} eval bytes/s | generation {gen_rate:.0f} bytes/s "
          f"| torch {torch.__version__}, {a.threads} threads")
    if a.json:
        tmp = a.json + ".tmp"
        with open(tmp, "w") as f:
            f.write(json.dumps(result) + "\n")
        os.replace(tmp, a.json)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except InputProblem as e:
        print(f"lstm_reference.py: {e}", file=sys.stderr)
        sys.exit(2)
    except OSError as e:
        print(f"lstm_reference.py: {e.filename or ''}: {e.strerror}", file=sys.stderr)
        sys.exit(2)
