"""Shared fixtures of the Python module's tests: the elmsim binary beside the module, generated
spike data and a small trained model. Every external command runs under a timeout."""

import os
import subprocess

import pytest

import elmsim

TIMEOUT = 300


def binary():
    path = os.environ.get("ELMSIM_BINARY", "")
    if not path or not os.access(path, os.X_OK):
        raise RuntimeError("ELMSIM_BINARY must name the elmsim binary (ctest sets it)")
    return path


def cli(*args, check=True):
    """Run `elmsim ARGS`; returns (exit code, stdout + stderr)."""
    r = subprocess.run([binary(), *map(str, args)], capture_output=True, text=True, timeout=TIMEOUT)
    if check and r.returncode != 0:
        raise AssertionError(f"elmsim {' '.join(map(str, args))} exited {r.returncode}:\n{r.stdout}{r.stderr}")
    return r.returncode, r.stdout + r.stderr


def shd_config(data_dir, kind="shd", steps=12, time="clock", extra_train=""):
    """A small model on the generated data (N 12, 50 ms clock bins)."""
    return f"""[task]
kind = "{kind}"
train = "{data_dir}/train.h5"
test = "{data_dir}/test.h5"
dt_ms = 50.0
{'adding_test_pairs = 8' if kind == 'shd-adding' else ''}

[model]
N = 12
d_m = 4
n_b = 2
k_c = 8
seed = 3

[train]
optimizer = "adamax"
lr = 1e-2
batch_size = 4
max_steps = {steps}
eval_every = 5
log_every = 1
seed = 5
threads = 1
time = "{time}"
{extra_train}"""


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    cli("gen-shd", "--out", d / "train.h5", "--samples", 40, "--seed", 1)
    cli("gen-shd", "--out", d / "test.h5", "--samples", 12, "--seed", 2)
    return d


@pytest.fixture(scope="session")
def trained_model(data_dir, tmp_path_factory):
    """A model trained by the command line for a few steps (SHD, clock)."""
    d = tmp_path_factory.mktemp("model")
    (d / "shd.toml").write_text(shd_config(data_dir))
    cli("train", "--config", d / "shd.toml", "--out", d / "model.h5", "--quiet")
    return d / "model.h5"
