"""File side of the PyTorch reference: read an elmsim model checkpoint and a batch file, write results.

Implements the reader of the "elm-network" checkpoint, format_version 1
(/work/shared/spec/files-and-cli.md, "Model checkpoint"), using h5py only, so the reference shares
no code with elmsim. Every problem is a ReferenceInputError with one line naming the file, the path
inside it and what was expected vs found.
"""

import os
from dataclasses import dataclass, field

import h5py
import numpy as np

CHECKPOINT_FORMAT = "elm-network"
CHECKPOINT_VERSION = 1
OUTPUT_MODES = ("analog", "spike", "lif")
PHIS = ("relu", "silu")


class ReferenceInputError(Exception):
    """Bad input (file, shape, attribute): the CLI prints the one-line message and exits with 2."""


@dataclass
class ModelSpec:
    """The /model attributes the forward pass needs (spec elm-network.md sections 2, 3, 6)."""
    N: int
    C: int          # model input width (C_e with an embedding)
    n_out: int
    d_m: int
    d_h: int
    n_b: int
    l: int
    k_c: int
    C_e: int
    output_mode: str
    phi: str
    dt_ms: float
    lam: float      # "lambda" in the file
    tau_b_ms: float
    tau_min_ms: float
    tau_max_ms: float
    theta: float
    beta: float
    learn_tau_m: bool
    tau_v_ms: float
    memory_gain: str = "lambda_decay"  # /model attribute "memory_gain"; absent in older files
    memory_input: str = "step_decay"   # /model attribute "memory_input"; absent in older files
    drive: str = "per_update"          # /model attribute "drive"; absent in older files

    @property
    def is_lif(self):
        return self.output_mode == "lif"

    def tensor_shapes(self):
        """Name -> shape of every tensor present under /model (besides src), in checkpoint order."""
        N, dm, dh = self.N, self.d_m, self.d_h
        shapes = {"w_syn": (N, self.k_c)}
        if not self.is_lif:
            shapes["tau_m_raw"] = (N, dm)
            shapes["W1"] = (N, dh, self.n_b + dm)
            shapes["b1"] = (N, dh)
            if self.l > 1:
                shapes["Wh"] = (N, self.l - 1, dh, dh)
                shapes["bh"] = (N, self.l - 1, dh)
            shapes["W2"] = (N, dm, dh)
            shapes["b2"] = (N, dm)
            shapes["wy"] = (N, dm)
            shapes["c"] = (N,)
        shapes["W_o"] = (self.n_out, N)
        shapes["b_o"] = (self.n_out,)
        if self.C_e > 0:
            shapes["embedding"] = (256, self.C_e)
        return shapes

    def trainable_names(self):
        """Tensors the trainer updates (tau_m_raw only when learn_tau_m), checkpoint order."""
        return [n for n in self.tensor_shapes() if n != "tau_m_raw" or self.learn_tau_m]


@dataclass
class Checkpoint:
    spec: ModelSpec
    src: np.ndarray                                # int64 [N, k_c]
    tensors: dict = field(default_factory=dict)    # name -> float32 ndarray
    config_text: str = ""


def _open(path):
    try:
        return h5py.File(path, "r")
    except (OSError, ValueError) as e:
        raise ReferenceInputError(f"{path}: cannot open as HDF5 ({e})") from None


def _attr(path, obj, name, kind):
    where = f"{path}: {obj.name}"
    if name not in obj.attrs:
        raise ReferenceInputError(f"{where}: missing attribute {name}")
    value = obj.attrs[name]
    if isinstance(value, np.ndarray):
        if value.size != 1:
            raise ReferenceInputError(f"{where}: attribute {name}: expected a scalar, found shape {value.shape}")
        value = value.reshape(())[()]
    if kind is str:
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        if not isinstance(value, str):
            raise ReferenceInputError(f"{where}: attribute {name}: expected a string, found {type(value).__name__}")
        return value
    if kind is int:
        if not isinstance(value, (int, np.integer)):
            raise ReferenceInputError(f"{where}: attribute {name}: expected an integer, found {value!r}")
        return int(value)
    if not isinstance(value, (int, float, np.integer, np.floating)) or not np.isfinite(value):
        raise ReferenceInputError(f"{where}: attribute {name}: expected a finite number, found {value!r}")
    return float(value)


def _dataset(path, f, name, shape, dtype):
    if name not in f or not isinstance(f[name], h5py.Dataset):
        raise ReferenceInputError(f"{path}: /{name.lstrip('/')}: missing dataset")
    ds = f[name]
    if tuple(ds.shape) != tuple(shape):
        raise ReferenceInputError(f"{path}: {ds.name}: expected shape {list(shape)}, found {list(ds.shape)}")
    if ds.dtype.kind not in "iuf":
        raise ReferenceInputError(f"{path}: {ds.name}: expected numbers, found dtype {ds.dtype}")
    return np.asarray(ds[()], dtype=dtype)


def read_checkpoint(path):
    """Model checkpoint -> Checkpoint (structure, connectivity, float32 tensors, config text)."""
    with _open(path) as f:
        fmt = _attr(path, f, "format", str)
        version = _attr(path, f, "format_version", int)
        if fmt != CHECKPOINT_FORMAT or version != CHECKPOINT_VERSION:
            raise ReferenceInputError(f"{path}: /: expected format \"{CHECKPOINT_FORMAT}\" version "
                                      f"{CHECKPOINT_VERSION}, found \"{fmt}\" version {version}")
        if "model" not in f or not isinstance(f["model"], h5py.Group):
            raise ReferenceInputError(f"{path}: /model: missing group")
        g = f["model"]
        ints = {k: _attr(path, g, k, int) for k in ("N", "C", "n_out", "d_m", "d_h", "n_b", "l", "k_c", "C_e")}
        floats = {k: _attr(path, g, k, float)
                  for k in ("dt_ms", "lambda", "tau_b_ms", "tau_min_ms", "tau_max_ms", "theta", "beta", "tau_v_ms")}
        spec = ModelSpec(**ints, output_mode=_attr(path, g, "output_mode", str), phi=_attr(path, g, "phi", str),
                         dt_ms=floats["dt_ms"], lam=floats["lambda"], tau_b_ms=floats["tau_b_ms"],
                         tau_min_ms=floats["tau_min_ms"], tau_max_ms=floats["tau_max_ms"], theta=floats["theta"],
                         beta=floats["beta"], learn_tau_m=_attr(path, g, "learn_tau_m", int) != 0,
                         tau_v_ms=floats["tau_v_ms"],
                         memory_gain=_attr(path, g, "memory_gain", str) if "memory_gain" in g.attrs
                         else "lambda_decay",
                         memory_input=_attr(path, g, "memory_input", str) if "memory_input" in g.attrs
                         else "step_decay",
                         drive=_attr(path, g, "drive", str) if "drive" in g.attrs else "per_update")
        _check_spec(path, spec)
        src = _dataset(path, f, "model/src", (spec.N, spec.k_c), np.int64)
        if src.size and (src.min() < 0 or src.max() >= spec.C + spec.N):
            raise ReferenceInputError(f"{path}: /model/src: expected indices in [0, {spec.C + spec.N}), "
                                      f"found [{src.min()}, {src.max()}]")
        tensors = {}
        for name, shape in spec.tensor_shapes().items():
            t = _dataset(path, f, f"model/{name}", shape, np.float32)
            if not np.all(np.isfinite(t)):
                raise ReferenceInputError(f"{path}: /model/{name}: expected finite values, found NaN or Inf")
            tensors[name] = t
        config_text = ""
        if "config" in f:
            raw = f["config"][()]
            config_text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
    return Checkpoint(spec=spec, src=src, tensors=tensors, config_text=config_text)


def _check_spec(path, s):
    where = f"{path}: /model"
    for name in ("N", "C", "n_out", "k_c"):
        if getattr(s, name) < 1:
            raise ReferenceInputError(f"{where}: attribute {name}: expected >= 1, found {getattr(s, name)}")
    if s.output_mode not in OUTPUT_MODES:
        raise ReferenceInputError(f"{where}: attribute output_mode: expected one of {OUTPUT_MODES}, "
                                  f"found \"{s.output_mode}\"")
    if s.phi not in PHIS:
        raise ReferenceInputError(f"{where}: attribute phi: expected one of {PHIS}, found \"{s.phi}\"")
    if s.memory_gain not in ("lambda_decay", "rate"):
        raise ReferenceInputError(f"{where}: attribute memory_gain: expected \"lambda_decay\" or \"rate\", "
                                  f"found \"{s.memory_gain}\"")
    if s.drive not in ("rate", "per_update"):
        raise ReferenceInputError(f"{where}: attribute drive: expected \"rate\" or \"per_update\", "
                                  f"found \"{s.drive}\"")
    if s.memory_input not in ("step_decay", "clock_decay"):
        raise ReferenceInputError(f"{where}: attribute memory_input: expected \"step_decay\" or \"clock_decay\", "
                                  f"found \"{s.memory_input}\"")
    if not s.is_lif:
        for name in ("d_m", "d_h", "n_b", "l"):
            if getattr(s, name) < 1:
                raise ReferenceInputError(f"{where}: attribute {name}: expected >= 1, found {getattr(s, name)}")
        if s.k_c % s.n_b != 0:
            raise ReferenceInputError(f"{where}: attributes k_c, n_b: expected k_c divisible by n_b, "
                                      f"found k_c = {s.k_c}, n_b = {s.n_b}")
        if not 0 <= s.tau_min_ms < s.tau_max_ms:
            raise ReferenceInputError(f"{where}: attributes tau_min_ms, tau_max_ms: expected 0 <= min < max, "
                                      f"found {s.tau_min_ms}, {s.tau_max_ms}")
    if s.C_e < 0 or (s.C_e > 0 and s.C != s.C_e):
        raise ReferenceInputError(f"{where}: attributes C, C_e: expected C_e = 0 or C = C_e, found C = {s.C}, "
                                  f"C_e = {s.C_e}")
    if s.dt_ms <= 0:
        raise ReferenceInputError(f"{where}: attribute dt_ms: expected > 0, found {s.dt_ms}")


@dataclass
class BatchData:
    x: np.ndarray = None        # float32 [T, B, C] (models without an embedding)
    tokens: np.ndarray = None   # int64 [T, B] byte values (models with an embedding)
    targets: np.ndarray = None  # int64 [B] or [T * B] (time-major, next_byte)
    dt: np.ndarray = None       # float64 [T] update lengths in ms (absent: every update one dt_ms)


def read_batch(path, spec, loss):
    """Batch file (x float32 [T,B,C] or tokens uint8 [T,B]; targets int32; optional dt float64 [T], the
    length of each update in ms, shared by the rows) checked against the model."""
    with _open(path) as f:
        if spec.C_e > 0:
            if "tokens" not in f:
                raise ReferenceInputError(f"{path}: /tokens: missing dataset (the model has an embedding)")
            tokens = np.asarray(f["tokens"][()])
            if tokens.ndim != 2 or tokens.dtype.kind not in "iu":
                raise ReferenceInputError(f"{path}: /tokens: expected integers [T, B], found {tokens.dtype} "
                                          f"{list(tokens.shape)}")
            if tokens.size and (tokens.min() < 0 or tokens.max() > 255):
                raise ReferenceInputError(f"{path}: /tokens: expected bytes 0..255, found [{tokens.min()}, "
                                          f"{tokens.max()}]")
            data = BatchData(tokens=tokens.astype(np.int64))
            T, B = tokens.shape
        else:
            if "x" not in f:
                raise ReferenceInputError(f"{path}: /x: missing dataset")
            x = np.asarray(f["x"][()])
            if x.ndim != 3 or x.shape[2] != spec.C or x.dtype.kind not in "iuf":
                raise ReferenceInputError(f"{path}: /x: expected numbers [T, B, {spec.C}], found {x.dtype} "
                                          f"{list(x.shape)}")
            if not np.all(np.isfinite(x)):
                raise ReferenceInputError(f"{path}: /x: expected finite values, found NaN or Inf")
            data = BatchData(x=x.astype(np.float32))
            T, B = x.shape[:2]
        if T < 1 or B < 1:
            raise ReferenceInputError(f"{path}: expected T >= 1 and B >= 1, found T = {T}, B = {B}")
        if "targets" not in f:
            raise ReferenceInputError(f"{path}: /targets: missing dataset")
        targets = np.asarray(f["targets"][()])
        expected = T * B if loss == "next_byte" else B
        if targets.shape != (expected,) or targets.dtype.kind not in "iu":
            raise ReferenceInputError(f"{path}: /targets: expected integers [{expected}] for loss {loss}, found "
                                      f"{targets.dtype} {list(targets.shape)}")
        if targets.size and (targets.min() < 0 or targets.max() >= spec.n_out):
            raise ReferenceInputError(f"{path}: /targets: expected classes in [0, {spec.n_out}), found "
                                      f"[{targets.min()}, {targets.max()}]")
        data.targets = targets.astype(np.int64)
        if "dt" in f:
            dt = np.asarray(f["dt"][()])
            if dt.shape != (T,) or dt.dtype.kind != "f" or not np.all(np.isfinite(dt)) or np.any(dt <= 0):
                raise ReferenceInputError(f"{path}: /dt: expected {T} update lengths > 0 ms, found {dt.dtype} "
                                          f"{list(dt.shape)}")
            data.dt = dt.astype(np.float64)
    return data


def write_results(path, loss, logits, grads, y):
    """OUT.h5: /loss float64 scalar, /logits, /grad/<name>, /y — in the dtype the reference computed in
    (float32 by default, float64 with --double so that comparisons are not limited by storage).
    Written to PATH.tmp and renamed, as every output of the project."""
    tmp = path + ".tmp"
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = "elm-reference"
            f.attrs["format_version"] = 1
            f.create_dataset("loss", data=np.float64(loss))
            f.create_dataset("logits", data=logits)
            for name, g in grads.items():
                f.create_dataset(f"grad/{name}", data=g)
            f.create_dataset("y", data=y)
        os.replace(tmp, path)
    except OSError as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise ReferenceInputError(f"{path}: cannot write ({e})") from None
