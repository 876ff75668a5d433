"""Training from Python against `elmsim train`: the same floats, callbacks that see every step, samples
in memory instead of files, and Ctrl-C that leaves a resumable checkpoint."""

import json
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

import elmsim
from conftest import cli, shd_config


def params_of(path):
    m = elmsim.Model.load(str(path))
    return {n: m.param(n).tobytes() for n in m.param_names}


def metrics_losses(path):
    rows = [json.loads(l) for l in open(path)]
    return [r["loss"] for r in rows if r.get("kind") == "train"]


@pytest.mark.parametrize("kind, time_base", [("shd-adding", "clock"), ("shd", "event")])
def test_training_from_python_with_a_callback_equals_elmsim_train(data_dir, tmp_path, kind, time_base):
    extra = 'resolution_ms = 10.0\nmax_dt_ms = 50.0\n' if time_base == "event" else ""
    (tmp_path / "run.toml").write_text(shd_config(data_dir, kind=kind, time=time_base, extra_train=extra))
    cli("train", "--config", tmp_path / "run.toml", "--out", tmp_path / "cli.h5", "--quiet")
    steps, evals = [], []
    result = elmsim.train(str(tmp_path / "run.toml"), out=str(tmp_path / "py.h5"), on_step=steps.append,
                          on_eval=evals.append)
    assert result["step"] == 12 and not result["stopped"]
    assert params_of(tmp_path / "cli.h5") == params_of(tmp_path / "py.h5")
    # The callback saw every step, with the losses the command line logged.
    assert [s["step"] for s in steps] == list(range(1, 13))
    cli_losses = metrics_losses(tmp_path / "cli.metrics.jsonl")
    assert len(cli_losses) == 12
    assert [s["loss"] for s in steps] == cli_losses  # the log prints the shortest exact form
    assert [e["step"] for e in evals] == [5, 10, 12]
    assert result["final_eval"]["accuracy"] == evals[-1]["accuracy"]


def test_a_callback_can_stop_the_run_and_the_cli_resumes_it(data_dir, tmp_path):
    (tmp_path / "run.toml").write_text(shd_config(data_dir))
    cli("train", "--config", tmp_path / "run.toml", "--out", tmp_path / "whole.h5", "--quiet")
    result = elmsim.train(str(tmp_path / "run.toml"), out=str(tmp_path / "part.h5"),
                          on_step=lambda s: "stop" if s["step"] == 7 else None)
    assert result["step"] == 7
    cli("train", "--config", tmp_path / "run.toml", "--resume", tmp_path / "part.h5", "--out", tmp_path / "part.h5",
        "--quiet")
    assert params_of(tmp_path / "whole.h5") == params_of(tmp_path / "part.h5")


def test_an_exception_in_a_callback_reaches_the_caller(data_dir, tmp_path):
    def boom(step):
        raise RuntimeError("callback failed at step %d" % step["step"])

    with pytest.raises(RuntimeError, match="callback failed at step 1"):
        elmsim.train(shd_config(data_dir), out=str(tmp_path / "x.h5"), on_step=boom)


def test_samples_in_memory_train_as_the_same_samples_from_a_file(data_dir, tmp_path):
    # The file's samples (float16 times, as stored) in memory give the file's training bit for bit.
    train = elmsim.read_spike_dataset(str(data_dir / "train.h5"))
    test = elmsim.read_spike_dataset(str(data_dir / "test.h5"))
    assert train[2] == 700 and len(train[0]) == 40
    (tmp_path / "run.toml").write_text(shd_config(data_dir))
    from_file = elmsim.train(str(tmp_path / "run.toml"), out=str(tmp_path / "file.h5"))
    no_files = shd_config(data_dir).replace(f'train = "{data_dir}/train.h5"\n', "").replace(
        f'test = "{data_dir}/test.h5"\n', "")
    assert "train.h5" not in no_files
    in_memory = elmsim.train(no_files, out=str(tmp_path / "memory.h5"), train_data=train[:2], test_data=test[:2])
    assert params_of(tmp_path / "file.h5") == params_of(tmp_path / "memory.h5")
    assert in_memory["final_eval"] == from_file["final_eval"]


def test_generated_samples_train_without_any_hdf5_file(tmp_path):
    samples, labels, _ = elmsim.generate_shd(40, seed=7)
    cfg = shd_config("unused").replace('train = "unused/train.h5"\n', "").replace('test = "unused/test.h5"\n', "")
    result = elmsim.train(cfg, out=str(tmp_path / "m.h5"), train_data=(samples[:32], labels[:32]),
                          test_data=(samples[32:], labels[32:]))
    assert result["step"] == 12
    assert result["final_eval"]["predictions"] == 8
    assert sorted(os.listdir(tmp_path)) == ["m.h5", "m.metrics.jsonl"]


@pytest.mark.parametrize(
    "samples, labels, message",
    [
        ([(np.array([1.0, np.nan]), np.array([0, 1]))], [0], "finite"),
        ([(np.array([1.0, 2.0]), np.array([0, 700]))], [0], "channels: expected values in 0..699"),
        ([(np.array([1.0, 2.0]), np.array([0.5, 1.0]))], [0], "expected a 1-D array of integers"),
        ([(np.array([[1.0, 2.0]]), np.array([0, 1]))], [0], "expected a 1-D array"),
        ([(np.array([3.0, 2.0]), np.array([0, 1]))], [0], "ascending"),
        ([(np.array([1.0, 2.0]), np.array([0, 1, 2]))], [0], "as many channels as times"),
        ([(np.array([1.0]), np.array([0]))], [0, 1], "one label per sample"),
        ([(np.array([1.0]), np.array([0]))], [25], "outside the 20 classes"),
        ("not samples", None, "expected a sequence"),
    ],
)
def test_bad_samples_in_memory_raise_one_line(tmp_path, samples, labels, message):
    cfg = shd_config("unused").replace('train = "unused/train.h5"\n', "").replace('test = "unused/test.h5"\n', "")
    with pytest.raises(elmsim.InputError, match=message) as e:
        elmsim.train(cfg, out=str(tmp_path / "m.h5"), train_data=(samples, labels))
    assert "\n" not in str(e.value)
    assert not (tmp_path / "m.h5").exists()


CHILD = r"""
import sys, elmsim
print("ready", flush=True)
try:
    elmsim.train(sys.argv[1], out=sys.argv[2], on_step=lambda s: print("step", s["step"], flush=True))
except KeyboardInterrupt as e:
    print("interrupted:", e, flush=True)
    sys.exit(3)
print("finished", flush=True)
"""


def test_ctrl_c_stops_training_with_a_resumable_checkpoint(data_dir, tmp_path):
    (tmp_path / "long.toml").write_text(shd_config(data_dir, steps=100000))
    out = tmp_path / "stopped.h5"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / "long.toml"), str(out)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = child.stdout.readline()
            assert line, "the child ended early:\n" + "".join(lines)
            lines.append(line)
            if line.startswith("step 3"):
                child.send_signal(signal.SIGINT)
                break
        rest, _ = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    output = "".join(lines) + rest
    assert child.returncode == 3, output
    assert "interrupted: training stopped after step" in output
    with h5py.File(out, "r") as f:
        step = int(f["train"].attrs["step"])
    assert 3 <= step < 100000
    # It resumes where it stopped, from Python as from the command line.
    result = elmsim.train(str(tmp_path / "long.toml"), out=str(out), resume=str(out), steps=2)
    assert result["step"] == step + 2


def test_a_run_trains_once_and_refuses_calls_from_its_own_callbacks(data_dir, tmp_path):
    run = elmsim.TrainingRun(elmsim.load_config(shd_config(data_dir)), out=str(tmp_path / "m.h5"), steps=3)
    refused = []

    def on_step(step):
        try:
            run.evaluate("test")
        except elmsim.InputError as e:
            refused.append(str(e))

    result = run.run(on_step=on_step)
    assert result["step"] == 3 and len(refused) == 3 and "in progress" in refused[0]
    assert run.evaluate("test")["predictions"] == 12
    with pytest.raises(elmsim.InputError, match="trained already"):
        run.run()
