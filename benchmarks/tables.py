"""docs/benchmarks.md's tables, rendered from the results files that the benchmark scripts wrote.

    python benchmarks/tables.py --write-docs   # rewrite every generated section of docs/benchmarks.md
    python benchmarks/tables.py --check        # exit status 1, naming each section that differs from its JSON

Each table of the page lies in a generated section, from its ``begin`` line to its ``end`` line, that says which
results file it comes from and the date and commit that file records; the prose between the sections is written
by hand and quotes only figures that are in the results files. Edit this script (or, for the pythae zoo,
benchmarks/pythae_zoo.py), not a section, and run it with ``--write-docs``.
"""

import argparse
import json
import os
import statistics
import sys

import report

DOCS = os.path.join(report.ROOT, "docs", "benchmarks.md")
COMMIT_DIGITS = 12


def begin(name, sources, script="benchmarks/tables.py"):
    """The first line of a generated section: its name, its results files, and where to change it."""
    return (
        f"<!-- generated: {name}, from {', '.join(sources)} by `python benchmarks/tables.py --write-docs`; "
        f"edit {script}, not this section -->"
    )


def end(name):
    """The last line of a generated section."""
    return f"<!-- /generated: {name} -->"


def load(source):
    with open(os.path.join(report.ROOT, source)) as file:
        return json.load(file)


# ---------------------------------------------------------------------------------------------------------------
# Provenance and numbers


def commit_text(results):
    """The commit a results file records, and how it is known."""
    commit = f"commit `{results['commit'][:COMMIT_DIGITS]}`"
    source = results.get("commit_source", "")
    if source.startswith("git rev-parse"):
        if "changed_during_run" in results:
            end = results["changed_during_run"].get("commit") or "unknown"
            return (
                f"{commit} as the run started; the code changed while it ran (commit `{end[:COMMIT_DIGITS]}` at "
                "its end): no one state of the code made every figure"
            )
        if results["tree_clean"] is None:
            return f"{commit}, the tree's state unknown"
        if results["tree_clean"]:
            return f"{commit}, a clean tree"
        code = [path for path in results.get("uncommitted", []) if is_code(path)]
        return f"{commit}, with uncommitted changes in the tree, " + (
            f"in the code it may have run: {', '.join(f'`{path}`' for path in code)}"
            if code
            else "none in the code it may have run (`src/`, the plugins' `src/`, `benchmarks/`)"
        )
    if source.startswith("git log"):
        return f"{commit} (recovered from the git log of the results file: the run did not record one)"
    if source.startswith("transcribed"):
        return (
            f"{commit} (the results file was transcribed afterwards from the script's printed table in "
            "docs/benchmarks.md at that commit: the script wrote no JSON then)"
        )
    return f"{commit} ({source})"


def is_code(path):
    """Whether a path is Python that a benchmark may run: tfae's, a plugin's (not its tests) or a script's."""
    return path.endswith(".py") and (path.startswith(("src/", "benchmarks/")) or "/src/" in path)


def source_line(source, results, detail=False):
    """One sentence: which file, when, at which commit; with ``detail``, the machine, versions and command too."""
    line = f"From `{source}`: run on {results['date']} at {commit_text(results)}."
    if detail:
        versions = ", ".join(f"{name} {number}" for name, number in results["versions"].items())
        line += f" Machine: {results['machine']}; {versions}. Command: `{results['command']}`."
    return line


def rate(value):
    return f"{value:,.0f}"


def percent(fraction):
    return f"{100 * fraction:.1f}%"


def ratio(value):
    return f"{value:.2f}"


def megabytes(value):
    return f"{value:,.0f}"


def table(header, alignments, rows):
    """A Markdown table: ``alignments`` is one of "l" or "r" per column."""
    rule = " | ".join("---" if alignment == "l" else "---:" for alignment in alignments)
    return [f"| {' | '.join(header)} |", f"| {rule} |", *(f"| {' | '.join(row)} |" for row in rows)]


def verdict(measured, target, higher_is_better=True, note="", by=False):
    """ "met" or "missed" (``by`` how much, relative to the target), and ``note`` after a colon."""
    met = measured >= target if higher_is_better else measured <= target
    text = "met" if met else f"missed by {abs(measured / target - 1):.0%}" if by else "missed"
    return text + (f": {note}" if note else "")


def throughput_rows(results, names, columns):
    """The rows of a throughput table: batch, contestant (tfae in bold, marked where it compiled with XLA),
    samples/s and ``columns`` (functions of the batch's figures and the contestant's name)."""
    rows = []
    for batch_size, by_name in results["throughput"].items():
        for name in names:
            if name not in by_name:
                continue
            figures = by_name[name]
            label, figure = name, rate(figures["samples_per_second"])
            if name == "tfae":
                xla = figures.get("settings", {}).get("jit_compile")
                label, figure = "**tfae**" + (" (XLA)" if xla else ""), f"**{figure}**"
            rows.append([batch_size, label, figure, *(cell(by_name, name) for cell in columns)])
    return rows


def versus(reference, key="samples_per_second"):
    return lambda by_name, name: ratio(by_name[name][key] / by_name[reference][key])


def peak_fraction(by_name, name):
    return percent(by_name[name]["fraction_of_matmul_peak"])


def peak_memory(by_name, name):
    return megabytes(by_name[name]["peak_memory_mb"])


def speed(results, batch_size, name, reference):
    by_name = results["throughput"][str(batch_size)]
    return by_name[name]["samples_per_second"] / by_name[reference]["samples_per_second"]


def memory(results, batch_size, name, reference):
    by_name = results["throughput"][str(batch_size)]
    return by_name[name]["peak_memory_mb"] / by_name[reference]["peak_memory_mb"]


# ---------------------------------------------------------------------------------------------------------------
# The sections, in the page's order


def cpu_main(cpu):
    rows = throughput_rows(cpu, ["tfae", "keras", "pythae"], [versus("tfae"), peak_fraction, peak_memory])
    return [
        timed(cpu),
        "",
        *table(["batch", "contestant", "samples/s", "vs tfae", "% of matmul peak", "peak MB"], "rlrrrr", rows),
    ]


def cpu_targets(cpu):
    sweep = cpu["sweep"]

    def sweep_speed(batch_size):
        by_name = sweep[str(batch_size)]
        return by_name["tfae"]["samples_per_second"] / by_name["keras"]["samples_per_second"]

    keras_128, keras_1024 = speed(cpu, 128, "tfae", "keras"), speed(cpu, 1024, "tfae", "keras")
    pythae_128, pythae_1024 = speed(cpu, 128, "tfae", "pythae"), speed(cpu, 1024, "tfae", "pythae")
    peak = cpu["throughput"]["1024"]["tfae"]["fraction_of_matmul_peak"]
    by_name = cpu["throughput"]["1024"]
    tfae_mb, keras_mb = by_name["tfae"]["peak_memory_mb"], by_name["keras"]["peak_memory_mb"]
    rows = [
        [
            "tfae >= 1.1x the hand-written Keras VAE at batch 128",
            f"{keras_128:.2f}x (sweep: {sweep_speed(128):.2f}x)",
            verdict(keras_128, 1.1),
        ],
        [
            "tfae >= 1.0x the hand-written Keras VAE at batch 1024",
            f"{keras_1024:.2f}x (sweep: {sweep_speed(1024):.2f}x)",
            verdict(keras_1024, 1.0),
        ],
        ["tfae >= 1.0x pythae at batch 128", f"{pythae_128:.2f}x", verdict(pythae_128, 1.0)],
        [
            "tfae >= 1.0x pythae at batch 1024",
            f"{pythae_1024:.2f}x",
            verdict(pythae_1024, 1.0, by=True, note='within the run-to-run spread of this machine ("Noise", below)'),
        ],
        ["training step >= 65% of the matmul peak at batch 1024", percent(peak), verdict(peak, 0.65, note="see below")],
        [
            "peak memory <= 1.1x the hand-written Keras VAE's",
            f"{tfae_mb / keras_mb:.2f}x ({megabytes(tfae_mb)} MB against {megabytes(keras_mb)} MB at batch 1024)",
            verdict(tfae_mb / keras_mb, 1.1, higher_is_better=False),
        ],
    ]
    return table(["target", "measured", ""], "lll", rows)


def cpu_sweep(cpu):
    sizes = list(cpu["sweep"])
    rows = [
        [f"{name}, samples/s", *(rate(cpu["sweep"][size][name]["samples_per_second"]) for size in sizes)]
        for name in ("tfae", "keras")
    ]
    rows.append(["tfae / keras", *(versus("keras")(cpu["sweep"][size], "tfae") for size in sizes)])
    return table(["batch", *sizes], "l" + "r" * len(sizes), rows)


OPTIONS = {
    "tfae": "`steps_per_execution=16`",
    "tfae-spe1": "`steps_per_execution=1` (Keras' default)",
    "tfae-spe64": "`steps_per_execution=64`",
    "tfae-xla": "`jit_compile=True` (XLA)",
}


def cpu_options(cpu):
    sizes = list(cpu["throughput"])
    rows = []
    for name, label in OPTIONS.items():
        cells = [label]
        for size in sizes:
            figure = rate(cpu["throughput"][size][name]["samples_per_second"])
            cells.append(figure if name == "tfae" else f"{figure} ({speed(cpu, size, name, 'tfae'):.2f}x)")
        rows.append([*cells, "**yes**" if name == "tfae" else ""])
    return table(
        ["option", *(f"batch {size}" for size in sizes), "tfae's default then"], "l" + "r" * len(sizes) + "l", rows
    )


STAGES = {
    "1 matmuls only": "1. the Dense layers' matrix multiplies alone",
    "2 + biases, ReLUs": "2. + biases, ReLUs",
    "3 + sampling, Bernoulli NLL, KL": "3. + sampling, Bernoulli likelihood, KL",
    "4 + Adam (a whole step, no fit)": "4. + Adam: a whole step, without `fit`",
    "4 again, all steps in one XLA call": "4, all steps compiled as one XLA call",
    "4 again, one XLA call per step": "4, each step compiled as its own XLA call",
    "5 tfae's fit, defaults (NumPy in)": "5. tfae's `fit` with its defaults (NumPy in)",
}


def step_anatomy(anatomy):
    rows = []
    for index, row in enumerate(anatomy["rows"]):
        added = row["added_ms"]
        rows.append(
            [
                STAGES.get(row["stage"], row["stage"]),
                rate(row["samples_per_second"]),
                percent(row["fraction_of_matmul_peak"]),
                f"{row['step_ms']:.2f}",
                "" if added is None else f"{added:.2f}" if index == 0 else f"{added:+.2f}",
            ]
        )
    return [
        f"Batch {anatomy['batch_size']}; fp32 matmul peak {anatomy['matmul_peak_gflops']:.0f} GFLOP/s, "
        f"{rate(anatomy['samples_per_second_at_peak'])} samples/s for this step.",
        "",
        *table(["stage", "samples/s", "% of peak", "ms per step", "added"], "lrrrr", rows),
    ]


def contestant_table(results, names, references):
    """batch, contestant, samples/s, vs each of ``references``, % of the peak, peak MB (and vs keras's memory)."""
    columns = [versus(reference) for reference in references] + [peak_fraction, peak_memory]
    header = [
        "batch",
        "contestant",
        "samples/s",
        *(f"vs {reference}" for reference in references),
        "% of matmul peak",
        "peak MB",
    ]
    if references == ["keras"]:
        columns.append(versus("keras", "peak_memory_mb"))
        header.append("vs keras")
    rows = throughput_rows(results, names, columns)
    return table(header, "rl" + "r" * (len(header) - 2), rows)


def cpu_xla(xla):
    return [timed(xla), "", *contestant_table(xla, ["tfae", "tfae-xla", "keras"], ["keras"])]


def timed(results):
    """The samples, the timed epochs, the matmul peak and the load (where the file has them), in a sentence."""
    epochs = len(next(iter(results["throughput"].values()))["tfae"]["epoch_seconds"]) - 1
    text = (
        f"{results['samples']:,} samples, {epochs} timed epochs per contestant; fp32 matmul peak "
        + ("on JAX " if results.get("backend") == "jax" else "")
        + f"{results['matmul_peak_gflops']:.0f} GFLOP/s"
    )
    if "matmul_peak_measurements_gflops" in results:
        text += f" (the best of {', '.join(f'{peak:.0f}' for peak in results['matmul_peak_measurements_gflops'])})"
    if "load_average_1min" in results:
        load = results["load_average_1min"]
        text += f"; 1-minute load average {load['before']:.1f} before, {load['after']:.1f} after"
    return text + "."


def xla_default(results):
    return [timed(results), "", *contestant_table(results, ["tfae", "tfae-noxla", "keras"], ["keras"])]


def xla_default_targets(mlp, conv):
    mlp_128, mlp_1024 = speed(mlp, 128, "tfae", "keras"), speed(mlp, 1024, "tfae", "keras")
    peak = mlp["throughput"]["1024"]["tfae"]["fraction_of_matmul_peak"]
    memory_ratios = [memory(mlp, size, "tfae", "keras") for size in (128, 1024)]
    without = [memory(mlp, size, "tfae-noxla", "keras") for size in (128, 1024)]
    added = [
        mlp["throughput"][size]["tfae"]["peak_memory_mb"] - mlp["throughput"][size]["tfae-noxla"]["peak_memory_mb"]
        for size in ("128", "1024")
    ]
    conv_128 = speed(conv, 128, "tfae", "keras")
    conv_noxla = speed(conv, 128, "tfae-noxla", "keras")
    pythae = (
        ["not measured", "pythae not installed"]
        if "pythae" in conv["skipped"]
        else [f"{speed(conv, 128, 'tfae', 'pythae'):.2f}x", verdict(speed(conv, 128, "tfae", "pythae"), 1.2)]
    )
    rows = [
        ["MLP: tfae >= 1.3x the hand-written Keras VAE at batch 128", f"{mlp_128:.2f}x", verdict(mlp_128, 1.3)],
        ["MLP: tfae >= 1.15x the hand-written Keras VAE at batch 1024", f"{mlp_1024:.2f}x", verdict(mlp_1024, 1.15)],
        ["MLP: training step >= 60% of the matmul peak at batch 1024", percent(peak), verdict(peak, 0.6)],
        [
            "MLP: peak memory <= 1.1x the hand-written Keras VAE's",
            f"{memory_ratios[0]:.2f}x (128), {memory_ratios[1]:.2f}x (1024)",
            verdict(
                max(memory_ratios),
                1.1,
                higher_is_better=False,
                note=f"XLA adds {min(added):.0f} to {max(added):.0f} MB; without it {without[0]:.2f}x and "
                f"{without[1]:.2f}x",
            ),
        ],
        [
            "conv: tfae >= 1.2x the hand-written Keras VAE at batch 128",
            f"{conv_128:.2f}x ({conv_noxla:.2f}x without XLA)",
            verdict(conv_128, 1.2),
        ],
        ["conv: tfae >= 1.2x pythae at batch 128", *pythae],
    ]
    return table(["target", "measured", ""], "lll", rows)


def against_pythae(results):
    return [
        timed(results),
        "",
        *contestant_table(results, ["tfae", "tfae-noxla", "keras", "pythae"], ["keras", "pythae"]),
    ]


def issue_17_targets(mlp, conv, mlp_before, conv_before, startup):
    def both(now, before):
        return f"{now:.2f}x ({before:.2f}x)"

    peak, peak_before = (
        results["throughput"]["1024"]["tfae"]["fraction_of_matmul_peak"] for results in (mlp, mlp_before)
    )
    memory_now = [memory(mlp, size, "tfae", "keras") for size in (128, 1024)]
    memory_before = [memory(mlp_before, size, "tfae", "keras") for size in (128, 1024)]
    conv_128 = speed(conv, 128, "tfae", "keras")
    conv_noxla_before = speed(conv_before, 128, "tfae-noxla", "keras")
    conv_pythae = speed(conv, 128, "tfae", "pythae")
    medians = startup["median_seconds"]
    rows = [
        [
            "MLP: tfae >= 1.3x the hand-written Keras VAE at batch 128",
            both(speed(mlp, 128, "tfae", "keras"), speed(mlp_before, 128, "tfae", "keras")),
            verdict(min(speed(mlp, 128, "tfae", "keras"), speed(mlp_before, 128, "tfae", "keras")), 1.3),
        ],
        [
            "MLP: tfae >= 1.15x the hand-written Keras VAE at batch 1024",
            both(speed(mlp, 1024, "tfae", "keras"), speed(mlp_before, 1024, "tfae", "keras")),
            verdict(min(speed(mlp, 1024, "tfae", "keras"), speed(mlp_before, 1024, "tfae", "keras")), 1.15),
        ],
        [
            "MLP: >= 60% of the fp32 matmul peak at batch 1024",
            f"{percent(peak)} ({percent(peak_before)})",
            "met in both runs"
            if min(peak, peak_before) >= 0.6
            else "missed in both runs"
            if max(peak, peak_before) < 0.6
            else "at the edge: met in one run, missed in the other",
        ],
        [
            "MLP: peak memory <= 1.1x the hand-written Keras VAE's",
            f"{memory_now[0]:.2f}x, {memory_now[1]:.2f}x at 128 and 1024 "
            f"({memory_before[0]:.2f}x, {memory_before[1]:.2f}x)",
            verdict(max(memory_now), 1.1, higher_is_better=False, note="XLA's own memory, below"),
        ],
        [
            "conv: tfae >= 1.2x the hand-written Keras VAE at batch 128",
            f"{conv_128:.2f}x ({conv_noxla_before:.2f}x, tfae-noxla then)",
            verdict(conv_128, 1.2, note="the convolution kernels, below"),
        ],
        [
            "conv: tfae >= 1.2x pythae at batch 128",
            f"{conv_pythae:.2f}x",
            verdict(conv_pythae, 1.2, note=f"{speed(conv, 1024, 'tfae', 'pythae'):.2f}x at 1024"),
        ],
        [
            "start-up as quick as before",
            f"`tfae --help` {medians['tfae --help']:.3f} s without TensorFlow; `tfae plugins` "
            f"{startup['plugins_over_import_keras']:.2f}x `import keras`",
            'met ("Start-up")',
        ],
        [
            "`--strategy data_parallel` on JAX",
            "the losses of one device (tests/test_distribute_jax.py)",
            "done ([scaling](scaling.md))",
        ],
        ["GPU table", "not measured: no GPU lent so far", "`run_gpu.sh` runs the conv VAE too"],
    ]
    return table(["target", "measured: this run (the earlier run)", ""], "lll", rows)


def conv_layers(layers):
    by_layer = {}
    for row in layers["rows"]:
        by_layer.setdefault(row["layer"], {})[row["xla"]] = row
    rows = [
        [name, f"{rows[False]['train_ms']:.2f}", f"{rows[False]['train_gflops']:.1f}", f"{rows[True]['train_ms']:.2f}"]
        for name, rows in by_layer.items()
    ]
    total = {xla: sum(rows[xla]["train_ms"] for rows in by_layer.values()) for xla in (False, True)}
    rows.append([f"all {len(by_layer)}", f"{total[False]:.1f}", "", f"{total[True]:.1f}"])
    fit = layers["fit_step_ms"]
    rows.append(
        ["a whole training step in `fit`: tfae / hand-written", f"{fit['tfae']:.1f} / {fit['keras']:.1f}", "", ""]
    )
    load = layers["load_average_1min"]
    return [
        f"Batch {layers['batch_size']}; 1-minute load average {load['before']:.1f} before, {load['after']:.1f} after.",
        "",
        *table(["layer", "forward + backward, ms", "GFLOP/s", "under XLA, ms"], "lrrr", rows),
    ]


CASES = {
    "tiny": "two Dense layers of 8 units",
    "tiny-xla": "the same, `jit_compile=True`",
    "keras": "hand-written Keras VAE (MLP)",
    "tfae-noxla": "tfae, `jit_compile=False`",
    "tfae": "tfae, defaults (XLA)",
}


def xla_memory(memory_results):
    rows = [
        [
            CASES.get(row["case"], row["case"]),
            str(row["batch_size"]),
            *(megabytes(row[key]) for key in ("peak", "resident", "anonymous", "file_backed")),
        ]
        for row in memory_results["rows"]
    ]
    load = memory_results["load_average_1min"]
    return [
        f"1-minute load average {load['before']:.1f} before, {load['after']:.1f} after.",
        "",
        *table(["case", "batch", "peak MB", "resident MB", "anonymous", "file-backed"], "lrrrrr", rows),
    ]


def cpu_jax(jax, cpu):
    rows = throughput_rows(jax, ["tfae", "keras", "pythae"], [versus("tfae"), peak_fraction, peak_memory])
    for row in rows:
        if row[1] == "**tfae**":
            row.append(f"{speed_on(jax, row[0]) / speed_on(cpu, row[0]):.2f}x")
        else:
            row.append("")
    return [
        timed(jax),
        "",
        *table(
            [
                "batch",
                "contestant",
                "samples/s",
                "vs tfae",
                "% of matmul peak (JAX's)",
                "peak MB",
                "vs tfae on TensorFlow",
            ],
            "rlrrrrr",
            rows,
        ),
    ]


def speed_on(results, batch_size):
    return results["throughput"][batch_size]["tfae"]["samples_per_second"]


def startup_table(startup):
    rounds = len(next(iter(startup["seconds"].values())))
    rows = [
        [f"`{command}`" if command.startswith("tfae") else f'`python -c "{command}"`', f"{seconds:.3f}"]
        for command, seconds in startup["median_seconds"].items()
    ]
    load = startup["load_average"]
    return [
        f"{rounds} rounds, each command a fresh process, after one untimed round; 1-minute load average "
        f"{load['before'][0]:.1f} before, {load['after'][0]:.1f} after. `tfae plugins` against `import keras`, the "
        f"median of the rounds' ratios: {startup['plugins_over_import_keras']:.2f}x.",
        "",
        *table(["command", "median seconds"], "lr", rows),
    ]


LABELS = {"vae": "VAE", "beta_vae": "beta-VAE", "beta_tcvae": "beta-TCVAE", "factor_vae": "FactorVAE"}


def disentanglement_setting(dsprites):
    s = dsprites["settings"]
    steps = next(iter(dsprites["runs"].values()))[0]["steps"]
    layers = len(s["discriminator"])
    rows = [
        [
            "models",
            ", ".join(LABELS[name] for name in dsprites["runs"]),
            "all four: VAE, beta-VAE, beta-TCVAE, FactorVAE",
        ],
        [
            "images",
            f"{s['image_size']}x{s['image_size']}, {s['n']:,} drawn once, in memory",
            "64x64, all 737,280, streamed by `DSprites.as_dataset`",
        ],
        [
            "training",
            f"{s['epochs']} epochs, {steps:,} steps of {s['batch_size']}, Adam {s['learning_rate']:g}",
            "about 300,000 steps of 64, Adam 1e-4",
        ],
        [
            "encoder",
            f"Conv2D {', '.join(map(str, s['hidden']))} ({s['kernel_size']}x{s['kernel_size']}, stride 2), "
            "decoder mirrored",
            "32, 32, 64, 64, disentanglement_lib's (whose Dense(256) layer `LayoutAutoencoder` lacks)",
        ],
        [
            "FactorVAE discriminator",
            f"{layers} hidden layer{'' if layers == 1 else 's'} of {s['discriminator'][0]}",
            "five of 1000",
        ],
        [
            "FactorVAE score",
            f"{s['factor_vae_votes'][0]:,} training and {s['factor_vae_votes'][1]:,} evaluation votes",
            "10,000 and 5,000 (disentanglement_lib)",
        ],
        ["MIG", f"{s['mig_samples']:,} images, 20 bins", "the same"],
        [
            "seeds",
            f"{len(s['seeds'])} per model ({', '.join(map(str, s['seeds']))})",
            "10 (Kim & Mnih), several per point (Chen et al.)",
        ],
    ]
    return table(["", "this run", "`--full` and the papers"], "lll", rows)


def welch_rows(dsprites):
    """One row per metric of Welch's test of beta-TCVAE against the VAE, as the script recorded it."""
    rows = []
    for metric, label in (("mig", "MIG"), ("factor_vae_score", "FactorVAE score")):
        test = dsprites["welch_beta_tcvae_vs_vae"][metric]
        sides = [
            f"{test[side]['mean']:.3f}"
            + (f" +- {test[side]['sd']:.3f}" if test[side]["sd"] is not None else "")
            + f" (n = {test[side]['n']})"
            for side in ("treatment", "control")
        ]
        if test["t"] is None:
            figures = [test["undefined"], "", "", "", ""]
        else:
            figures = [
                f"{test['difference']:+.3f}",
                f"{test['cohens_d']:.2f}",
                f"{test['t']:.2f}",
                f"{test['df']:.1f}",
                f"{test['p_value']:.2g}",
            ]
        rows.append([label, *sides, *figures])
    return rows


def disentanglement_scores(dsprites):
    s = dsprites["settings"]
    reported = dsprites["reported"]
    summary = dsprites["summary"]
    best = {metric: max(summary[name][metric]["mean"] for name in summary) for metric in ("mig", "factor_vae_score")}

    def score(name, metric):
        figures = summary[name][metric]
        mean = f"{figures['mean']:.3f}"
        # Bold where a model's mean rounds to the best's.
        return (f"**{mean}**" if mean == f"{best[metric]:.3f}" else mean) + f" +- {figures['sd']:.3f}"

    def per_seed(name, metric):
        return ", ".join(f"{run[metric]:.3f}" for run in dsprites["runs"][name])

    parameters = {
        "beta_vae": " (beta = 4)",
        "beta_tcvae": " (beta = 6)",
        "factor_vae": f" (gamma = {s['factor_vae_gamma']})",
    }
    rows = [
        [
            LABELS[name] + parameters.get(name, ""),
            score(name, "mig"),
            per_seed(name, "mig"),
            reported["mig_chen2018"].get(name) or "not in the paper",
            score(name, "factor_vae_score"),
            per_seed(name, "factor_vae_score"),
            reported["factor_vae_score_kim_mnih2018"].get(name) or "not in the paper",
        ]
        for name in summary
    ]
    seeds = ", ".join(map(str, s["seeds"]))
    lines = [
        *table(
            [
                "model",
                "MIG (mean +- sd)",
                f"MIG, seeds {seeds}",
                "Chen et al. 2018",
                "FactorVAE score (mean +- sd)",
                f"FactorVAE score, seeds {seeds}",
                "Kim & Mnih 2018",
            ],
            "lrrrrrr",
            rows,
        ),
    ]
    if "welch_beta_tcvae_vs_vae" not in dsprites:
        return lines + [
            "",
            "This run recorded no Welch test (the script records one, since issue 26, where it trains both beta-TCVAE "
            "and the VAE).",
        ]
    return lines + [
        "",
        "Welch's test of beta-TCVAE against the VAE (two-sided, unequal variances; the difference is beta-TCVAE's "
        "mean less the VAE's, Cohen's d that difference over the root mean of the two variances):",
        "",
        *table(
            ["metric", "beta-TCVAE (mean +- sd)", "VAE (mean +- sd)", "difference", "Cohen's d", "t", "Welch df", "p"],
            "lrrrrrrr",
            welch_rows(dsprites),
        ),
    ]


def digits_nll(digits):
    by_seed = digits["digits_log_likelihood"]
    rows = [
        [seed, f"{runs['tfae']['log_likelihood']:.2f}", f"{runs['pythae']['log_likelihood']:.2f}"]
        for seed, runs in by_seed.items()
    ]
    means = []
    for library in ("tfae", "pythae"):
        values = [runs[library]["log_likelihood"] for runs in by_seed.values()]
        means.append(f"**{statistics.fmean(values):.2f} +- {statistics.stdev(values):.2f}**")
    rows.append(["mean +- sd", *means])
    seconds = {library: [runs[library]["train_seconds"] for runs in by_seed.values()] for library in ("tfae", "pythae")}
    estimates = [runs[library]["estimate_seconds"] for runs in by_seed.values() for library in ("tfae", "pythae")]
    return [
        f"Training took {min(seconds['tfae']):.0f} to {max(seconds['tfae']):.0f} s per seed in tfae, "
        f"{min(seconds['pythae']):.0f} to {max(seconds['pythae']):.0f} s in pythae; each estimate "
        f"{min(estimates):.0f} to {max(estimates):.0f} s.",
        "",
        *table(
            ["seed", "tfae: log p(x), IWAE k = 5,000", "pythae: `get_nll`, also log p(x) despite its name"], "rrr", rows
        ),
    ]


def pythae_zoo(zoo):
    import pythae_zoo as script

    return script.markdown(zoo)


class Section:
    """A generated part of the page: its name, the results files it reads, and what it writes from them (the lines
    under the sentence that names each file; ``whole`` for a script's own section, markers and provenance
    included)."""

    def __init__(self, name, sources, render, detail=True, whole=False, script="benchmarks/tables.py"):
        self.name, self.sources, self.lines, self.detail, self.whole = name, sources, render, detail, whole
        self.markers = begin(name, sources, script), end(name)

    def render(self, results=None):
        """The section's text from its results files (or from ``results``, one per source, in their order)."""
        results = [load(source) for source in self.sources] if results is None else results
        for source, data in zip(self.sources, results):
            missing = report.missing_provenance(data)
            if missing:
                raise ValueError(
                    f"{source} lacks {', '.join(missing)}: a table is rendered only from a file that says which "
                    "code made it (benchmarks/report.py's provenance; for a file older than that, the commit that "
                    "last changed it, marked as recovered from git history)"
                )
        if self.whole:
            return self.lines(*results)
        lines = [self.markers[0], ""]
        lines += [
            source_line(source, data, detail=self.detail and index == 0)
            for index, (source, data) in enumerate(zip(self.sources, results))
        ]
        lines += ["", *self.lines(*results), "", self.markers[1]]
        return "\n".join(lines) + "\n"


CPU = "benchmarks/results-cpu.json"
MLP_XLA, CONV = "benchmarks/results-cpu-mlp-xla-default.json", "benchmarks/results-cpu-conv.json"
MLP_PYTHAE, CONV_PYTHAE = "benchmarks/results-cpu-mlp-pythae.json", "benchmarks/results-cpu-conv-pythae.json"
STARTUP = "benchmarks/results-startup.json"
SECTIONS = [
    Section("cpu", [CPU], cpu_main),
    Section("cpu-targets", [CPU], cpu_targets, detail=False),
    Section("cpu-sweep", [CPU], cpu_sweep, detail=False),
    Section("cpu-options", [CPU], cpu_options, detail=False),
    Section("step-anatomy", ["benchmarks/results-step-anatomy.json"], step_anatomy),
    Section("cpu-xla", ["benchmarks/results-cpu-xla.json"], cpu_xla),
    Section("xla-default-mlp", [MLP_XLA], xla_default),
    Section("xla-default-conv", [CONV], xla_default),
    Section("xla-default-targets", [MLP_XLA, CONV], xla_default_targets, detail=False),
    Section("pythae-mlp", [MLP_PYTHAE], against_pythae),
    Section("pythae-conv", [CONV_PYTHAE], against_pythae),
    Section("issue-17-targets", [MLP_PYTHAE, CONV_PYTHAE, MLP_XLA, CONV, STARTUP], issue_17_targets, detail=False),
    Section("conv-layers", ["benchmarks/results-conv-layers.json"], conv_layers),
    Section("xla-memory", ["benchmarks/results-xla-memory.json"], xla_memory),
    Section("cpu-jax", ["benchmarks/results-cpu-jax.json", CPU], cpu_jax),
    Section("startup", [STARTUP], startup_table),
    Section("disentanglement-setting", ["benchmarks/results-disentanglement.json"], disentanglement_setting),
    Section("disentanglement", ["benchmarks/results-disentanglement.json"], disentanglement_scores, detail=False),
    Section("digits-nll", ["benchmarks/results-digits-nll.json"], digits_nll),
    Section(
        "pythae-zoo", ["benchmarks/results-pythae-zoo.json"], pythae_zoo, whole=True, script="benchmarks/pythae_zoo.py"
    ),
]


# ---------------------------------------------------------------------------------------------------------------
# The page


def find(text, section):
    """The section's text in ``text`` (from its first marker to the end of its last line), or None."""
    first, last = section.markers
    if text.count(first) != 1 or text.count(last) != 1:
        return None
    start = text.index(first)
    return text[start : text.index(last, start) + len(last)] + "\n"


def stale(text):
    """The names of the sections missing from ``text`` or differing from what their results files render."""
    return [section.name for section in SECTIONS if find(text, section) != section.render()]


def replace(text, section, rendered):
    """``text`` with ``section`` replaced by ``rendered``; a missing section is an error (the page places each)."""
    found = find(text, section)
    if found is None:
        first, last = section.markers
        raise SystemExit(
            f"{DOCS} has no single section {section.name!r} ({first} ... {last}): put its markers "
            "where its table belongs, then run this again"
        )
    return text.replace(found, rendered)


def write_docs(path=DOCS):
    with open(path) as file:
        text = file.read()
    for section in SECTIONS:
        text = replace(text, section, section.render())
    with open(path, "w") as file:
        file.write(text)
    print(f"written: the generated sections of {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write-docs", action="store_true", help="rewrite the generated sections of --docs")
    action.add_argument("--check", action="store_true", help="exit 1 if a section differs from its results file")
    parser.add_argument("--docs", default=DOCS, help=f"the page (default {DOCS})")
    args = parser.parse_args(argv)
    if args.write_docs:
        write_docs(args.docs)
        return 0
    with open(args.docs) as file:
        differing = stale(file.read())
    for name in differing:
        print(
            f"{args.docs}: the section {name!r} is missing or differs from what its results file renders: run "
            "python benchmarks/tables.py --write-docs (and commit the page with the results file)",
            file=sys.stderr,
        )
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
