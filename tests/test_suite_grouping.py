"""The suite's own machinery: tests that share one expensive fixture run on one pytest-xdist worker.

``@pytest.mark.xdist_group`` (with ``--dist loadgroup``, pyproject.toml's addopts) keeps such tests together
(the distribute-equivalence runs, the multi-worker runs, the Lambda files), so that their fixture is built
once, not once per worker. pytest 9.2 with pytest-xdist 3.8 ignores the mark without a word
(pytest-dev/pytest-xdist#1386): this test fails when the installed pair does that.
"""

import os
import subprocess
import sys
import textwrap

from timeouts import HANG_TIMEOUT_S

GROUPED = """
import os
import pytest

@pytest.mark.xdist_group("shared")
@pytest.mark.parametrize("index", range(8))
def test_grouped(index):
    with open(os.path.join(os.environ["GROUPED_OUT"], f"grouped-{index}"), "w") as file:
        file.write(os.environ["PYTEST_XDIST_WORKER"])

@pytest.mark.parametrize("index", range(8))
def test_free(index):
    pass
"""


def test_tests_of_one_xdist_group_run_on_one_worker(tmp_path):
    (tmp_path / "test_grouped.py").write_text(textwrap.dedent(GROUPED))
    (tmp_path / "out").mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env["GROUPED_OUT"] = str(tmp_path / "out")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-n",
            "2",
            "--dist",
            "loadgroup",
            "-p",
            "no:cacheprovider",
            "-q",
            "test_grouped.py",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    workers = {(tmp_path / "out" / f"grouped-{index}").read_text() for index in range(8)}
    assert len(workers) == 1, f"the group ran on the workers {sorted(workers)}"
