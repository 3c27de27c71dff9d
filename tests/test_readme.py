"""The README's Python example runs as written, in a fresh process."""

import os
import pathlib
import re
import subprocess
import sys

import pytest

from timeouts import HANG_TIMEOUT_S

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(markdown):
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.DOTALL)


@pytest.mark.slow
def test_readme_python_blocks_run_in_order(tmp_path):
    blocks = python_blocks(README.read_text())
    assert len(blocks) >= 2
    script = "\n".join(blocks) + "\nassert images.shape == (1797, 64) and 0 <= images.min() and images.max() <= 1\n"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=HANG_TIMEOUT_S
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "vae.keras").stat().st_size > 1000
