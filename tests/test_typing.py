"""tfae's annotations reach a user's type checker.

mypy, run as a user runs it (tfae found as an installed package through its ``py.typed``), accepts the
user-style code in tests/typing/user_code.py, rejects an import of a misspelt class, and rejects arguments of
the wrong type. .ci/run also runs ``mypy`` over src/tfae with pyproject.toml's ``[tool.mypy]``.
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from timeouts import HANG_TIMEOUT_S

pytest.importorskip("mypy", reason="mypy is a test dependency: pip install -e '.[test]'")

ROOT = Path(__file__).parents[1]
USER_CODE = ROOT / "tests" / "typing" / "user_code.py"

# Each line marked `# rejected` must be an error, and no other line may be.
WRONG_CALLS = """\
from tfae.bottlenecks import GaussianBottleneck, VanillaBottleneck
from tfae.models import DeepAutoencoder
from tfae.regularizers import GaussianKLDRegularizer
from tfae.schedulers import DASRScheduler

GaussianBottleneck(latent_dim=2, regularizer="kld")
GaussianBottleneck(latent_dim="two")  # rejected
GaussianBottleneck(latent_dim=2, regularizer=0.5)  # rejected
VanillaBottleneck(latent_dim=2, regularizer=GaussianKLDRegularizer(beta=0.5))
VanillaBottleneck(latent_dim=2, regularizer=["kld", {"name": "l2"}])
VanillaBottleneck(latent_dim=2, regularizer=[0.5])  # rejected
DASRScheduler(0.0, 1.0, attack=10)
DASRScheduler(0.0, 1.0, attack=2.5)  # rejected
DASRScheduler(0.0, 1.0).value_at("first")  # rejected
DeepAutoencoder("gaussian", add_hidden=len)  # rejected
beta: float = GaussianKLDRegularizer(beta=0.5).beta
latent_dim: str = GaussianBottleneck(latent_dim=2).latent_dim  # rejected
"""


@pytest.fixture(scope="module")
def mypy(tmp_path_factory):
    """Runs mypy with the project's configuration on the files given; one cache for the module's runs."""
    cache = tmp_path_factory.mktemp("mypy_cache")

    def run(*files):
        command = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml")]
        command += ["--cache-dir", str(cache), "--show-error-codes", *map(str, files)]
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=HANG_TIMEOUT_S)

    return run


def test_mypy_accepts_the_user_code(mypy):
    result = mypy(USER_CODE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


def test_mypy_rejects_a_misspelt_class_and_wrong_arguments(mypy, tmp_path):
    misspelt = tmp_path / "misspelt.py"
    misspelt.write_text("from tfae.bottlenecks import GausianBottleneck\n")
    wrong = tmp_path / "wrong_calls.py"
    wrong.write_text(WRONG_CALLS)

    result = mypy(misspelt, wrong)

    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert f'{misspelt.name}:1: error: Module "tfae.bottlenecks" has no attribute "GausianBottleneck"' in output
    assert 'maybe "GaussianBottleneck"' in output
    rejected = {number for number, line in enumerate(WRONG_CALLS.splitlines(), 1) if line.endswith("# rejected")}
    errors = {
        int(line.split(":")[1]) for line in output.splitlines() if line.startswith(f"{wrong}:") and ": error:" in line
    }
    assert errors == rejected, output
    assert 'Argument "latent_dim" to "GaussianBottleneck" has incompatible type "str"; expected "int"' in output
    assert 'Argument "attack" to "DASRScheduler" has incompatible type "float"; expected "int"' in output


def test_the_user_code_runs():
    """The checked code is real code: its models train, save and load (its contract checks are not run)."""
    spec = importlib.util.spec_from_file_location("tfae_user_code", USER_CODE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main()
