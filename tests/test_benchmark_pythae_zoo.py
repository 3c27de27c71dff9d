"""benchmarks/pythae_zoo.py: its --smoke run, and docs/benchmarks.md's section against the results file it comes from.

The smoke run trains tfae's side alone where torch and pythae are not installed (CI), both sides where they are.
"""

import importlib
import json
import math
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from timeouts import HANG_TIMEOUT_S

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
RESULTS = BENCHMARKS / "results-pythae-zoo.json"


def zoo():
    """The script as a module: it imports NumPy and benchmarks/report.py, not TensorFlow, PyTorch or pythae."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    return importlib.import_module("pythae_zoo")


@pytest.mark.slow
def test_smoke_run_trains_and_estimates_each_model(tmp_path):
    output = tmp_path / "zoo.json"
    finished = subprocess.run(
        [sys.executable, str(BENCHMARKS / "pythae_zoo.py"), "--smoke", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=HANG_TIMEOUT_S,
    )
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    results = json.loads(output.read_text())
    module = zoo()
    assert results["mode"] == "smoke"
    assert results["libraries"][0] == "tfae"
    assert list(results["runs"]) == list(module.SMOKE_MODELS)
    settings = module.SETTINGS["smoke"]
    for name in module.SMOKE_MODELS:
        for library in results["libraries"]:
            (run,) = results["runs"][name][library]
            assert "error" not in run, run
            assert len(run["epoch_seconds"]) == settings["epochs"]
            # A Bernoulli model of 64 binary pixels: log p(x) below 0, and above a coin's 64 log(1/2) once trained
            # at all (a model two epochs old may still be near it, so only its sign and size are checked).
            assert -200 < run["log_likelihood"] < 0
            assert set(run["load_average_1min"]) == {"before", "after"}
        summary = results["summary"][name]
        assert summary["tfae"]["log_likelihood"]["seeds"] == 1
    section = module.markdown(results)
    assert section.startswith(module.BEGIN) and section.rstrip().endswith(module.END)


def test_docs_section_is_the_rendering_of_the_results_file():
    """The section of docs/benchmarks.md is generated from benchmarks/results-pythae-zoo.json, word for word."""
    module = zoo()
    results = json.loads(RESULTS.read_text())
    docs = (ROOT / "docs" / "benchmarks.md").read_text()
    assert docs.count(module.BEGIN) == 1 and docs.count(module.END) == 1
    start = docs.index(module.BEGIN)
    section = docs[start : docs.index(module.END) + len(module.END)] + "\n"
    assert section == module.markdown(results), (
        "docs/benchmarks.md's pythae-zoo section differs from its JSON: run python benchmarks/pythae_zoo.py --docs-only"
    )


def test_results_summary_agrees_with_every_run():
    """Each mean, sd, throughput and comparison in the results file follows from its per-seed runs."""
    module = zoo()
    results = json.loads(RESULTS.read_text())
    assert results["mode"] == "default" and results["commit"]
    assert set(results["summary"]) == set(results["runs"])
    for name, runs in results["runs"].items():
        for library, library_runs in runs.items():
            values = [run["log_likelihood"] for run in library_runs]
            assert len(values) == len(results["settings"]["seeds"])
            summary = results["summary"][name][library]
            assert math.isclose(summary["log_likelihood"]["mean"], statistics.fmean(values))
            assert math.isclose(summary["log_likelihood"]["sd"], statistics.stdev(values))
            rates = [module.TRAIN_DIGITS / s for run in library_runs for s in run["epoch_seconds"][1:]]
            assert math.isclose(summary["samples_per_second"]["median"], statistics.median(rates))
            assert math.isclose(summary["samples_per_second"]["fastest"], max(rates))
            for run in library_runs:
                assert len(run["epoch_seconds"]) == results["settings"]["epochs"]
                assert set(run["load_average_1min"]) == {"before", "after"}
        comparison = results["summary"][name]["comparison"]
        if comparison is not None:
            assert comparison == module.compare(results["summary"][name])


def test_append_puts_the_added_models_in_order_and_keeps_both_provenances(tmp_path):
    """--append: the added models' rows go where MODELS puts them, their skip lines replace the old ones, and the
    second command's commit and date are kept beside the first's; the file written reads back the same."""
    module = zoo()

    def results(names, commit, skipped=()):
        return {
            "date": "2026-12-07",
            "command": f"python benchmarks/pythae_zoo.py ({commit})",
            "machine": "m",
            "versions": {},
            "commit": commit,
            "commit_source": "git rev-parse HEAD when the script ran",
            "tree_clean": False,
            "uncommitted": [],
            "plugins": {},
            "wall_seconds": 1.0,
            "log": [],
            "runs": {name: {"tfae": []} for name in names},
            "summary": {name: {} for name in names},
            "models": {name: {"label": module.MODELS[name]["label"]} for name in names},
            "skipped": list(skipped),
        }

    first = results(["vae", "aae"], "a" * 40, [f"{module.MODELS['vmf']['label']}: skipped, not installed"])
    merged = module.merge(first, results(["vmf"], "b" * 40), ["vmf"])
    assert list(merged["runs"]) == list(merged["summary"]) == list(merged["models"]) == ["vae", "vmf", "aae"]
    assert merged["skipped"] == [] and merged["commit"] == "a" * 40
    assert [addition["commit"] for addition in merged["additions"]] == ["b" * 40]
    path = tmp_path / "zoo.json"
    merged["runs"]["vae"]["tfae"] = [{"epoch_seconds": [0.1, 2.5e-05, 3.0], "seed": 0, "loss": None}]
    module.write_results(merged, str(path))
    assert json.loads(path.read_text()) == merged
    assert '"epoch_seconds": [0.1, 2.5e-05, 3.0]' in path.read_text()
