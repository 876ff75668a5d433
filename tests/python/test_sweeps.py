"""Budget sweeps from Python: elmsim.run_sweep writes what `elmsim sweep` writes, read_sweep reads it
back as Python objects, fit_sweep returns fit.json as a dict."""

import json

import pytest

import elmsim
from conftest import cli

BASE = """[task]
kind = "shd-adding"
train = "train.h5"
test = "test.h5"
dt_ms = 50.0
adding_test_pairs = 8

[model]
N = 8
d_m = 2
n_b = 2
k_c = 4

[train]
optimizer = "adamax"
lr = 5e-3
batch_size = 2
max_steps = 4
log_every = 1
"""

SWEEP = """[sweep]
base = "base.toml"
budgets = [600, 1200, 2400]
tolerance = 0.1
axes = ["N", "k_e"]
points = 3
seeds = [1]
steps = 4
workers = 1
threads = 1
"""


def stable(rows):
    return [{k: v for k, v in r.items() if k not in ("train_seconds", "setup_seconds", "eval_seconds", "resumed",
                                                       "host")} for r in rows]


def test_a_sweep_from_python_equals_elmsim_sweep(tmp_path):
    cli("gen-shd", "--out", tmp_path / "train.h5", "--samples", 16, "--seed", 1)
    cli("gen-shd", "--out", tmp_path / "test.h5", "--samples", 8, "--seed", 2)
    (tmp_path / "base.toml").write_text(BASE)
    (tmp_path / "sweep.toml").write_text(SWEEP)
    cli("sweep", "--config", tmp_path / "sweep.toml", "--out", tmp_path / "cli", "--quiet")
    messages = []
    summary = elmsim.run_sweep(tmp_path / "sweep.toml", tmp_path / "py", on_message=messages.append)
    runs = summary["runs"]
    assert runs >= 8 and summary["finished_now"] == runs and summary["failed_now"] == 0
    assert len(messages) == runs
    py, from_cli = elmsim.read_sweep(tmp_path / "py"), elmsim.read_sweep(tmp_path / "cli")
    assert len(py["results"]) == runs and py["fit"] is None
    assert stable(py["results"]) == stable(from_cli["results"])
    # Run again: everything is finished, nothing runs.
    again = elmsim.run_sweep(tmp_path / "sweep.toml", tmp_path / "py")
    assert again["finished_now"] == 0 and again["already_finished"] == runs

    fit = elmsim.fit_sweep(tmp_path / "py", bootstrap=20)
    assert fit == json.loads((tmp_path / "py" / "fit.json").read_text())
    assert elmsim.read_sweep(tmp_path / "py")["fit"] == fit


def test_bad_sweeps_raise_input_errors(tmp_path):
    with pytest.raises(elmsim.InputError, match="does not exist|not found|cannot open"):
        elmsim.run_sweep(tmp_path / "missing.toml", tmp_path / "out")
    (tmp_path / "bad.toml").write_text("[sweep]\nbase = \"base.toml\"\nbudgets = [-5]\n")
    with pytest.raises(elmsim.InputError):
        elmsim.run_sweep(tmp_path / "bad.toml", tmp_path / "out")
    with pytest.raises(elmsim.ParameterError, match="workers"):
        elmsim.run_sweep(tmp_path / "bad.toml", tmp_path / "out", workers=0)
    with pytest.raises(ValueError, match="not a sweep directory"):
        elmsim.read_sweep(tmp_path)
    with pytest.raises(elmsim.InputError):
        elmsim.fit_sweep(tmp_path)
