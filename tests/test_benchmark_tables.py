"""docs/benchmarks.md's tables against the results files they come from (benchmarks/tables.py), the provenance every
results file records (benchmarks/report.py), and the README's speed claims against the same files.

Nothing here trains or times anything: the renderer reads the JSON files, as `python benchmarks/tables.py --check`
does.
"""

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
DOCS = ROOT / "docs" / "benchmarks.md"
RESULTS = sorted(BENCHMARKS.glob("results-*.json"))


def module(name):
    """A script of benchmarks/ as a module (they import each other by name, as when run from there)."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    return importlib.import_module(name)


def git(*arguments):
    return subprocess.run(["git", "-C", str(ROOT), *arguments], capture_output=True, text=True, check=True).stdout


def test_every_generated_section_is_the_rendering_of_its_results_file():
    tables = module("tables")
    stale = tables.stale(DOCS.read_text())
    assert stale == [], (
        f"docs/benchmarks.md's sections {stale} differ from their results files: run "
        "python benchmarks/tables.py --write-docs"
    )


def test_every_table_of_the_page_is_in_a_generated_section():
    tables = module("tables")
    text = DOCS.read_text()
    outside = text
    for section in tables.SECTIONS:
        outside = outside.replace(tables.find(text, section), "")
    table_lines = [line for line in outside.splitlines() if line.startswith("|")]
    assert table_lines == [], f"tables written by hand in docs/benchmarks.md: {table_lines[:3]}"


def test_every_results_file_is_rendered_on_the_page():
    tables = module("tables")
    rendered = {source for section in tables.SECTIONS for source in section.sources}
    assert {f"benchmarks/{path.name}" for path in RESULTS} == rendered


@pytest.mark.parametrize("path", RESULTS, ids=lambda path: path.name)
def test_every_results_file_records_its_commit_date_machine_and_versions(path):
    report = module("report")
    results = json.loads(path.read_text())
    runs = [results, *results.get("additions", [])]  # the pythae zoo's --append runs record their own
    for run in runs:
        assert report.missing_provenance(run) == [], f"{path.name} lacks {report.missing_provenance(run)}"
        assert re.fullmatch(r"[0-9a-f]{40}", run["commit"]), run["commit"]
        assert run["tree_clean"] in (True, False, None)
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", run["date"])
        # The commit is in this repository's history, so `git show <commit>` gives the code that was there.
        git("merge-base", "--is-ancestor", run["commit"], "HEAD")


@pytest.mark.parametrize(
    "path",
    [path for path in RESULTS if json.loads(path.read_text())["commit_source"].startswith("git log")],
    ids=lambda path: path.name,
)
def test_a_commit_recovered_from_git_history_holds_the_same_figures(path):
    """A file that did not record its commit names the one that last changed it before the commit was added:
    that commit's copy holds the same figures, without the three entries added afterwards."""
    results = json.loads(path.read_text())
    assert results["tree_clean"] is None
    then = json.loads(git("show", f"{results['commit']}:benchmarks/{path.name}"))
    added = {"commit", "commit_source", "tree_clean"}
    assert then == {key: value for key, value in results.items() if key not in added}


def test_the_transcribed_step_anatomy_is_the_table_the_page_had_at_its_commit():
    tables = module("tables")
    results = json.loads((BENCHMARKS / "results-step-anatomy.json").read_text())
    assert results["commit_source"].startswith("transcribed")
    page_then = git("show", f"{results['commit']}:docs/benchmarks.md")
    (section,) = [section for section in tables.SECTIONS if section.name == "step-anatomy"]
    rendered = section.render()
    table = [line for line in rendered.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(table) == len(results["rows"])
    for line in table:
        # The page then wrote an empty cell as "| |"; the renderer as "|  |".
        assert line.replace("|  |", "| |") in page_then, line


def test_a_changed_figure_or_table_is_caught_and_named(tmp_path, capsys):
    """--check fails naming the section when the page's table differs from its file, and --write-docs mends it;
    a changed figure in a results file changes what its section renders."""
    tables = module("tables")
    page = tmp_path / "benchmarks.md"
    page.write_text(DOCS.read_text().replace("| 128 | keras | 9,416 | 0.86 |", "| 128 | keras | 9,417 | 0.86 |", 1))
    assert tables.main(["--check", "--docs", str(page)]) == 1
    message = capsys.readouterr().err
    assert "the section 'cpu' is missing or differs from what its results file renders" in message
    assert "run python benchmarks/tables.py --write-docs" in message
    assert tables.main(["--write-docs", "--docs", str(page)]) == 0
    assert page.read_text() == DOCS.read_text()
    assert tables.main(["--check", "--docs", str(page)]) == 0

    (section,) = [section for section in tables.SECTIONS if section.name == "cpu"]
    results = json.loads((BENCHMARKS / "results-cpu.json").read_text())
    results["throughput"]["128"]["keras"]["samples_per_second"] += 1
    assert section.render([results]) != section.render()
    del results["commit"], results["tree_clean"]
    with pytest.raises(ValueError, match="results-cpu.json lacks commit, tree_clean: a table is rendered only from"):
        section.render([results])


def test_a_section_says_whether_the_tree_was_clean_and_which_code_was_not_committed():
    tables = module("tables")
    (section,) = [section for section in tables.SECTIONS if section.name == "startup"]
    results = json.loads((BENCHMARKS / "results-startup.json").read_text())
    recorded = {
        "commit": "0123456789abcdef" * 2 + "01234567",
        "commit_source": "git rev-parse HEAD when the script ran",
    }
    clean = section.render([{**results, **recorded, "tree_clean": True, "uncommitted": []}])
    assert "run on 2026-12-01 at commit `0123456789ab`, a clean tree." in clean
    changed = [
        "src/tfae/cli.py",
        "docs/benchmarks.md",
        "plugins/tfae-vq/src/tfae_vq/vq.py",
        "plugins/tfae-vq/tests/t.py",
    ]
    dirty = section.render([{**results, **recorded, "tree_clean": False, "uncommitted": changed}])
    assert (
        "at commit `0123456789ab`, with uncommitted changes in the tree, in the code it may have run: "
        "`src/tfae/cli.py`, `plugins/tfae-vq/src/tfae_vq/vq.py`."
    ) in dirty
    docs_only = section.render([{**results, **recorded, "tree_clean": False, "uncommitted": ["README.md"]}])
    assert "with uncommitted changes in the tree, none in the code it may have run" in docs_only


def test_a_page_without_a_section_is_refused_with_what_to_do(tmp_path):
    tables = module("tables")
    page = tmp_path / "benchmarks.md"
    text = DOCS.read_text()
    (section,) = [section for section in tables.SECTIONS if section.name == "startup"]
    page.write_text(text.replace(tables.find(text, section), ""))
    with pytest.raises(SystemExit, match="has no single section 'startup'.*put its markers where its table belongs"):
        tables.main(["--write-docs", "--docs", str(page)])
    assert page.read_text() == text.replace(tables.find(text, section), "")  # nothing half-written


def test_provenance_records_this_checkout_commit_and_whether_its_tree_is_clean():
    report = module("report")
    before = git("rev-parse", "HEAD").strip()
    recorded = report.provenance(str(BENCHMARKS / "tables.py"), ["--check"])
    after = git("rev-parse", "HEAD").strip()  # other work may commit meanwhile
    assert report.missing_provenance(recorded) == []
    assert recorded["commit"] in (before, after)
    assert recorded["commit_source"] == "git rev-parse HEAD when the script started"
    assert isinstance(recorded["tree_clean"], bool)
    assert recorded["tree_clean"] == (recorded["uncommitted"] == [])
    assert recorded["command"] == "python benchmarks/tables.py --check"
    assert re.match(r"\S+, \d+ cores, ", recorded["machine"]), recorded["machine"]
    assert {"python", "tfae", "keras"} <= set(recorded["versions"])


def test_provenance_records_the_code_the_run_started_from_and_a_change_while_it_ran(tmp_path):
    """A long run whose checkout gets another commit (or other edits) before it writes its results records the
    state it started from, the tree as not clean, and the state at its end; the table says so."""
    checkout = tmp_path / "checkout"
    (checkout / "benchmarks").mkdir(parents=True)
    (checkout / "benchmarks" / "report.py").write_text((BENCHMARKS / "report.py").read_text())
    (checkout / "code.py").write_text("speed = 1\n")

    def in_checkout(*arguments):
        command = ["git", "-C", str(checkout), "-c", "user.name=t", "-c", "user.email=t@t", *arguments]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()

    in_checkout("init", "-q")
    in_checkout("add", ".")
    in_checkout("commit", "-qm", "first")
    started = in_checkout("rev-parse", "HEAD")
    go = tmp_path / "go"
    script = (
        "import json, os, sys, time\n"
        f"sys.path.insert(0, {str(checkout / 'benchmarks')!r})\n"
        "import report\n"
        "print('started', flush=True)\n"
        f"while not os.path.exists({str(go)!r}):\n"
        "    time.sleep(0.05)\n"
        f"print(json.dumps(report.provenance({str(checkout / 'benchmarks' / 'bench.py')!r}, [])))\n"
    )
    run = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert run.stdout.readline().strip() == "started"
        (checkout / "code.py").write_text("speed = 2\n")
        in_checkout("commit", "-qam", "faster")
        go.touch()
        recorded = json.loads(run.communicate(timeout=60)[0].strip().splitlines()[-1])
    finally:
        run.kill()
    ended = in_checkout("rev-parse", "HEAD")
    assert recorded["commit"] == started != ended
    assert recorded["tree_clean"] is False
    assert recorded["changed_during_run"]["commit"] == ended
    assert recorded["changed_during_run"]["tree_clean"] is True

    tables = module("tables")
    assert tables.commit_text(recorded) == (
        f"commit `{started[:12]}` as the run started; the code changed while it ran (commit `{ended[:12]}` at its "
        "end): no one state of the code made every figure"
    )


def test_a_copy_without_git_records_the_state_of_the_checkout_it_came_from(tmp_path, monkeypatch):
    """The lent GPU machine gets the tree without .git: fetch_wheels.sh writes `report.py git-state` beside the
    wheels, and run_gpu.sh points $TFAE_BENCHMARK_GIT_STATE at it."""
    report = module("report")
    monkeypatch.delenv(report.GIT_STATE_VARIABLE, raising=False)
    assert report.git_state(str(tmp_path)) == {
        "commit": None,
        "commit_source": "git rev-parse HEAD when the script started",
        "tree_clean": None,
        "uncommitted": [],
    }
    state = tmp_path / "git-state.json"
    written = subprocess.run(
        [sys.executable, str(BENCHMARKS / "report.py"), "git-state"], capture_output=True, text=True, check=True
    ).stdout
    state.write_text(written)
    monkeypatch.setenv(report.GIT_STATE_VARIABLE, str(state))
    copied = report.git_state(str(tmp_path))
    assert copied["commit"] == json.loads(written)["commit"] and copied["tree_clean"] is not None
    assert copied["commit_source"].startswith("git rev-parse HEAD when benchmarks/device/fetch_wheels.sh ran")
    monkeypatch.setenv(report.GIT_STATE_VARIABLE, str(tmp_path / "absent.json"))
    with pytest.raises(SystemExit, match="absent.json, which does not exist: run benchmarks/device/fetch_wheels.sh"):
        report.git_state(str(tmp_path))
    for script in ("fetch_wheels.sh", "run_gpu.sh"):
        assert "git-state.json" in (BENCHMARKS / "device" / script).read_text()


def test_every_script_that_writes_results_records_provenance():
    for script in BENCHMARKS.glob("*.py"):
        source = script.read_text()
        if "report.write(" in source or "write_results(" in source:
            assert "report.provenance(" in source, f"{script.name} writes results without report.provenance"


def test_the_readme_speed_claims_follow_the_results_files():
    """README.md's "Speed:" bullet quotes the ratios of benchmarks/results-cpu-mlp-*.json and -conv-pythae.json."""
    tables = module("tables")
    files = {
        name: json.loads((BENCHMARKS / f"results-cpu-{name}.json").read_text())
        for name in ("mlp-xla-default", "mlp-pythae", "conv-pythae")
    }
    over_keras = [
        tables.speed(files[name], size, "tfae", "keras")
        for name in ("mlp-xla-default", "mlp-pythae")
        for size in (128, 1024)
    ]
    over_pythae = [tables.speed(files["mlp-pythae"], size, "tfae", "pythae") for size in (128, 1024)]
    conv = files["conv-pythae"]
    speed = " ".join(
        re.search(r"^- Speed:(.*?)\n(?=\S|\n)", (ROOT / "README.md").read_text(), re.S | re.M).group(1).split()
    )
    assert f"{min(over_keras):.2f}x to {max(over_keras):.2f}x as fast as the same model hand-written in Keras" in speed
    assert f"{min(over_pythae):.1f}x to {max(over_pythae):.1f}x as fast as pythae's" in speed
    assert "a convolutional VAE at batch 128 as fast as the hand-written one" in speed
    assert abs(tables.speed(conv, 128, "tfae", "keras") - 1) < 0.05
    assert (
        f"{tables.speed(conv, 128, 'tfae', 'pythae'):.1f}x pythae's "
        f"({tables.speed(conv, 1024, 'tfae', 'pythae'):.1f}x at 1024)"
    ) in speed


def test_the_dsprites_table_shows_every_seed_and_welchs_test_or_why_it_is_missing():
    tables, significance = module("tables"), module("significance")
    scores = {
        "vae": ([0.012, 0.027, 0.015], [0.42, 0.51, 0.36]),
        "beta_tcvae": ([0.071, 0.118, 0.026], [0.5, 0.5, 0.5]),
    }
    dsprites = {
        "settings": {"seeds": [0, 1, 2], "factor_vae_gamma": 35},
        "reported": {"mig_chen2018": {"vae": "~0.1"}, "factor_vae_score_kim_mnih2018": {"vae": "~0.65"}},
        "runs": {name: [{"mig": m, "factor_vae_score": f} for m, f in zip(*scores[name])] for name in scores},
        "summary": {
            name: {
                metric: {"mean": sum(values) / 3, "sd": 0.01}
                for metric, values in zip(("mig", "factor_vae_score"), scores[name])
            }
            for name in scores
        },
    }
    without = "\n".join(tables.disentanglement_scores(dsprites))
    assert "| VAE | 0.018 +- 0.010 | 0.012, 0.027, 0.015 | ~0.1 |" in without
    assert "| beta-TCVAE (beta = 6) | **0.072** +- 0.010 | 0.071, 0.118, 0.026 | not in the paper |" in without
    assert "recorded no Welch test (the script records one, since issue 26, where it trains both" in without
    mig = significance.welch_test(scores["beta_tcvae"][0], scores["vae"][0])
    dsprites["welch_beta_tcvae_vs_vae"] = {
        "mig": mig,
        "factor_vae_score": significance.welch_test([0.5, 0.5], [0.4]),
    }
    rendered = "\n".join(tables.disentanglement_scores(dsprites))
    assert (
        f"| MIG | 0.072 +- 0.046 (n = 3) | 0.018 +- 0.008 (n = 3) | +0.054 | {mig['cohens_d']:.2f} | {mig['t']:.2f} "
        f"| {mig['df']:.1f} | {mig['p_value']:.2g} |"
    ) in rendered
    assert (
        "| FactorVAE score | 0.500 +- 0.000 (n = 2) | 0.400 (n = 1) | Welch's test needs at least two seeds a side; "
        "received 2 and 1 |"
    ) in rendered
