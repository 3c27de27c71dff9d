"""Real plugin distributions for the tests, and a fresh Python process that sees them.

A test writes a distribution the way an installer leaves it: a ``<name>-<version>.dist-info`` folder with
``METADATA`` and an ``entry_points.txt`` holding a ``[tfae]`` section, beside the plugin's module. With that
folder on ``PYTHONPATH``, importlib.metadata finds the entry points exactly as it finds an installed
package's, so nothing is mocked. The checks run in a subprocess: importlib.metadata and the registry are
per-process, so each test starts clean.

``write_contributing_example`` writes the plugin package that CONTRIBUTING.md shows, from its code blocks.
"""

import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

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
    result = subprocess.run(args, env=python_env(paths, **variables), capture_output=True, text=True, timeout=300)
    if check:
        assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    return result


def run_python(code, paths=(), **variables):
    """Runs ``code`` in a fresh interpreter and returns the JSON object it prints on its last line."""
    result = run([sys.executable, "-c", textwrap.dedent(code)], paths, **variables)
    return json.loads(result.stdout.strip().splitlines()[-1])
