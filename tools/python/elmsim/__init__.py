"""elmsim from Python: build, train, evaluate, simulate and stream ELM Networks, numpy in and out.

The same engine, files and checks as the ``elmsim`` command line (the README's "Python" section):

    import elmsim
    cfg = elmsim.load_config("configs/demo_shd_adding.toml")    # a path, TOML text or a nested dict
    run = elmsim.train(cfg, out="runs/demo/model.h5", on_step=print)
    out = elmsim.simulate("runs/demo/model.h5", data="data/demo/shd_test.h5",
                          variables=["y", "m", "logits"], neurons=range(8))
    y = out["trace"]["samples"][0]["y"]                         # [updates, neurons] float32

    with elmsim.Session("runs/demo/model.h5") as s:             # a live stream
        s.push_events(times_ms, channels)
        s.finish(2000.0)
        print(s.prediction)

Bad input raises elmsim.InputError (a ValueError) with the engine's one-line message; a bad named
argument raises its subclass elmsim.ParameterError, whose .parameter names it. The engine runs with the
GIL released; Ctrl-C during training stops after the current step, writes the checkpoint and raises
KeyboardInterrupt (train again with resume= to continue).
"""

import os as _os

from . import _core
from ._core import Config, InputError, Model, ParameterError, Session, TrainingRun
from ._core import generate_shd, read_spike_dataset, read_trace, write_spike_dataset
from .files import read_attrs, read_sweep
from .toml_text import to_toml

__version__ = _core.__version__

__all__ = [
    "Config", "InputError", "Model", "ParameterError", "Session", "TrainingRun",
    "budget", "evaluate", "fit_sweep", "generate", "generate_shd", "load_config", "read_attrs", "read_spike_dataset",
    "read_sweep", "read_trace", "run_sweep", "simulate", "to_toml", "train", "write_spike_dataset",
]


def _parameter_error(parameter, problem):
    """A ParameterError raised in Python, shaped like the engine's (message "parameter: problem")."""
    error = ParameterError(f"{parameter}: {problem}")
    error.parameter = parameter
    return error


def load_config(source, base_dir=None):
    """An experiment config from a TOML file path, TOML text, or a nested dict of its tables.

    Relative data paths in text or a dict resolve against base_dir (default: the working directory);
    in a file, against the file's folder, as on the command line.
    """
    if isinstance(source, Config):
        return source
    if isinstance(source, dict):
        return Config.parse(to_toml(source), "<dict>", base_dir or _os.getcwd())
    if isinstance(source, _os.PathLike):
        return Config.load(_os.fspath(source))
    if not isinstance(source, str):
        raise InputError(f"config: expected a path, TOML text, a dict or an elmsim.Config, got {type(source).__name__}")
    if "\n" in source or "=" in source or source.lstrip().startswith("["):
        return Config.parse(source, "<text>", base_dir or _os.getcwd())
    return Config.load(source)


def _with_data(cfg, split, data):
    """cfg with `data` for one split: a path replaces nothing (use the config's files); (samples,
    labels) in memory replace that split's file."""
    if data is None:
        return cfg
    if isinstance(data, (str, _os.PathLike)):
        raise InputError(f"{split}_data: give files in the config's [task] table; this argument takes (samples, labels)")
    if not isinstance(data, tuple) or len(data) not in (2, 3):
        raise InputError(f"{split}_data: expected (samples, labels), as read_spike_dataset returns")
    return cfg.with_samples(split, data[0], data[1])


def train(config, out="", steps=None, threads=None, backend="cpu", init="", resume="", on_step=None, on_eval=None,
          train_data=None, valid_data=None, test_data=None):
    """Train a model as `elmsim train` does and return its result dict (model_path, metrics_path, step,
    final_eval, stopped).

    config: a path, TOML text, dict or Config. train_data / valid_data / test_data: (samples, labels)
    in memory, used instead of the config's files (samples: (times_ms, channels) pairs).
    on_step(dict) runs after every optimizer step (return "stop" to end the run there); on_eval(dict)
    after every evaluation.
    """
    cfg = load_config(config)
    for split, data in (("train", train_data), ("valid", valid_data), ("test", test_data)):
        cfg = _with_data(cfg, split, data)
    run = TrainingRun(cfg, out=_os.fspath(out), steps=steps, threads=threads, backend=backend,
                      init=_os.fspath(init), resume=_os.fspath(resume))
    return run.run(on_step=on_step, on_eval=on_eval)


def evaluate(model, data=None, split="test", samples=None, labels=None, threads=None, backend="cpu"):
    """Score a trained model (checkpoint path) as `elmsim eval` does: on a dataset file (for a text
    model, the `split` part of its byte file), or on spike samples in memory with their labels (the
    scores of simulate() on the model's own time base, which equal eval's on the same samples).
    Returns a dict: loss, accuracy (bpc for text), predictions, correct, metric."""
    if samples is not None:
        if data is not None:
            raise _parameter_error("data", "give a data file or samples in memory, not both")
        stats = simulate(model, samples=samples, labels=labels, variables="logits", final_logits_only=True,
                         threads=threads, backend=backend)["stats"]
        return {**stats, "metric": stats["accuracy"]}
    if data is None:
        raise _parameter_error("data", "expected a data file or samples in memory")
    return _core.evaluate(_os.fspath(model), _os.fspath(data), split=split, threads=threads, backend=backend)


def simulate(model, data="", samples=None, labels=None, mode=None, resolution_ms=None, max_dt_ms=None, first=None,
             end=None, batch=16, variables="y", neurons=None, decimate=1, final_logits_only=False, trace=None,
             threads=None, backend="cpu", memory_gain=None, memory_input=None):
    """Simulate a trained model (checkpoint path) sample by sample, as `elmsim simulate` does.

    data: an SHD-format file (or a byte file for a text model); or samples=[(times_ms, channels), ...]
    with labels in memory. mode: "clock" or "event" (default: the model's own time base).
    variables: which of y, m, b, logits, spikes to record, for `neurons` (default all), every
    `decimate`-th update. With trace=PATH the recording is written as an HDF5 trace (what
    `simulate --trace` writes); without, it comes back as numpy arrays under "trace".
    memory_gain: None (the model's), "lambda_decay" or "rate" (`simulate --memory-gain`).
    memory_input: None (the model's), "step_decay" or "clock_decay" (`simulate --memory-input`).
    Returns a dict: stats (loss, accuracy, bpc for text), samples, updates, mode, trace or trace_path.
    """
    if neurons is not None and not isinstance(neurons, (list, tuple)) and not hasattr(neurons, "dtype"):
        neurons = list(neurons)
    record = "hdf5" if trace is not None else "memory"
    return _core.simulate(_os.fspath(model), data=_os.fspath(data), samples=samples, labels=labels, mode=mode,
                          resolution_ms=resolution_ms, max_dt_ms=max_dt_ms, first=first, end=end, batch=batch,
                          variables=variables, neurons=neurons, decimate=decimate,
                          final_logits_only=final_logits_only, record=record,
                          trace=_os.fspath(trace) if trace is not None else "", threads=threads, backend=backend,
                          memory_gain=memory_gain, memory_input=memory_input)


def generate(model, prompt=b"", length=200, temperature=0.8, seed=1, threads=None, backend="cpu"):
    """Text from a byte model (checkpoint path), as `elmsim generate` makes it: the prompt (bytes or
    str, UTF-8) fed one byte per update, then `length` bytes sampled at `temperature` (0: argmax).
    Returns bytes."""
    if isinstance(prompt, str):
        prompt = prompt.encode("utf-8")
    return _core.generate(_os.fspath(model), prompt=bytes(prompt), length=length, temperature=temperature, seed=seed,
                          threads=threads, backend=backend)


def budget(config, P, axis="N", tolerance=0.05, points_per_octave=2):
    """Configurations of the config's model whose parameter count is within `tolerance` of P, along
    axis "N", "k_e" or "k_c" (`elmsim budget`): a list of dicts (N, k_e, k_c, P, d_m, ...)."""
    return _core.budget(load_config(config), P, axis=axis, tolerance=tolerance, points_per_octave=points_per_octave)


def run_sweep(config, out, workers=None, threads=None, retry_failed=False, on_message=None):
    """Run a sweep file into directory `out` (`elmsim sweep`, one process): resumable; returns a summary
    dict. read_sweep(out) reads the results."""
    return _core.run_sweep(_os.fspath(config), _os.fspath(out), workers=workers, threads=threads,
                           retry_failed=retry_failed, on_message=on_message)


def fit_sweep(sweep, out="", bootstrap=1000, seed=1):
    """Fit the scaling law and the information model to a sweep's results (`elmsim fit`): writes
    fit.json (default: in the sweep directory) and returns it as a dict."""
    return _core.fit_sweep(_os.fspath(sweep), out=_os.fspath(out), bootstrap=bootstrap, seed=seed)
