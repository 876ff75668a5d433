"""The Python quick start (tools/example/quickstart.py) runs end to end on a small trained model."""

import os
import subprocess
import sys

from conftest import TIMEOUT, cli, shd_config


def test_the_quick_start_scores_streams_and_draws(data_dir, tmp_path):
    (tmp_path / "adding.toml").write_text(shd_config(data_dir, kind="shd-adding", steps=6))
    cli("train", "--config", tmp_path / "adding.toml", "--out", tmp_path / "model.h5", "--quiet")
    script = os.path.join(os.environ["ELM_SOURCE_DIR"], "tools", "example", "quickstart.py")
    r = subprocess.run([sys.executable, script, "--model", str(tmp_path / "model.h5"), "--data",
                        str(data_dir / "test.h5"), "--out", str(tmp_path / "out")],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "simulate: 8 test pairs" in r.stdout
    assert "session: digits" in r.stdout
    png = tmp_path / "out" / "quickstart.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # A missing model is one line and a non-zero exit.
    r = subprocess.run([sys.executable, script, "--model", str(tmp_path / "none.h5")], capture_output=True, text=True,
                       timeout=TIMEOUT)
    assert r.returncode != 0 and "not found" in r.stderr
