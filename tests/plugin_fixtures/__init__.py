"""Real plugin distributions for the tests, and a fresh Python process that sees them.

A test writes a distribution the way an installer leaves it: a ``<name>-<version>.dist-info`` folder with
``METADATA`` and an ``entry_points.txt`` holding a ``[tfae]`` section, beside the plugin's module. With that
folder on ``PYTHONPATH``, importlib.metadata finds the entry points exactly as it finds an installed
package's, so nothing is mocked. The checks run in a subprocess: importlib.metadata and the registry are
per-process, so each test starts clean.

``pip_install_distribution`` goes the whole way instead: it packs the distribution into a wheel and installs
that with pip, as a user would. ``write_contributing_example`` writes the plugin package that CONTRIBUTING.md
shows, from its code blocks.
"""

import base64
import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

from timeouts import HANG_TIMEOUT_S

CONTRIBUTING = Path(__file__).parents[2] / "CONTRIBUTING.md"


def write_distribution(root, name, version, entry_points, modules):
    """Writes distribution ``name`` ``version`` into folder ``root`` and returns ``root``.

    Args:
        root: the folder to put on PYTHONPATH.
        name: the distribution name, such as ``"tfae-alpha"``.
        version: its version string.
        entry_points: ``{entry_point_name: module}`` for the ``tfae`` group.
        modules: ``{module: source}``; each module is written as ``<root>/<module>.py``.
    """
    root = Path(root)
    dist_info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = "".join(f"{entry_point} = {module}\n" for entry_point, module in entry_points.items())
    (dist_info / "entry_points.txt").write_text(f"[tfae]\n{lines}")
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))
    return root


def pip_install_distribution(root, name, version, entry_points, modules):
    """Builds distribution ``name`` ``version`` as a wheel, pip-installs it into ``root/site`` and returns that
    folder, to put on PYTHONPATH.

    The wheel is written here, file by file, so that no build backend is needed; pip installs it exactly as
    it installs one from PyPI, with no network.

    Args:
        root: a folder for the wheel and the installation.
        name: the distribution name, such as ``"tfae-clash"``.
        version: its version string.
        entry_points: ``{entry_point_name: module}`` for the ``tfae`` group.
        modules: ``{module: source}``; each module is a top-level ``<module>.py``.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    stem = f"{re.sub(r'[-_.]+', '_', name)}-{version}"
    dist_info = f"{stem}.dist-info"
    lines = "".join(f"{entry_point} = {module}\n" for entry_point, module in entry_points.items())
    files = {f"{module}.py": textwrap.dedent(source) for module, source in modules.items()}
    files[f"{dist_info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    wheel_tags = "Wheel-Version: 1.0\nGenerator: tfae-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files[f"{dist_info}/WHEEL"] = wheel_tags
    files[f"{dist_info}/entry_points.txt"] = f"[tfae]\n{lines}"
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    files[f"{dist_info}/RECORD"] = "\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n"
    wheel = root / f"{stem}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    site = root / "site"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", str(site), str(wheel)]
    run(pip, PIP_DISABLE_PIP_VERSION_CHECK="1")
    return site


def plugin_distribution(root, plugin, version, source):
    """Writes distribution ``tfae-<plugin>`` into ``root/tfae-<plugin>``, whose entry point ``plugin`` names
    module ``<plugin>_plugin`` with ``source``; returns the folder to put on PYTHONPATH."""
    distribution = f"tfae-{plugin}"
    module = f"{plugin}_plugin"
    return write_distribution(Path(root) / distribution, distribution, version, {plugin: module}, {module: source})


def bottleneck_plugin(class_name, name, aliases=()):
    """The source of a plugin module registering a small bottleneck ``class_name`` under ``name``."""
    return f"""
        import tfae
        from tfae.bottlenecks import BaseBottleneck


        class {class_name}(BaseBottleneck):
            def __init__(self, latent_dim=2, **kwargs):
                super().__init__(latent_dim, **kwargs)


        @tfae.hookimpl
        def register_bottlenecks(register):
            register({class_name}, name={name!r}, aliases={list(aliases)!r})
        """


# A third party that registers its regularizer under tfae's own names "kld" and "kl" (a clash), and a scheduler
# under a name of its own.
CLASH_PLUGIN = """
    from keras import ops

    import tfae
    from tfae.regularizers import GaussianKLDRegularizer
    from tfae.schedulers import BaseScheduler


    class ClashKLDRegularizer(GaussianKLDRegularizer):
        def __init__(self, beta=1.0, scale=1.0):
            super().__init__(beta=beta)
            self.scale = float(scale)

        def calc(self, mean, log_variance):
            return self.scale * super().calc(mean, log_variance)

        def get_config(self):
            return {**super().get_config(), "scale": self.scale}


    class SteadyScheduler(BaseScheduler):
        def __init__(self, level=0.5, unit="epoch"):
            self.level = float(level)
            super().__init__(unit=unit)

        def calc(self, n):
            return ops.zeros_like(ops.cast(n, "float32")) + self.level

        @property
        def duration(self):
            return 0

        def get_config(self):
            return {"level": self.level, **super().get_config()}


    @tfae.hookimpl
    def register_regularizers(register):
        register(ClashKLDRegularizer, name="kld", aliases=["kl"])


    @tfae.hookimpl
    def register_schedulers(register):
        register(SteadyScheduler, name="steady")
    """


def install_clash_plugin(root):
    """pip-installs ``tfae-clash`` 1.0 (``CLASH_PLUGIN``, entry point ``clash``) into ``root``; returns the
    folder to put on PYTHONPATH."""
    modules = {"clash_plugin": CLASH_PLUGIN}
    return pip_install_distribution(root, "tfae-clash", "1.0", {"clash": "clash_plugin"}, modules)


def write_contributing_example(root):
    """Writes each code block of CONTRIBUTING.md whose first line is a comment naming a file into ``root``.

    Returns:
        The files written, relative to ``root``.
    """
    written = []
    for block in re.findall(r"^```(?:python|toml)\n(.*?)^```", CONTRIBUTING.read_text(), re.M | re.S):
        first_line, _, _ = block.partition("\n")
        match = re.fullmatch(r"# ([\w./-]+\.(?:py|toml))", first_line)
        if match:
            path = Path(root) / match.group(1)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(block)
            written.append(match.group(1))
    return written


def python_env(paths=(), **variables):
    """The environment of a fresh interpreter: ``paths`` first on PYTHONPATH, no inherited TFAE_* setting.

    The registry is backend-neutral, so the checks run on JAX where it is installed: Keras starts on it in
    half the time it takes to import TensorFlow.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("TFAE_")}
    if importlib.util.find_spec("jax") is not None:
        env["KERAS_BACKEND"] = "jax"
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env["PYTHONPATH"] = os.pathsep.join([*map(str, paths), *filter(None, [os.environ.get("PYTHONPATH")])])
    env.update(variables)
    return env


def run(args, paths=(), check=True, **variables):
    """Runs ``args`` (a command) with ``python_env``; returns the completed process."""
    env = python_env(paths, **variables)
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=HANG_TIMEOUT_S)
    if check:
        assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    return result


def run_python(code, paths=(), **variables):
    """Runs ``code`` in a fresh interpreter and returns the JSON object it prints on its last line."""
    result = run([sys.executable, "-c", textwrap.dedent(code)], paths, **variables)
    return json.loads(result.stdout.strip().splitlines()[-1])
