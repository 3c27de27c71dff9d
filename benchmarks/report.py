"""What every benchmark script records beside its figures, and how it writes them: when it ran, the command,
the machine, the library versions; the results as an indented JSON file.

The scripts run as ``python benchmarks/<script>.py``, so this folder is on ``sys.path`` and ``import report``
finds this module.
"""

import json
import os
import platform
import sys
import time
from importlib.metadata import PackageNotFoundError, version

DISTRIBUTIONS = ("tfae", "tfae-disentangle", "keras", "tensorflow", "jax", "torch", "pythae")


def versions():
    """The versions of Python and of those of ``DISTRIBUTIONS`` that are installed (pythae has no ``__version__``:
    the package metadata has them all)."""
    found = {"python": platform.python_version()}
    for distribution in DISTRIBUTIONS:
        try:
            found[distribution] = version(distribution)
        except PackageNotFoundError:
            pass
    return found


def provenance(script, argv=None):
    """The date, the command (``argv`` when ``main`` was called with one, else this process's), the machine and
    the versions, as the first entries of a results file; ``script`` is the caller's ``__file__``."""
    command = ["python", *sys.argv] if argv is None else ["python", script, *argv]
    return {
        "date": time.strftime("%Y-%m-%d"),
        "command": " ".join(command),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or platform.platform()}",
        "versions": versions(),
    }


def write(results, path):
    """Writes ``results`` to the JSON file ``path``, making its folder, and says so."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as file:
        json.dump(results, file, indent=2)
    print(f"written to {path}")
