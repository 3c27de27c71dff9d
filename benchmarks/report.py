"""What every benchmark script records beside its figures, and how it writes them: when it ran, the command,
the machine, the library versions and the commit the code came from; the results as an indented JSON file.

The scripts run as ``python benchmarks/<script>.py``, so this folder is on ``sys.path`` and ``import report``
finds this module. ``python benchmarks/tables.py`` renders docs/benchmarks.md's tables from the files written.
"""

import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from importlib.metadata import PackageNotFoundError, version

DISTRIBUTIONS = ("tfae", "tfae-disentangle", "keras", "tensorflow", "jax", "torch", "pythae")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# What a results file must record for its tables to be traced to the code that made them (tests check it).
PROVENANCE = ("date", "command", "machine", "versions", "commit", "commit_source", "tree_clean")
# Where a machine without the git checkout (the lent GPU machine) finds the state of the checkout that its copy
# came from: a file that benchmarks/device/fetch_wheels.sh writes with ``python benchmarks/report.py git-state``.
GIT_STATE_VARIABLE = "TFAE_BENCHMARK_GIT_STATE"


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


def cpu_model():
    """The processor's name as Linux reports it (``platform.processor()`` is empty there), or None elsewhere."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def machine():
    """The architecture, the number of cores, the processor and the operating system, in one line."""
    parts = [platform.machine(), f"{os.cpu_count()} cores", cpu_model(), platform.platform()]
    return ", ".join(part for part in parts if part)


def git_state(root=ROOT):
    """The commit checked out and whether ``git status --porcelain`` was empty: a run uses the working tree, so a
    tree that is not clean means the commit alone does not say which code made the figures (the paths changed are
    kept too). Where ``root`` is no git checkout, the state that the file named by ``$TFAE_BENCHMARK_GIT_STATE``
    recorded of the checkout it was copied from, or None."""

    def git(*arguments):
        try:
            finished = subprocess.run(["git", "-C", root, *arguments], capture_output=True, text=True, check=True)
        except (OSError, subprocess.CalledProcessError):
            return None
        return finished.stdout

    commit = git("rev-parse", "HEAD")
    if commit is None and os.environ.get(GIT_STATE_VARIABLE):
        path = os.environ[GIT_STATE_VARIABLE]
        if not os.path.exists(path):
            raise SystemExit(
                f"${GIT_STATE_VARIABLE} names {path}, which does not exist: run benchmarks/device/fetch_wheels.sh "
                "in the git checkout again (it writes the file), or unset the variable"
            )
        with open(path) as file:
            recorded = json.load(file)
        return {
            **recorded,
            "commit_source": "git rev-parse HEAD when benchmarks/device/fetch_wheels.sh ran in the checkout this "
            f"copy came from (${GIT_STATE_VARIABLE}; no git checkout where the script ran)",
        }
    status = git("status", "--porcelain")
    return {
        "commit": commit.strip() if commit else None,
        "commit_source": "git rev-parse HEAD when the script started",
        "tree_clean": None if status is None else status == "",
        "uncommitted": [line[3:] for line in status.splitlines()] if status else [],
    }


def code_fingerprint(root=ROOT):
    """A digest of the commit checked out, ``git status --porcelain`` and ``git diff HEAD`` (None where ``root`` is
    no git checkout): two equal fingerprints mean the same code, edits to a file already modified included."""
    outputs = []
    for arguments in (("rev-parse", "HEAD"), ("status", "--porcelain"), ("diff", "HEAD")):
        try:
            finished = subprocess.run(["git", "-C", root, *arguments], capture_output=True, check=True)
        except (OSError, subprocess.CalledProcessError):
            return None
        outputs.append(finished.stdout)
    return hashlib.sha256(b"\0".join(outputs)).hexdigest()


def _state_at_start():
    try:
        return git_state()
    except SystemExit:  # $TFAE_BENCHMARK_GIT_STATE names no file: git_state says so again when provenance calls it
        return None


# The checkout as the script started (a benchmark script imports this module first): the code that made the
# figures, which provenance() records even where the tree is edited or a commit made while a long run goes on.
STATE_AT_START = _state_at_start()
FINGERPRINT_AT_START = code_fingerprint()


def provenance(script, argv=None):
    """The date, the command (``argv`` when ``main`` was called with one, else this process's), the machine, the
    versions and the commit, as the first entries of a results file; ``script`` is the caller's ``__file__``.

    The commit and the tree's state are those of the checkout when the script started. Where the code changed
    while it ran (another commit, or other uncommitted changes), ``tree_clean`` is false, for no one state made
    all the figures, and ``changed_during_run`` holds the state at the end.
    """
    command = ["python", *sys.argv] if argv is None else ["python", os.path.relpath(script, ROOT), *argv]
    if STATE_AT_START is None:
        state = git_state()
    elif code_fingerprint() == FINGERPRINT_AT_START:
        state = STATE_AT_START
    else:
        end = {**git_state(), "commit_source": "git rev-parse HEAD when the results were written"}
        state = {**STATE_AT_START, "tree_clean": False, "changed_during_run": end}
    return {
        "date": time.strftime("%Y-%m-%d"),
        "command": " ".join(command),
        "machine": machine(),
        "versions": versions(),
        **state,
    }


def missing_provenance(results):
    """The entries of ``PROVENANCE`` that ``results`` lacks (``tree_clean`` may be None: not known)."""
    return [key for key in PROVENANCE if key not in results or (results[key] in (None, "", {}) and key != "tree_clean")]


def write(results, path):
    """Writes ``results`` to the JSON file ``path``, making its folder, and says so."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as file:
        json.dump(results, file, indent=2)
    print(f"written to {path}")


if __name__ == "__main__":
    if sys.argv[1:] != ["git-state"]:
        raise SystemExit("usage: python benchmarks/report.py git-state   (prints this checkout's commit and status)")
    print(json.dumps(git_state(), indent=2))
