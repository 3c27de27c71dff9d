"""Plots training throughput against batch size from a results file of train_throughput.py.

    python benchmarks/plot_throughput.py benchmarks/results-cpu.json docs/images/throughput-cpu.png

One line per contestant: the batch-size sweep (``--sweep``) where the file has one, and the main table's
batch sizes for contestants that only appear there (pythae). The dashed line is the rate at which the
training step would run at the machine's measured fp32 matmul peak.
"""

import argparse
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402


def throughput_by_contestant(results):
    """{contestant: {batch size: samples per second}} from the sweep and the main table together."""
    lines = {}
    for table in ("throughput", "sweep"):
        for batch_size, by_name in results.get(table, {}).items():
            for name, figures in by_name.items():
                lines.setdefault(name, {})[int(batch_size)] = figures["samples_per_second"]
    return lines


def plot(results, path):
    lines = throughput_by_contestant(results)
    figure, axes = plt.subplots(figsize=(7, 4.2))
    for name, rates in lines.items():
        sizes = sorted(rates)
        style = "-o" if len(sizes) > 2 else "--s"
        axes.plot(sizes, [rates[size] for size in sizes], style, label=name)
    ceiling = results["matmul_peak_gflops"] * 1e9 / results["train_flops_per_sample"]
    axes.axhline(ceiling, color="gray", linestyle=":", label="at the fp32 matmul peak")
    axes.set_xscale("log", base=2)
    axes.set_yscale("log")
    thousands = FuncFormatter(lambda value, _: f"{value:,.0f}")
    axes.yaxis.set_major_formatter(thousands)
    axes.yaxis.set_minor_formatter(thousands)
    axes.set_xlabel("batch size")
    axes.set_ylabel("samples per second")
    axes.set_title(f"VAE 784-512-256-32 training, {results['backend']} backend, {results['date']}")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", help="a JSON file written by train_throughput.py")
    parser.add_argument("image", help="where to write the PNG")
    args = parser.parse_args(argv)
    with open(args.results) as file:
        plot(json.load(file), args.image)
    print(f"written to {args.image}")


if __name__ == "__main__":
    main()
