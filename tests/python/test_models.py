"""elmsim.Config and elmsim.Model against the command line: the same parameters, counts and files."""

import numpy as np
import pytest

import elmsim
from conftest import cli, shd_config


def test_a_model_built_in_python_equals_elmsim_init_bit_for_bit(data_dir, tmp_path):
    (tmp_path / "m.toml").write_text(shd_config(data_dir))
    cli("init", "--config", tmp_path / "m.toml", "--out", tmp_path / "init.h5")
    from_cli = elmsim.Model.load(str(tmp_path / "init.h5"))
    for source in (str(tmp_path / "m.toml"), (tmp_path / "m.toml").read_text(), tmp_path / "m.toml"):
        built = elmsim.Model(elmsim.load_config(source, base_dir=str(tmp_path)))
        assert built.param_names == from_cli.param_names
        for name in built.param_names:
            a, b = built.param(name), from_cli.param(name)
            assert a.dtype == np.float32 and a.shape == b.shape
            assert a.tobytes() == b.tobytes(), name
        assert np.array_equal(built.src, from_cli.src)


def test_a_config_as_a_dict_is_the_same_model(data_dir):
    text_model = elmsim.Model(elmsim.load_config(shd_config(data_dir)))
    as_dict = {
        "task": {"kind": "shd", "train": f"{data_dir}/train.h5", "test": f"{data_dir}/test.h5", "dt_ms": 50.0},
        "model": {"N": 12, "d_m": 4, "n_b": 2, "k_c": 8, "seed": 3},
        "train": {"optimizer": "adamax", "lr": 1e-2, "batch_size": 4, "max_steps": 12, "eval_every": 5,
                  "log_every": 1, "seed": 5, "threads": 1, "time": "clock"},
    }
    dict_model = elmsim.Model(elmsim.load_config(as_dict))
    for name in text_model.param_names:
        assert text_model.param(name).tobytes() == dict_model.param(name).tobytes()


def test_info_and_parameter_shapes_follow_the_spec(data_dir):
    cfg = elmsim.load_config(shd_config(data_dir))
    info = cfg.info()
    m = elmsim.Model(cfg)
    assert info["P"] == m.info()["P"]
    parts = info["parts"]
    assert info["P"] == parts["synapses"] + parts["neurons"] + parts["readout"] + parts["embedding"]
    assert m.param("w_syn").shape == (12, 8)
    assert m.param("W_o").shape == (info["n_out"], 12)
    assert m.src.shape == (12, 8)
    total = sum(m.params[n].size for n in m.param_names)
    assert total >= info["P"]


def test_info_equals_the_command_line(data_dir, tmp_path):
    (tmp_path / "m.toml").write_text(shd_config(data_dir))
    _, out = cli("info", "--config", tmp_path / "m.toml")
    info = elmsim.load_config(str(tmp_path / "m.toml")).info()
    line = next(l for l in out.splitlines() if l.startswith("P "))
    assert int(line.split()[1]) == info["P"]
    line = next(l for l in out.splitlines() if l.startswith("k_e "))
    assert int(line.split()[1]) == info["k_e"]


def test_parameters_are_writable_and_saved(data_dir, tmp_path):
    m = elmsim.Model(elmsim.load_config(shd_config(data_dir)))
    w = m.param("W1") * 0.5
    m.set_param("W1", w)
    assert m.param("W1").tobytes() == w.astype(np.float32).tobytes()
    m.save(str(tmp_path / "half.h5"))
    back = elmsim.Model.load(str(tmp_path / "half.h5"))
    assert back.param("W1").tobytes() == w.astype(np.float32).tobytes()
    # The command line reads what Python wrote.
    _, out = cli("info", "--model", tmp_path / "half.h5")
    assert "N              12" in out


@pytest.mark.parametrize(
    "value, message",
    [
        (np.zeros((3, 3), np.float32), "expected shape"),
        (np.full((12, 8, 6), np.nan, np.float32), "expected finite values"),
        (np.array(["a"] * 3), "expected numbers"),
    ],
)
def test_bad_parameter_values_raise_with_one_line(data_dir, value, message):
    m = elmsim.Model(elmsim.load_config(shd_config(data_dir)))
    before = m.param("W1").tobytes()
    with pytest.raises(elmsim.InputError, match=message):
        m.set_param("W1", value)
    assert m.param("W1").tobytes() == before
    with pytest.raises(elmsim.ParameterError, match="no tensor") as e:
        m.param("nope")
    assert e.value.parameter == "name"


def test_bad_configs_and_files_raise_input_errors(tmp_path):
    with pytest.raises(elmsim.InputError, match="model.N"):
        elmsim.load_config({"task": {"kind": "shd"}, "model": {"N": 0}})
    with pytest.raises(elmsim.InputError, match="unknown"):
        elmsim.load_config('[task]\nkind = "shd"\ncolour = 3\n')
    with pytest.raises(elmsim.InputError, match="does not exist"):
        elmsim.Model.load(str(tmp_path / "missing.h5"))
    (tmp_path / "junk.h5").write_bytes(b"not hdf5 at all")
    with pytest.raises(elmsim.InputError):
        elmsim.Model.load(str(tmp_path / "junk.h5"))
    with pytest.raises(elmsim.InputError):
        elmsim.load_config(3.5)


def test_budget_candidates_fit_the_budget():
    cfg = elmsim.load_config('[task]\nkind = "shd-adding"\n')
    out = elmsim.budget(cfg, 20000, axis="N", tolerance=0.05)
    assert len(out) >= 2
    for c in out:
        assert abs(c["P"] - 20000) <= 0.05 * 20000
    assert [c["N"] for c in out] == sorted(c["N"] for c in out)
    with pytest.raises(elmsim.InputError):
        elmsim.budget(cfg, -5)
    with pytest.raises(elmsim.InputError):
        elmsim.budget(cfg, 20000, axis="width")
