#!/usr/bin/python3
"""Independent PyTorch reference of the ELM Network, written from the spec (elm-network.md sections 2, 3,
6, 7), not from elmsim's C++: the cross-check for elmsim's forward and backward passes, and the PyTorch
speed baseline of the benchmark.

Per step t, all neurons at once. State is [N, features, B] (neuron axis first, batch last), so every
per-neuron map — branch sums, the MLP layers, the readout wy — is one batched matmul with the weights
in their checkpoint layout [N, out, in] and no transposes:
    z    = [x_t ; y_{t-1}][src]                                      one gather over the source pool
    b_t  = kappa_b b_{t-1} + branch_sum(w_syn z)                     (n_b)
    u    = [b_t, kappa_m m_{t-1}];  h = phi(W1 u + b1), l layers;  dm = 1.7159 tanh(2/3 (W2 h + b2))
    m_t  = kappa_m m_{t-1} + (1 - kappa_l) dm;  v_t = wy . m_t + c;  y_t = v_t | H(v_t - theta)
           (memory gain "rate", dt != dt_ms: 1 - kappa_l = (1 - kappa_m) G,
            G = (1 - kappa_l) / (1 - kappa_m) of a dt_ms step)
    LIF (section 6): v_t = kappa_v v_{t-1} (1 - s_{t-1}) + w_syn . z;  y_t = s_t = H(v_t - 1)
    logits_t = W_o y_t + b_o
Spikes use H(0) = 0 forward and the surrogate 1 / (1 + beta |v - theta|)^2 backward; the LIF reset
stays in the graph. Decays come from each step's dt, so variable dt works.

Usage (Debian's /usr/bin/python3 with python3-torch; tools/install_bench_deps.sh installs it):
    elm_reference.py --model M.h5 --batch BATCH.h5 --out OUT.h5 [--loss last|mean_last_k|next_byte]
                     [--last-k K] [--double] [--threads K]
    elm_reference.py --bench --model M.h5 --steps-T T --batch B [--threads K] [--repeats R] [--double]
See README.md in this folder for the file layouts.
"""

import argparse
import json
import math
import resource
import statistics
import sys
import time
from typing import NamedTuple

import torch
import torch.nn.functional as F

from elm_files import ReferenceInputError, read_batch, read_checkpoint, write_results

LOSSES = ("last", "mean_last_k", "next_byte")
DM_SCALE = 1.7159       # dm = 1.7159 tanh(2/3 a): LeCun's scaled tanh, |dm| <= 1.7159 (spec section 2)
DM_SLOPE = 2.0 / 3.0


class SpikeFn(torch.autograd.Function):
    """H(x) with H(0) = 0 forward; surrogate dH/dx = 1 / (1 + beta |x|)^2 backward."""

    @staticmethod
    def forward(ctx, x, beta):
        ctx.save_for_backward(x)
        ctx.beta = beta
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad / (1.0 + ctx.beta * x.abs()).square(), None


class State(NamedTuple):
    """Carried state, batch last: b [N, n_b, B], m [N, d_m, B] (ELM only; empty for LIF), v [N, B], y [N, B]."""
    b: torch.Tensor
    m: torch.Tensor
    v: torch.Tensor
    y: torch.Tensor


class ElmNetwork(torch.nn.Module):
    """The ELM Network of one checkpoint. Parameters carry the checkpoint's tensor names."""

    def __init__(self, ckpt, dtype=torch.float32, device="cpu"):
        super().__init__()
        s = self.spec = ckpt.spec
        trainable = set(s.trainable_names())
        # Flat source table: one index_select over the pool [C + N, B] gathers every synapse's input.
        self.register_buffer("src", torch.as_tensor(ckpt.src.reshape(-1), dtype=torch.long, device=device))
        for name, array in ckpt.tensors.items():
            t = torch.as_tensor(array, device=device).to(dtype)
            if name in trainable:
                self.register_parameter(name, torch.nn.Parameter(t))
            else:
                self.register_buffer(name, t)

    @classmethod
    def from_checkpoint(cls, path, dtype=torch.float32, device="cpu"):
        return cls(read_checkpoint(path), dtype=dtype, device=device)

    def trainable_tensors(self):
        """name -> parameter, in checkpoint order."""
        return {name: getattr(self, name) for name in self.spec.trainable_names()}

    def tau_m(self):
        s = self.spec
        return s.tau_min_ms + (s.tau_max_ms - s.tau_min_ms) * torch.sigmoid(self.tau_m_raw)

    def decays(self, dt):
        """(kappa_b, kappa_m [N, d_m], kappa_l [N, d_m], kappa_v, kappa_u [N, d_m]) for a step of dt ms;
        kappa_u m_{t-1} is the memory half of the MLP input."""
        s = self.spec
        if s.is_lif:
            return None, None, None, math.exp(-dt / s.tau_v_ms), None
        tau = self.tau_m()
        kappa_m = torch.exp(-dt / tau)
        kappa_l = torch.exp(-dt * s.lam / tau)
        if s.memory_gain == "rate" and dt != s.dt_ms:
            # dm held as a rate: 1 - kappa_l = (1 - kappa_m) G, G the clock step's steady-state gain
            gain = (1 - torch.exp(-s.dt_ms * s.lam / tau)) / (1 - torch.exp(-s.dt_ms / tau))
            kappa_l = 1 - (1 - kappa_m) * gain
        # memory input "clock_decay": the MLP reads the memory with the clock step's decay on every schedule
        kappa_u = torch.exp(-s.dt_ms / tau) if s.memory_input == "clock_decay" and dt != s.dt_ms else kappa_m
        return math.exp(-dt / s.tau_b_ms), kappa_m, kappa_l, None, kappa_u

    def drive_gain(self, dt):
        """Factor on analog neuron outputs as presynaptic values for an update of dt ms (spec section 5):
        under the rate rule g(dt) = (1 - kappa_b(dt)) / (1 - kappa_b(dt_ms)), 1 on the clock step and for
        events (inputs, spike and LIF outputs)."""
        s = self.spec
        if s.output_mode != "analog" or s.drive != "rate" or dt == s.dt_ms:
            return 1.0
        return (1 - math.exp(-dt / s.tau_b_ms)) / (1 - math.exp(-s.dt_ms / s.tau_b_ms))

    def zero_state(self, batch):
        s, p = self.spec, self.w_syn
        def zeros(*shape):
            return torch.zeros(*shape, dtype=p.dtype, device=p.device)
        if s.is_lif:
            return State(zeros(0), zeros(0), zeros(s.N, batch), zeros(s.N, batch))
        return State(zeros(s.N, s.n_b, batch), zeros(s.N, s.d_m, batch), zeros(s.N, batch), zeros(s.N, batch))

    def model_input(self, inputs):
        """x [T, B, C] as the neurons see it: embedding rows for byte tokens [T, B] when C_e > 0."""
        if self.spec.C_e > 0:
            if inputs.dim() != 2:
                raise ReferenceInputError(f"inputs: expected tokens [T, B] for an embedding model, found "
                                          f"{list(inputs.shape)}")
            return self.embedding[inputs.long()]
        if inputs.dim() != 3 or inputs.shape[2] != self.spec.C:
            raise ReferenceInputError(f"inputs: expected x [T, B, {self.spec.C}], found {list(inputs.shape)}")
        return inputs.to(self.w_syn.dtype)

    def _phi(self, a):
        return F.silu(a) if self.spec.phi == "silu" else torch.relu(a)

    def branch_weights(self):
        """w_syn as a block-diagonal map [N, n_b, k_c]: synapse k of a row feeds branch k // (k_c / n_b)
        (spec section 2), so the branch sums of all neurons are one batched matmul."""
        s = self.spec
        if s.is_lif:
            return self.w_syn.unsqueeze(1)                            # [N, 1, k_c]: one "branch"
        branch = torch.arange(s.k_c, device=self.w_syn.device) // (s.k_c // s.n_b)
        mask = (branch.unsqueeze(0) == torch.arange(s.n_b, device=branch.device).unsqueeze(1))
        return self.w_syn.unsqueeze(1) * mask.to(self.w_syn.dtype)

    def _elm_step(self, z, st, dec, w_branch):
        s = self.spec
        kb, km, kl, _, ku = dec
        b = kb * st.b + torch.bmm(w_branch, z)                        # [N, n_b, B]
        m_decayed = km.unsqueeze(2) * st.m                            # [N, d_m, B]
        m_read = ku.unsqueeze(2) * st.m                               # the MLP's memory input
        h = self._phi(torch.baddbmm(self.b1.unsqueeze(2), self.W1, torch.cat((b, m_read), dim=1)))
        for layer in range(s.l - 1):
            h = self._phi(torch.baddbmm(self.bh[:, layer].unsqueeze(2), self.Wh[:, layer], h))
        dm = DM_SCALE * torch.tanh(DM_SLOPE * torch.baddbmm(self.b2.unsqueeze(2), self.W2, h))
        m = m_decayed + (1.0 - kl).unsqueeze(2) * dm
        v = torch.bmm(self.wy.unsqueeze(1), m).squeeze(1) + self.c.unsqueeze(1)   # [N, B]
        y = SpikeFn.apply(v - s.theta, s.beta) if s.output_mode == "spike" else v
        return State(b, m, v, y)

    def _lif_step(self, z, st, dec, w_branch):
        s = self.spec
        current = torch.bmm(w_branch, z).squeeze(1)                   # [N, B]
        v = dec[3] * st.v * (1.0 - st.y) + current                    # reset kept in the graph
        return State(st.b, st.m, v, SpikeFn.apply(v - 1.0, s.beta))

    def forward(self, inputs, state=None, dt=None, logit_steps=None):
        """inputs: x [T, B, C] or byte tokens [T, B] (C_e > 0). dt: None (the model's dt_ms), a number,
        or T numbers (one per step). logit_steps: readout on the last K steps only (None = all T).
        Returns y [T, N, B], logits [K, B, n_out], final State."""
        x = self.model_input(inputs)
        T, batch = x.shape[0], x.shape[1]
        N, k_c = self.spec.N, self.spec.k_c
        x_cb = x.permute(0, 2, 1).contiguous()                        # [T, C, B]: rows of the pool
        st = self.zero_state(batch) if state is None else state
        if torch.is_tensor(dt) and dt.dim() == 0:
            dt = dt.item()
        per_step_dt = dt is not None and not isinstance(dt, (int, float))
        if per_step_dt and len(dt) != T:
            raise ReferenceInputError(f"dt: expected {T} step lengths, found {len(dt)}")
        dec = None if per_step_dt else self.decays(self.spec.dt_ms if dt is None else float(dt))
        step = self._lif_step if self.spec.is_lif else self._elm_step
        w_branch = self.branch_weights()
        ys = []
        gain = self.drive_gain(self.spec.dt_ms if dt is None or per_step_dt else float(dt))
        for t in range(T):
            if per_step_dt:
                dec = self.decays(float(dt[t]))
                gain = self.drive_gain(float(dt[t]))
            z = torch.cat((x_cb[t], gain * st.y), dim=0).index_select(0, self.src).view(N, k_c, batch)
            st = step(z, st, dec, w_branch)
            ys.append(st.y)
        y = torch.stack(ys)                                           # [T, N, B]
        k = T if logit_steps is None else logit_steps
        if not 1 <= k <= T:
            raise ReferenceInputError(f"logit_steps: expected 1..{T}, found {k}")
        logits = torch.matmul(y[T - k:].transpose(1, 2), self.W_o.t()) + self.b_o
        return y, logits, st


def loss_steps(loss, T, last_k):
    """Trailing steps the loss reads: last 1, mean_last_k min(T, K), next_byte T."""
    return {"last": 1, "mean_last_k": min(T, last_k), "next_byte": T}[loss]


def cross_entropy_loss(logits, targets, loss):
    """Mean CE over every (step, sample) term of the loss steps. logits [steps, B, n_out];
    targets [B] (last, mean_last_k: the same class at each step) or [steps * B] time-major (next_byte)."""
    steps, batch, n_out = logits.shape
    tgt = targets.view(steps, batch) if loss == "next_byte" else targets.view(1, batch).expand(steps, batch)
    return F.cross_entropy(logits.reshape(-1, n_out), tgt.reshape(-1))


def run_batch(model_path, batch_path, loss="last", last_k=1, dtype=torch.float64):
    """Forward + loss + backward on one batch file. Returns (loss, logits, grads by name, y)."""
    net = ElmNetwork.from_checkpoint(model_path, dtype=dtype)
    data = read_batch(batch_path, net.spec, loss)
    inputs = torch.from_numpy(data.tokens if data.tokens is not None else data.x)
    T = inputs.shape[0]
    dt = None if data.dt is None else [float(v) for v in data.dt]
    y, logits, _ = net(inputs, dt=dt, logit_steps=loss_steps(loss, T, last_k))
    value = cross_entropy_loss(logits, torch.from_numpy(data.targets), loss)
    value.backward()
    grads = {}
    for name, p in net.trainable_tensors().items():
        g = p.grad if p.grad is not None else torch.zeros_like(p)
        grads[name] = g.detach().numpy()
    return value.item(), logits.detach().numpy(), grads, y.detach().numpy()


def _median_ms(fn, repeats, warmup, sync):
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def bench(model_path, T, B, threads=1, repeats=5, warmup=1, loss="last", last_k=1, dtype=torch.float32,
          lr=5e-3, seed=0, device="cpu", event_rate=0.05):
    """Median wall time of one training step (forward, loss, backward, Adamax step) and of one inference
    forward (torch.no_grad) on random input: event counts with P(event) = event_rate per channel and
    step, or random bytes for embedding models. peak_rss_mb is the process's peak resident set
    (ru_maxrss, includes the interpreter and torch itself). No input dropout."""
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    net = ElmNetwork.from_checkpoint(model_path, dtype=dtype, device=device)
    s = net.spec
    if s.C_e > 0:
        inputs = torch.randint(0, 256, (T, B), device=device)
    else:
        inputs = (torch.rand(T, B, s.C, device=device) < event_rate).to(dtype)
    n_targets = T * B if loss == "next_byte" else B
    targets = torch.randint(0, s.n_out, (n_targets,), device=device)
    k = loss_steps(loss, T, last_k)
    opt = torch.optim.Adamax(net.parameters(), lr=lr)

    def train_step():
        opt.zero_grad(set_to_none=True)
        _, logits, _ = net(inputs, logit_steps=k)
        cross_entropy_loss(logits, targets, loss).backward()
        opt.step()

    def infer():
        with torch.no_grad():
            net(inputs, logit_steps=k)

    sync = torch.cuda.synchronize if str(device).startswith("cuda") else (lambda: None)
    infer_ms = _median_ms(infer, repeats, warmup, sync)
    train_ms = _median_ms(train_step, repeats, warmup, sync)
    return {
        "train_ms": train_ms, "infer_ms": infer_ms,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "T": T, "B": B, "threads": threads, "repeats": repeats, "N": s.N, "k_c": s.k_c, "d_m": s.d_m,
        "output_mode": s.output_mode, "params": sum(p.numel() for p in net.parameters()),
        "dtype": str(dtype).replace("torch.", ""), "device": str(device), "torch": torch.__version__,
    }


def _parse_args(argv):
    p = argparse.ArgumentParser(description="PyTorch reference of the ELM Network (elmsim cross-check and "
                                            "speed baseline).")
    p.add_argument("--model", required=True, help="elmsim checkpoint (.h5)")
    p.add_argument("--batch", required=True, help="batch file (.h5); with --bench: the batch size B")
    p.add_argument("--out", help="result file (.h5), required without --bench")
    p.add_argument("--loss", choices=LOSSES, default="last")
    p.add_argument("--last-k", type=int, default=1, help="K for --loss mean_last_k")
    p.add_argument("--double", action="store_true", help="compute in float64 (default float32)")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    p.add_argument("--bench", action="store_true", help="time a training step and inference, print JSON")
    p.add_argument("--steps-T", type=int, default=100, help="--bench: time steps T of the random input")
    p.add_argument("--repeats", type=int, default=5, help="--bench: timed repeats (median reported)")
    p.add_argument("--warmup", type=int, default=1, help="--bench: untimed runs first")
    p.add_argument("--device", default="cpu", help="--bench: torch device (cpu, cuda)")
    p.add_argument("--seed", type=int, default=0, help="--bench: seed of the random input")
    return p.parse_args(argv)


def main(argv=None):
    a = _parse_args(argv)
    dtype = torch.float64 if a.double else torch.float32
    if a.last_k < 1:
        raise ReferenceInputError(f"--last-k: expected >= 1, found {a.last_k}")
    if a.threads < 1:
        raise ReferenceInputError(f"--threads: expected >= 1, found {a.threads}")
    if a.bench:
        try:
            B = int(a.batch)
        except ValueError:
            raise ReferenceInputError(f"--batch: with --bench expected the batch size (an integer), "
                                      f"found \"{a.batch}\"") from None
        if B < 1 or a.steps_T < 1 or a.repeats < 1 or a.warmup < 0:
            raise ReferenceInputError(f"--bench: expected --batch, --steps-T, --repeats >= 1 and --warmup >= 0, "
                                      f"found {B}, {a.steps_T}, {a.repeats}, {a.warmup}")
        result = bench(a.model, a.steps_T, B, threads=a.threads, repeats=a.repeats, warmup=a.warmup, loss=a.loss,
                       last_k=a.last_k, dtype=dtype, seed=a.seed, device=a.device)
        print(json.dumps(result))
        return 0
    if not a.out:
        raise ReferenceInputError("--out: required (where to write loss, logits, gradients and y)")
    torch.set_num_threads(a.threads)
    loss, logits, grads, y = run_batch(a.model, a.batch, a.loss, a.last_k, dtype)
    write_results(a.out, loss, logits, grads, y)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ReferenceInputError as e:
        print(f"elm_reference.py: {e}", file=sys.stderr)
        sys.exit(2)
