"""Simulation and live sessions from Python against `elmsim simulate`: numpy traces equal to the HDF5
trace, samples in memory equal to the same samples from a file, a Session fed in pieces equal to
simulate, h5py reading the files as users expect, and bad input raised, never a crash."""

import subprocess

import h5py
import numpy as np
import pytest

import elmsim
import conftest
from conftest import cli

VARIABLES = ["y", "m", "b", "logits", "spikes"]


def assert_same_trace(a, b):
    assert a["variables"] == b["variables"]
    assert np.array_equal(a["neurons"], b["neurons"])
    assert len(a["samples"]) == len(b["samples"])
    for x, y in zip(a["samples"], b["samples"]):
        assert x.keys() == y.keys()
        for key in x:
            if isinstance(x[key], np.ndarray):
                assert x[key].dtype == y[key].dtype and x[key].shape == y[key].shape, key
                assert x[key].tobytes() == y[key].tobytes(), key
            else:
                assert x[key] == y[key], key


def byte_model(tmp_path, text):
    """An untrained small byte model (tmp_path/bytes.h5, made by `elmsim init`) over tmp_path/text.txt."""
    (tmp_path / "text.txt").write_bytes(text)
    (tmp_path / "bytes.toml").write_text(f"""[task]
kind = "bytes"
bytes = "{tmp_path}/text.txt"
window = 12

[model]
N = 10
d_m = 4
n_b = 2
k_c = 8
C_e = 4
seed = 3
""")
    cli("init", "--config", tmp_path / "bytes.toml", "--out", tmp_path / "bytes.h5")


@pytest.mark.parametrize("mode", ["clock", "event"])
def test_numpy_traces_equal_the_hdf5_trace_of_elmsim_simulate(trained_model, data_dir, tmp_path, mode):
    trace = tmp_path / "cli.h5"
    cli("simulate", "--model", trained_model, "--data", data_dir / "test.h5", "--trace", trace, "--mode", mode,
        "--record", ",".join(VARIABLES), "--neurons", "1,3:6", "--decimate", "2", "--samples", "2:9")
    out = elmsim.simulate(str(trained_model), data=str(data_dir / "test.h5"), mode=mode, variables=VARIABLES,
                          neurons=[1, 3, 4, 5], decimate=2, first=2, end=9)
    assert out["samples"] == 7 and out["mode"] == mode
    memory = out["trace"]
    from_file = elmsim.read_trace(str(trace))
    assert_same_trace(memory, from_file)
    # An independent reader: h5py, with elmsim's decoding of string attributes.
    with h5py.File(trace, "r") as f:
        attrs = elmsim.read_attrs(f)
        assert attrs["format"] == "elm-trace" and attrs["mode"] == mode
        assert f.attrs["format"] == b"elm-trace"  # fixed-length strings: bytes in plain h5py
        for i, s in enumerate(memory["samples"]):
            g = f[f"samples/{i}"]
            assert np.array_equal(g["y"][()], s["y"]) and np.array_equal(g["m"][()], s["m"])
            assert np.array_equal(g["spike_times"][()], s["spike_times"])
            assert int(g.attrs["prediction"]) == s["prediction"]
    # Writing the trace from Python gives the command line's file contents.
    py_trace = tmp_path / "py.h5"
    out2 = elmsim.simulate(str(trained_model), data=str(data_dir / "test.h5"), mode=mode, variables=VARIABLES,
                           neurons=[1, 3, 4, 5], decimate=2, first=2, end=9, trace=py_trace)
    assert "trace" not in out2 and out2["stats"] == out["stats"]
    assert_same_trace(elmsim.read_trace(str(py_trace)), from_file)


def test_samples_in_memory_give_the_floats_of_the_same_samples_from_a_file(trained_model, data_dir):
    samples, labels, channels = elmsim.read_spike_dataset(str(data_dir / "test.h5"))
    assert channels == 700 and samples[0][0].dtype == np.float64 and samples[0][1].dtype == np.int32
    from_file = elmsim.simulate(str(trained_model), data=str(data_dir / "test.h5"), variables="y,logits")
    in_memory = elmsim.simulate(str(trained_model), samples=samples, labels=labels, variables="y,logits")
    assert in_memory["stats"] == from_file["stats"]
    assert_same_trace(in_memory["trace"], from_file["trace"])
    # Lists and other integer dtypes are accepted as well.
    as_lists = [(list(t), [int(c) for c in ch]) for t, ch in samples[:2]]
    again = elmsim.simulate(str(trained_model), samples=as_lists, labels=labels[:2].astype(np.int64),
                            variables="y,logits")
    assert_same_trace(again["trace"], {**from_file["trace"], "samples": from_file["trace"]["samples"][:2]})


@pytest.mark.parametrize("mode, resolution", [("clock", None), ("event", 1.0)])
def test_a_session_fed_in_pieces_equals_simulate(trained_model, data_dir, mode, resolution):
    samples, labels, _ = elmsim.read_spike_dataset(str(data_dir / "test.h5"), max_samples=3)
    kwargs = {"resolution_ms": resolution} if resolution else {}
    want = elmsim.simulate(str(trained_model), samples=samples, labels=labels, mode=mode, variables=["y", "m", "logits"],
                           **kwargs)["trace"]
    duration = 1000.0  # the task's sample duration (SHD: one window)
    with elmsim.Session(str(trained_model), mode=mode, variables=["y", "m", "logits"], **kwargs) as s:
        assert s.mode == mode
        for k, (times, channels) in enumerate(samples):
            # Pieces of uneven size, with time advanced between them.
            cuts = [0, 1, len(times) // 3, len(times) // 2, len(times)]
            for a, b in zip(cuts, cuts[1:]):
                if b > a:
                    s.push_events(times[a:b], channels[a:b])
                    s.advance_to(float(times[a]))
            s.finish(duration)
            assert s.prediction == want["samples"][k]["prediction"]
            assert s.logits.tobytes() == want["samples"][k]["logits"][-1].tobytes()
            s.reset()
        got = s.trace()
    for x, y in zip(got["samples"], want["samples"]):
        for key in ("time_ms", "y", "m", "logits"):
            assert x[key].tobytes() == y[key].tobytes(), key
        assert x["prediction"] == y["prediction"]


def test_bad_session_input_raises_and_leaves_the_session_usable(trained_model):
    s = elmsim.Session(str(trained_model))
    s.push_events(np.array([5.0, 6.0]), np.array([1, 2], dtype=np.int32))
    for times, channels, message in [
        (np.array([7.0, np.nan]), np.array([1, 2]), "finite"),
        (np.array([8.0]), np.array([700]), "channels: expected values in 0..699"),
        (np.array([8.0]), np.array([1.5]), "integers"),
        (np.array(["a"]), np.array([1]), "numbers"),
        (np.array([[8.0]]), np.array([1]), "1-D"),
        (np.array([8.0, 9.0]), np.array([1]), "as many channels as times"),
        (np.array([1.0]), np.array([1]), "expected a time >= 100"),  # before the session's time
    ]:
        if message.startswith("expected a time"):
            s.advance_to(100.0)
        with pytest.raises(elmsim.InputError, match=message) as e:
            s.push_events(times, channels)
        assert "\n" not in str(e.value)
    with pytest.raises(elmsim.InputError):
        s.advance_to(float("nan"))
    with pytest.raises(elmsim.InputError, match="reads spike events"):
        s.push_bytes(b"abc")
    s.finish(1000.0)
    assert 0 <= s.prediction < 20
    s.close()
    for call in (lambda: s.push_events(np.array([1.0]), np.array([1])), lambda: s.advance_to(5.0),
                 lambda: s.logits, lambda: s.prediction, lambda: s.reset()):
        with pytest.raises(elmsim.InputError, match="closed"):
            call()
    with pytest.raises(elmsim.ParameterError, match="mode") as e:
        elmsim.Session(str(trained_model), mode="sometimes")
    assert e.value.parameter == "mode"
    with pytest.raises(elmsim.ParameterError, match="resolution_ms"):
        elmsim.Session(str(trained_model), mode="clock", resolution_ms=1.0)


def test_bad_simulate_arguments_raise_one_line(trained_model, data_dir, tmp_path):
    cases = [
        (dict(data=str(data_dir / "test.h5"), variables="y,volts"), "record"),
        (dict(data=str(data_dir / "test.h5"), neurons=[0, 99]), "neurons"),
        (dict(data=str(data_dir / "test.h5"), decimate=0), "decimate"),
        (dict(data=str(data_dir / "test.h5"), mode="sideways"), "mode"),
        (dict(data=str(data_dir / "test.h5"), first=5, end=2), "the range 5:2 is empty"),
        (dict(data=str(data_dir / "test.h5"), samples=[(np.array([1.0]), np.array([0]))]), "not both"),
        (dict(data=str(tmp_path / "missing.h5")), "does not exist"),
        (dict(data=str(data_dir / "test.h5"), mode="clock", resolution_ms=1.0), "resolution_ms"),
        (dict(data=str(data_dir / "test.h5"), trace=tmp_path), "found a directory"),
    ]
    for kwargs, message in cases:
        with pytest.raises(elmsim.InputError, match=message) as e:
            elmsim.simulate(str(trained_model), **kwargs)
        assert "\n" not in str(e.value), kwargs


@pytest.mark.parametrize("option, new_rule, old_rule, bad", [("memory_gain", "rate", "lambda_decay", "steady"),
                                                               ("memory_input", "clock_decay", "step_decay", "fresh")])
def test_memory_rules_equal_the_command_line_and_are_identical_on_the_clock(trained_model, data_dir, tmp_path,
                                                                            option, new_rule, old_rule, bad):
    test = str(data_dir / "test.h5")

    def run(**kwargs):  # the result and every recorded y and m, flat
        out = elmsim.simulate(str(trained_model), data=test, variables="y,m", end=4, **kwargs)
        return out, np.concatenate([s[v].ravel() for s in out["trace"]["samples"] for v in ("y", "m")])

    assert np.array_equal(run(mode="clock")[1], run(mode="clock", **{option: old_rule})[1])
    event = dict(mode="event", resolution_ms=5.0, max_dt_ms=10.0)
    assert np.array_equal(run(**{option: new_rule}, **event)[1], run(**event)[1])  # the rule of new models
    old, old_values = run(**{option: old_rule}, **event)
    assert not np.array_equal(old_values, run(**event)[1])
    assert elmsim.Model.load(str(trained_model)).info()[option] == new_rule
    _, line = cli("simulate", "--model", trained_model, "--data", test, "--mode", "event", "--resolution-ms", "5",
                  "--max-dt-ms", "10", "--" + option.replace("_", "-"), old_rule, "--samples", "0:4", "--trace",
                  tmp_path / "old.h5")
    assert f"accuracy {old['stats']['accuracy']:.4f}, loss {old['stats']['loss']:.4f}" in line
    with pytest.raises(elmsim.ParameterError, match=option) as e:
        elmsim.simulate(str(trained_model), data=test, **{option: bad})
    assert "\n" not in str(e.value)


def test_spike_datasets_round_trip_through_files(tmp_path):
    samples, labels, channels = elmsim.generate_shd(6, seed=4)
    path = tmp_path / "gen.h5"
    elmsim.write_spike_dataset(str(path), samples, labels)
    back, back_labels, back_channels = elmsim.read_spike_dataset(str(path))
    assert back_channels == channels == 700 and np.array_equal(back_labels, labels)
    for (t, c), (bt, bc) in zip(samples, back):
        assert np.array_equal(c, bc)
        # Times are stored as float16 seconds: equal after that rounding.
        assert np.array_equal((t / 1000.0).astype(np.float16).astype(np.float64) * 1000.0, bt)
    with h5py.File(path, "r") as f:
        assert f["extra/keys"][0] == b"zero"
    with pytest.raises(elmsim.InputError, match="channels"):
        elmsim.write_spike_dataset(str(tmp_path / "bad.h5"), [(np.array([1.0]), np.array([800]))], [0])
    assert not (tmp_path / "bad.h5").exists()


def test_checkpoint_attributes_read_as_text(trained_model):
    with h5py.File(trained_model, "r") as f:
        attrs = elmsim.read_attrs(f)
        assert attrs["format"] == "elm-network" and isinstance(attrs["created_by"], str)
        model = elmsim.read_attrs(f["model"])
        assert model["N"] == 12


def test_a_byte_session_fed_in_pieces_equals_simulate_of_the_file(data_dir, tmp_path):
    text = b"the quick brown fox jumps over the lazy dog; " * 6
    byte_model(tmp_path, text)
    want = elmsim.simulate(str(tmp_path / "bytes.h5"), data=str(tmp_path / "text.txt"), variables="y,logits")
    assert "bpc" in want["stats"]
    want = want["trace"]["samples"][0]
    with elmsim.Session(str(tmp_path / "bytes.h5"), variables=["y", "logits"]) as s:
        s.push_bytes(text[:5])
        s.push_bytes(bytearray(text[5:40]))
        s.push_bytes(np.frombuffer(text[40:], dtype=np.uint8))
        got = s.trace()["samples"][0]
        assert s.updates == len(text)
        with pytest.raises(elmsim.InputError, match="reads bytes"):
            s.push_events(np.array([1.0]), np.array([0]))
        with pytest.raises(elmsim.InputError, match="bytes: expected values in 0..255"):
            s.push_bytes(np.array([1, 300]))
    for key in ("time_ms", "y", "logits"):
        assert got[key].tobytes() == want[key].tobytes(), key


def test_evaluate_on_a_file_and_on_the_same_samples_in_memory(trained_model, data_dir):
    from_file = elmsim.evaluate(str(trained_model), str(data_dir / "test.h5"))
    samples, labels, _ = elmsim.read_spike_dataset(str(data_dir / "test.h5"))
    in_memory = elmsim.evaluate(str(trained_model), samples=samples, labels=labels)
    for key in ("loss", "accuracy", "predictions", "correct", "metric"):
        assert in_memory[key] == pytest.approx(from_file[key], rel=1e-12, abs=0), key
    _, out = cli("eval", "--model", trained_model, "--data", data_dir / "test.h5")
    assert f"{from_file['accuracy']:.4f}" in out
    with pytest.raises(elmsim.ParameterError, match="not both"):
        elmsim.evaluate(str(trained_model), str(data_dir / "test.h5"), samples=samples)


def test_generate_equals_elmsim_generate(tmp_path):
    byte_model(tmp_path, b"abcabcabd " * 20)
    for temperature in (0.0, 0.8):
        got = elmsim.generate(tmp_path / "bytes.h5", prompt="abc", length=40, temperature=temperature, seed=7)
        assert isinstance(got, bytes) and len(got) == 40
        r = subprocess.run([conftest.binary(), "generate", "--model", str(tmp_path / "bytes.h5"), "--prompt", "abc",
                            "--length", "40", "--temperature", str(temperature), "--seed", "7"], capture_output=True,
                           timeout=conftest.TIMEOUT)
        assert r.returncode == 0 and r.stdout == got + b"\n"
    with pytest.raises(elmsim.ParameterError, match="temperature"):
        elmsim.generate(tmp_path / "bytes.h5", temperature=-1.0)
