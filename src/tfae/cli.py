"""The ``tfae`` command line: train from a config file, then evaluate, encode, generate, find similar items.

``tfae train`` with no arguments trains a variational autoencoder on the 8x8 digits that ship with tfae.
Bad input (a config key, a name, a data file) is reported on one line, with exit status 2, never a traceback;
a file that cannot be written (a full disk, say) is one line too, with exit status 1.
"""

import argparse
import json
import math
import os
import sys
import warnings
from pathlib import Path

from tfae.distribute import STRATEGIES
from tfae.errors import DiskFullError, NoPriorError, PluginLoadWarning, RunError, TfaeError, UsageError
from tfae.training.config import example_configs

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


def _quiet_tensorflow():
    """Imports Keras with TensorFlow's C++ start-up logs silenced, unless TF_CPP_MIN_LOG_LEVEL=0 asks for them."""
    if os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3") == "0" or "keras" in sys.modules:
        import keras  # noqa: F401

        return
    # TensorFlow writes its start-up notes from C++ before it reads the log level: hide stderr meanwhile.
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import keras  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _model_path(path):
    path = Path(path)
    if path.is_dir():
        path = path / "model.keras"
    if not path.is_file():
        unfinished = ""
        if (path.parent / "config.toml").is_file():
            unfinished = f" (a run that has not finished: continue it with tfae train --resume {path.parent})"
        raise UsageError(f"no model at {path}: give a .keras file or a run folder that holds model.keras{unfinished}")
    return path


def _load_model(path):
    import tfae
    from tfae.errors import ModelFileError

    path = _model_path(path)
    try:
        return tfae.load_model(path, compile=False)
    except ModelFileError:
        raise
    except (ValueError, TypeError, OSError, KeyError) as error:
        raise UsageError(f"cannot load the model {path}: {' '.join(str(error).split())}") from None


def _data_spec(text):
    """``DATA`` as given: a dataset's name or a path, or a dataset's name and parameters as a table, in JSON or
    TOML (``'{name = "dsprites", n = 2000, image_size = 32}'``)."""
    from tfae.training.config import inline_table
    from tfae.training.data import path_exists

    if text.strip().startswith("{") and not path_exists(text):
        return inline_table(text, "data")
    return text


def _check_seed(seed):
    """Refuses a ``--seed`` that Keras' seeds cannot take, before anything loads."""
    from tfae.random import SEED_RANGE, is_seed

    if seed is not None and not is_seed(seed):
        raise UsageError(f"--seed must be {SEED_RANGE}; got {seed}")


def _load_samples(source, key=""):
    """The data of ``DATA``, loaded before the model so that a mistake in it is reported first."""
    from tfae.training.data import load_data

    return load_data(_data_spec(source), key=key)


def _fit_samples(model, dataset):
    """``dataset`` with its samples shaped as ``model`` takes them."""
    from tfae.training.data import fit_to_model

    dataset.x = fit_to_model(dataset.x, model.encoder.input_shape[1:], dataset.source)
    return dataset


def _config_path(config):
    from tfae.training.data import path_exists

    if config is None or path_exists(config):
        return config
    examples = example_configs()
    name = config[: -len(".toml")] if config.endswith(".toml") else config
    if name in examples:
        return Path(str(examples[name]))
    raise UsageError(
        f"config file '{config}' not found (the examples that ship with tfae: {', '.join(examples)}; "
        "`tfae examples` shows them)"
    )


def train_command(args):
    """Trains a model from a config file (or the built-in default) into a run folder."""
    if args.resume is not None and (args.config is not None or args.epochs is not None or args.run_dir is not None):
        raise UsageError(
            "--resume RUN_DIR continues a run as its config.toml says; give no CONFIG, --epochs or --run-dir with it"
        )
    if args.epochs is not None and args.epochs < 1:
        raise UsageError(f"--epochs must be a positive number; got {args.epochs}")
    import dataclasses

    from tfae.training.config import TrainConfig, read_config

    # What the file itself says is checked before Keras and TensorFlow load (seconds on a busy machine).
    source = Path(args.resume) / "config.toml" if args.resume is not None else _config_path(args.config)
    if args.resume is not None and not source.is_file():
        raise RunError(f"{args.resume} is not a tfae run folder: it has no config.toml")
    config = read_config(source) if source is not None else TrainConfig.from_values({}, components=False)
    changes = {"epochs": args.epochs, "strategy": args.strategy}
    changes = {key: value for key, value in changes.items() if value is not None}
    if changes:
        config = dataclasses.replace(config, training=dataclasses.replace(config.training, **changes))
    _quiet_tensorflow()
    from tfae.distribute import training_strategy

    # TensorFlow wants a multi-worker strategy made before any other TensorFlow work (checking the config's
    # components builds them).
    strategy = training_strategy(config.training.strategy)

    from tfae.training.run import Run

    config.check_components()
    if args.resume is not None:
        run = Run.open(args.resume, config)
    else:
        run = Run.create(config, args.run_dir, overwrite=args.overwrite)
    try:
        run.train(progress=not args.quiet, strategy=strategy)
    except KeyboardInterrupt:
        print(f"\ntfae train: interrupted; continue with: tfae train --resume {run.folder}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except DiskFullError as error:
        print(f"tfae train: error: {error.problem}: {error.remedy}, then {_next_step(run)}", file=sys.stderr)
        return EXIT_FAILED
    return 0


def _next_step(run):
    """What to run after training stopped on a failure: resume when the run saved epochs, else start again."""
    saved = run.saved_epochs()
    if saved is None:
        return "run the same command again"
    epochs = run.config.training.epochs
    return f"continue with: tfae train --resume {run.folder} ({saved} of {epochs} epochs are saved)"


def encode_command(args):
    """Writes the latent codes (posterior means) of every sample of DATA to a .npy file."""
    output = Path(args.output)
    if output.suffix != ".npy":
        raise UsageError(f"-o must name a .npy file; got {output}")
    _quiet_tensorflow()
    dataset = _load_samples(args.data, args.key)
    model = _load_model(args.model)
    dataset = _fit_samples(model, dataset)
    codes = model.encoder.predict(dataset.x, batch_size=args.batch_size, verbose=0)
    _save_array(output, codes)
    print(f"tfae encode: wrote {output}: codes of shape {codes.shape} for {args.data}")
    return 0


def _save_array(path, array):
    """``np.save``, atomically. The bytes are made in memory: NumPy reports a write that the disk cut short
    without saying why ("N requested and M written"), a plain write with the reason."""
    import io

    import numpy as np

    from tfae.safe_files import write_bytes

    buffer = io.BytesIO()
    np.save(buffer, array)
    write_bytes(path, buffer.getvalue())


def generate_command(args):
    """Decodes N codes drawn from the prior, or from a sampler fitted to the training codes: a grid of images
    (.png) or the arrays (.npy)."""
    if args.number < 1:
        raise UsageError(f"-n must be a positive number of samples; got {args.number}")
    _check_seed(args.seed)
    output = Path(args.output)
    if output.suffix not in (".png", ".npy"):
        raise UsageError(f"-o must name a .png (a picture) or a .npy file (the arrays); got {output}")
    from tfae.training.pictures import MAX_GRID_IMAGES

    if output.suffix == ".png" and args.number > MAX_GRID_IMAGES:
        raise UsageError(
            f"-n {args.number} is more samples than a picture shows: a .png grid draws at most {MAX_GRID_IMAGES:,} "
            "(tfae.training.pictures.MAX_GRID_IMAGES); write the arrays to a .npy file instead (-o samples.npy), "
            "which takes any number"
        )
    _quiet_tensorflow()
    sampler = _sampler(args.sampler)
    dataset = None
    if sampler.needs_fit:
        dataset = _sampler_data(args)
    model = _load_model(args.model)
    described = title = "the prior"
    if dataset is not None:
        from tfae.serialization import registered_name_of

        title = f"a {registered_name_of('sampler', sampler) or type(sampler).__name__} sampler"
        dataset = _fit_samples(model, dataset)
        try:
            sampler.fit(model, dataset.x)
        except ValueError as error:
            raise UsageError(f"--sampler {args.sampler}: {' '.join(str(error).split())}") from None
        described = f"{title} fitted to {len(dataset.x)} codes of {dataset.source}"
    shape = tuple(model.encoder.input_shape[1:])
    try:
        if output.suffix == ".npy":
            _write_samples(output, model, sampler, args.number, args.seed, shape)
        else:
            samples = model.sample(args.number, seed=args.seed, sampler=sampler)
    except NoPriorError:
        raise UsageError(
            f"the model's {type(model.bottleneck).__name__} has no prior to sample from; sample from a sampler "
            "fitted to its training codes instead: --sampler gmm (or two_stage)"
        ) from None
    except ValueError as error:
        raise UsageError(" ".join(str(error).split())) from None
    if output.suffix == ".png":
        from tfae.training.pictures import image_grid

        columns = min(math.ceil(math.sqrt(args.number)), 16)
        image_grid(samples, output, columns=columns, title=f"{args.number} samples from {title}")
    print(f"tfae generate: wrote {output}: {args.number} samples of shape {shape} from {described}")
    return 0


# The bytes of samples `tfae generate` decodes at once into a .npy file, which bounds its memory whatever -n is.
GENERATED_BYTES_PER_CHUNK = 2**24


def _write_samples(path, model, sampler, number, seed, shape):
    """Writes ``number`` samples of ``model`` to the .npy file ``path``, decoded a chunk at a time.

    The first chunk is ``model.sample(chunk, seed)`` itself, so up to a chunk's worth of samples are those
    that ``model.sample(number, seed)`` gives; each later chunk draws with a seed made from ``seed`` and its
    position. The file's room is claimed first, so a disk too small fails before anything is written.
    """
    import numpy as np

    from tfae.random import MAX_SEED
    from tfae.safe_files import check_room, replacing

    # Sized for float32 samples; the file takes the dtype the decoder gives.
    chunk = max(1, GENERATED_BYTES_PER_CHUNK // (math.prod(shape) * 4))
    first = np.asarray(model.sample(min(chunk, number), seed=seed, sampler=sampler))
    check_room(path, number * first[0].nbytes)
    header = {
        "descr": np.lib.format.dtype_to_descr(first.dtype),
        "fortran_order": False,
        "shape": (number, *first.shape[1:]),
    }
    with replacing(path) as temporary, open(temporary, "wb") as file:
        np.lib.format.write_array_header_1_0(file, header)
        file.write(np.ascontiguousarray(first).tobytes())
        for index, start in enumerate(range(len(first), number, chunk), start=1):
            chunk_seed = None if seed is None else int(np.random.default_rng([seed, index]).integers(MAX_SEED + 1))
            samples = model.sample(min(chunk, number - start), seed=chunk_seed, sampler=sampler)
            file.write(np.ascontiguousarray(samples, dtype=first.dtype).tobytes())


def _sampler(text):
    """``--sampler`` as a sampler: a registered name, or a name and parameters as a table."""
    from tfae.plugins import resolve
    from tfae.training.config import inline_table

    spec = inline_table(text, "sampler") if text.strip().startswith("{") else text
    try:
        return resolve("sampler", spec)
    except (TfaeError, ValueError, TypeError) as error:
        raise UsageError(f"--sampler {text}: {' '.join(str(error).split())}") from None


def _sampler_data(args):
    """The samples a fitted sampler is fitted to: ``--data``, or else the training data of the run."""
    if args.data is not None:
        return _load_samples(args.data)
    config_path = _model_path(args.model).parent / "config.toml"
    if not config_path.is_file():
        raise UsageError(
            f"--sampler {args.sampler} is fitted to the codes of the training data, and {args.model} is no run folder "
            "whose config.toml says what that was: give it with --data DATA (a dataset's name, a .npy/.npz file or a "
            "folder of images)"
        )
    from tfae.errors import SplitChangedError
    from tfae.training.config import load_config
    from tfae.training.run import Run

    try:
        return Run(config_path.parent, load_config(config_path)).training_data()
    except SplitChangedError as error:
        raise UsageError(
            f"--sampler {args.sampler} is fitted to the codes of the run's training data, but {error}; give the "
            "data to fit it to with --data DATA, or put back the data and the seed that training used"
        ) from None


def similar_command(args):
    """Prints the K samples of DATA nearest to sample INDEX in latent space (and draws them with -o)."""
    if args.k < 1:
        raise UsageError(f"-k must be a positive number of neighbours; got {args.k}")
    _quiet_tensorflow()
    dataset = _load_samples(args.data, args.key)
    count = len(dataset.x)
    if not -count <= args.index < count:
        raise UsageError(f"--index {args.index} is out of range: {args.data} has {count} samples (0 to {count - 1})")
    index = args.index % count
    model = _load_model(args.model)
    dataset = _fit_samples(model, dataset)
    from tfae.evaluation import nearest_neighbours

    codes = model.encoder.predict(dataset.x, batch_size=args.batch_size, verbose=0).reshape(count, -1)
    nearest, distances = nearest_neighbours(codes, codes[index], k=args.k, exclude=index)
    labels = dataset.labels
    print(
        f"The {len(nearest)} samples nearest to sample {index}"
        + (f" (label {labels[index]})" if labels is not None else "")
        + f" in latent space ({codes.shape[1]} dimensions, Euclidean):"
    )
    print("rank  index  distance" + ("  label" if labels is not None else ""))
    for rank, (neighbour, distance) in enumerate(zip(nearest, distances), start=1):
        label = f"  {labels[neighbour]}" if labels is not None else ""
        print(f"{rank:>4}  {neighbour:>5}  {distance:>8.4f}{label}")
    if args.output:
        from tfae.training.pictures import neighbours

        neighbours(dataset.x[index], dataset.x[nearest], distances, args.output, index, nearest)
        print(f"tfae similar: wrote {args.output}")
    return 0


def evaluate_command(args):
    """Computes metrics of a trained model on data (by default the samples its run held out): prints them, and
    writes them to a JSON file with --output."""
    if args.samples < 1:
        option = getattr(args, "samples_option", "--importance-samples")
        raise UsageError(f"{option} must be a positive number of codes drawn per sample; got {args.samples}")
    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be a positive number; got {args.batch_size}")
    _check_seed(args.seed)
    metrics = None
    if args.metrics is not None:
        metrics = [name.strip() for name in args.metrics.split(",")]
        if not all(metrics):
            raise UsageError(f"--metrics takes metric names separated by commas, such as mig,sap; got {args.metrics!r}")
    if args.output is not None and Path(args.output).suffix != ".json":
        raise UsageError(f"--output must name a .json file; got {args.output}")
    model_path = _model_path(args.run)
    config_path = model_path.parent / "config.toml"
    if args.data is None and not config_path.is_file():
        raise UsageError(
            f"{model_path} has no run's config.toml beside it, which says what data it was trained on: give DATA "
            "(a dataset's name, a .npy/.npz file or a folder of images)"
        )
    _quiet_tensorflow()
    from tfae.plugins import resolve

    chosen = {name: resolve("metric", name) for name in metrics or ()}
    if args.data is None:
        from tfae.training.config import load_config
        from tfae.training.run import Run

        config = load_config(config_path)
        dataset, share = _held_out_data(args.run, Run(model_path.parent, config))
        source = config.data.source
        if share < 1:
            seed = config.training.seed
            described = (
                f"the {len(dataset.x)} samples of {dataset.source} that training held out (validation_split "
                f"{share:g}, seed {seed})"
            )
        else:
            described = f"all {len(dataset.x)} samples of {dataset.source}, its training data: the run held none out"
    else:
        from tfae.training.data import load_data

        source = _data_spec(args.data)
        dataset = load_data(source)
        described = f"the {len(dataset.x)} samples of {dataset.source}"
    _check_data_for_metrics(chosen, dataset, described, args.run)
    model = _load_model(model_path)
    from tfae.evaluation import evaluate
    from tfae.training.data import fit_to_model

    x = fit_to_model(dataset.x, model.encoder.input_shape[1:], dataset.source)
    results = evaluate(
        model,
        x,
        factors=dataset.factors,
        metrics=metrics,
        importance_samples=args.samples,
        seed=args.seed,
        ground_truth=dataset.ground_truth,
        batch_size=args.batch_size,
        progress=not args.quiet and sys.stdout.isatty(),
    )
    drawn = f"{args.samples} codes per sample, " if "importance_samples" in results else ""
    print(f"tfae evaluate: {model_path} on {described}; {drawn}seed {args.seed}")
    _print_metrics(results)
    if args.output is not None:
        from tfae.evaluation import results_record
        from tfae.safe_files import make_folder, write_text

        held_out = args.data is None and share < 1
        record = results_record(results, model_path, source, len(x), held_out, args.samples, args.seed)
        make_folder(Path(args.output).parent)
        write_text(args.output, json.dumps(record, indent=2) + "\n")
        print(f"tfae evaluate: wrote {args.output}")
    return 0


def _held_out_data(run_argument, run):
    """The samples ``run`` held out and their share of its data (``Run.held_out_data``), checked against its
    ``split.json``; a run without one gets a note that they are not checked."""
    from tfae.errors import SplitChangedError
    from tfae.training.split_record import SPLIT_FILE, read_split_record

    try:
        held_out = run.held_out_data()
    except SplitChangedError as error:
        raise UsageError(
            f"{error}; to score other samples, give them: tfae evaluate {run_argument} DATA (or put back the data "
            "and the seed that training used)"
        ) from None
    if read_split_record(run.folder) is None:
        print(
            f"tfae evaluate: note: {run.folder} has no {SPLIT_FILE} (a run trained before tfae recorded its split), "
            "so that these are the samples training held out is unchecked: they are if its data and seed are "
            "unchanged since",
            file=sys.stderr,
        )
    return held_out


def _check_data_for_metrics(metrics, dataset, described, run):
    """Refuses, before the model is loaded, a metric that the data cannot serve: one that needs the factors
    that generated each sample, or data that renders samples of chosen factors."""
    example = f"for example `tfae evaluate {run} dsprites`"
    for name, metric in metrics.items():
        needs = getattr(metric, "needs", ())
        if "factors" in needs and dataset.factors is None:
            raise UsageError(
                f"the metric {name!r} needs data whose ground-truth factors are known, and {described} have "
                f"none: evaluate on data with known factors, {example}"
            )
        if "ground_truth" in needs and dataset.ground_truth is None:
            raise UsageError(
                f"the metric {name!r} needs data that renders new samples of chosen factors, which {described} "
                f"cannot: evaluate on such data, {example}"
            )


def _print_metrics(results):
    """The results as a table, one metric a line; the KL of every latent dimension on one line."""
    kl_prefix = "kl_per_dimension_"
    kl = " ".join(f"{value:.4f}" for name, value in results.items() if name.startswith(kl_prefix))
    rows: list[tuple[str, str]] = []
    for name, value in results.items():
        if name.startswith(kl_prefix):
            if name == kl_prefix + "0":
                rows.append(("kl_per_dimension", kl))
        elif name in ("importance_samples", "active_units"):
            rows.append((name, f"{value:.0f}"))
        else:
            rows.append((name, f"{value:.4f}"))
    width = max([len("metric"), *(len(name) for name, _ in rows)])
    print(f"{'metric':<{width}}  value")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def schedule_command(args):
    """Plots a beta schedule given by name, as JSON or TOML, or as a file (a training config or an example's
    name works too: its beta schedule is plotted)."""
    from tfae.training.schedule_spec import schedule_spec

    spec = schedule_spec(args.spec)
    if args.length is not None and args.length < 1:
        raise UsageError(f"--length must be a positive number; got {args.length}")
    _quiet_tensorflow()
    from tfae.plugins import resolve

    scheduler = resolve("scheduler", spec)
    from tfae.safe_files import make_folder, replacing
    from tfae.schedulers.plot import plot_schedule

    make_folder(Path(args.output).parent)
    with replacing(args.output) as temporary:
        plot_schedule(scheduler, length=args.length, path=temporary)
    print(f"tfae schedule: wrote {args.output}: {scheduler!r}")
    return 0


def examples_command(args):
    """Lists the example configs that ship with tfae, or prints one."""

    examples = example_configs()
    if args.name is None:
        width = max(map(len, examples))
        for name, path in examples.items():
            first = path.read_text(encoding="utf-8").splitlines()[0].lstrip("# ").strip()
            print(f"{name:<{width}}  {first}")
        print("\nRun one with `tfae train NAME`; copy one to edit it with `tfae examples NAME > my.toml`.")
        return 0
    name = args.name[: -len(".toml")] if args.name.endswith(".toml") else args.name
    if name not in examples:
        from tfae.training.config import closest

        close = closest(name, examples)
        hint = f"; did you mean '{close}'?" if close else f"; the examples are: {', '.join(examples)}"
        raise UsageError(f"no example named '{args.name}'{hint}")
    sys.stdout.write(examples[name].read_text(encoding="utf-8"))
    return 0


def plugins_command(args):
    """Prints every registered name by kind, with its aliases and the distribution that provides it.

    A name that a built-in keeps, or that another plugin claims too, is shown qualified, as
    ``distribution:name``, the way a config names it. Then the plugins: loaded, left out by TFAE_PLUGINS or
    TFAE_DISABLE_PLUGIN_AUTOLOAD, or failed to load; and the names that two plugins claim.
    """
    # The built-ins import Keras, and so TensorFlow, whose C++ start-up lines would precede the listing.
    _quiet_tensorflow()
    from tfae.plugins import get_registry
    from tfae.registry import KINDS, plural

    def table(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
        print(f"{title}:")
        if not rows:
            print("  (none)\n")
            return
        widths = [max(len(row[column]) for row in (header, *rows)) for column in range(len(header))]
        for row in (header, *rows):
            print("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        print()

    def origin(info):
        return f"{info.distribution} {info.version}" if info.distribution else "registered at run time"

    registry = get_registry()
    rows: list[tuple[str, ...]]
    for kind in KINDS:
        rows = [
            (registry.name_for(entry), ", ".join(entry.aliases) or "-", entry.class_name, entry.provider)
            for entry in registry.entries(kind)
        ]
        table(plural(kind), ("name", "aliases", "class", "provided by"), rows)
    rows = [(info.plugin, origin(info), info.module, "built-in" if info.builtin else "") for info in registry.plugins]
    table("plugins", ("plugin", "distribution", "module", ""), rows)
    if registry.skipped:
        rows = [(info.plugin, origin(info), info.module) for info in registry.skipped]
        title = "installed, not loaded (TFAE_PLUGINS, TFAE_DISABLE_PLUGIN_AUTOLOAD)"
        table(title, ("plugin", "distribution", "module"), rows)
    if registry.failures:
        rows = [(failure.plugin, origin(failure), failure.error) for failure in registry.failures]
        table("failed to load", ("plugin", "distribution", "error"), rows)
    for conflict in registry.conflicts():
        print(f"conflict: {conflict.message()}")
    return 0


class _NamedOption(argparse.Action):
    """Stores the value, and the option's name as given (``DEST_option``), for a message that names it as the
    user wrote it: an option with an older name (``--samples``) beside its own."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        setattr(namespace, f"{self.dest}_option", option_string)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="tfae",
        description="Autoencoders for TensorFlow and Keras 3. Start with `tfae train`.",
    )
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = subcommands.add_parser(
        "train",
        help="train an autoencoder from a config file (default: a VAE on the built-in digits)",
        description="Trains the model a config file describes and writes a run folder: model.keras, "
        "config.toml, history.csv and pictures. Without CONFIG: a Gaussian VAE on the built-in 8x8 digits.",
    )
    train.add_argument("config", nargs="?", metavar="CONFIG", help="a .toml config file, or a shipped example's name")
    train.add_argument("--run-dir", metavar="DIR", help="the run folder (default: [output] dir / name)")
    train.add_argument("--overwrite", action="store_true", help="replace the run folder if it exists")
    train.add_argument("--epochs", type=int, metavar="N", help="train N epochs, whatever the config says")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its last finished epoch")
    train.add_argument(
        "--strategy",
        choices=STRATEGIES,
        help="where to train: default (one device), mirrored (every GPU of this machine), multi-worker (the "
        "machines TF_CONFIG lists; run the same command on each), data_parallel (every local device; with "
        "KERAS_BACKEND=jax, Keras' DataParallel); overrides [training] strategy",
    )
    train.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar (nor, when not on a terminal, a line per epoch)"
    )
    train.set_defaults(handler=train_command)

    encode = subcommands.add_parser("encode", help="write the latent codes of a data set to a .npy file")
    encode.add_argument("model", metavar="MODEL", help="a .keras file or a run folder")
    encode.add_argument(
        "data",
        metavar="DATA",
        help="a dataset's name (digits, mnist, dsprites, ...), a .npy/.npz file, or a folder of images",
    )
    encode.add_argument(
        "-o", "--output", default="codes.npy", metavar="FILE", help="the .npy file to write (default: codes.npy)"
    )
    encode.add_argument("--key", default="", help="the data's array name in a .npz file")
    encode.add_argument("--batch-size", type=int, default=256, metavar="N")
    encode.set_defaults(handler=encode_command)

    generate = subcommands.add_parser(
        "generate", help="decode samples drawn from the prior or from a sampler fitted to the training codes"
    )
    generate.add_argument("model", metavar="MODEL", help="a .keras file or a run folder")
    generate.add_argument("-n", "--number", type=int, default=64, metavar="N", help="how many samples (default: 64)")
    generate.add_argument(
        "-o",
        "--output",
        default="samples.png",
        metavar="FILE",
        help="a .png (a grid of pictures) or .npy file (default: samples.png)",
    )
    generate.add_argument("--seed", type=int, default=None, help="for the same samples every time")
    generate.add_argument(
        "--sampler",
        default="prior",
        metavar="SAMPLER",
        help='where the codes come from: "prior" (default), "gmm" (a Gaussian mixture fitted to the training codes), '
        '"two_stage" (a second VAE fitted to them), or a table such as \'{name = "gmm", components = 20}\'',
    )
    generate.add_argument(
        "--data",
        default=None,
        metavar="DATA",
        help="the data a fitted sampler is fitted to (default: the run's training data, less what it held out)",
    )
    generate.set_defaults(handler=generate_command)

    similar = subcommands.add_parser("similar", help="the samples nearest to one sample in latent space")
    similar.add_argument("model", metavar="MODEL", help="a .keras file or a run folder")
    similar.add_argument(
        "data",
        metavar="DATA",
        help="a dataset's name (digits, mnist, dsprites, ...), a .npy/.npz file, or a folder of images",
    )
    similar.add_argument("--index", type=int, required=True, metavar="I", help="the sample to find neighbours of")
    similar.add_argument("-k", type=int, default=10, metavar="K", help="how many neighbours (default: 10)")
    similar.add_argument("-o", "--output", metavar="FILE", help="also draw the sample and its neighbours in a .png")
    similar.add_argument("--key", default="", help="the data's array name in a .npz file")
    similar.add_argument("--batch-size", type=int, default=256, metavar="N")
    similar.set_defaults(handler=similar_command)

    evaluate = subcommands.add_parser(
        "evaluate",
        help="metrics of a trained model: log-likelihood, ELBO, active units, disentanglement",
        description="Computes metrics of a trained model on data: by default, on the samples its run held out "
        "for validation (the run's config.toml says which), every metric the model and data allow: the "
        "negative ELBO and the IWAE-K log-likelihood (variational models), reconstruction error, active units, "
        "KL per latent dimension, and with data that has ground-truth factors (dsprites) MIG, SAP, DCI and the "
        "FactorVAE and beta-VAE scores.",
    )
    evaluate.add_argument("run", metavar="RUN", help="a run folder of tfae train, or a .keras file")
    evaluate.add_argument(
        "data",
        nargs="?",
        metavar="DATA",
        help="the data (default: the samples the run held out): a dataset's name (digits, dsprites, ...), a "
        "table of its name and parameters ('{name = \"dsprites\", image_size = 32}'), a .npy/.npz file or a "
        "folder of images",
    )
    evaluate.add_argument(
        "--importance-samples",
        "--samples",
        dest="samples",
        action=_NamedOption,
        type=int,
        default=1000,
        metavar="K",
        help="codes drawn per data row: K of IWAE-K (default: 1000; --samples is its older name)",
    )
    evaluate.add_argument(
        "--metrics", metavar="A,B", help="the metrics to compute, by name (default: all that apply; `tfae plugins`)"
    )
    evaluate.add_argument("--seed", type=int, default=0, metavar="N", help="the seed of every draw (default: 0)")
    evaluate.add_argument("-o", "--output", metavar="FILE", help="also write the results to a .json file")
    evaluate.add_argument("--batch-size", type=int, default=64, metavar="N")
    evaluate.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    evaluate.set_defaults(handler=evaluate_command)

    schedule = subcommands.add_parser(
        "schedule",
        help="plot a beta schedule",
        description='Plots a schedule given by name (dasr), as JSON (\'{"name": "dasr", "attack": 10}\') or '
        "TOML ('{name = \"dasr\", attack = 10}'), or as a .toml/.json file; a training config plots its beta schedule.",
    )
    schedule.add_argument("spec", metavar="SPEC", help="a name, JSON or TOML text, or a file")
    schedule.add_argument("--length", type=int, metavar="N", help="how many epochs (or steps) to plot")
    schedule.add_argument("-o", "--output", default="schedule.png", metavar="FILE", help="(default: schedule.png)")
    schedule.set_defaults(handler=schedule_command)

    examples = subcommands.add_parser("examples", help="list the example configs, or print one")
    examples.add_argument("name", nargs="?", metavar="NAME")
    examples.set_defaults(handler=examples_command)

    plugins = subcommands.add_parser("plugins", help="list the installed plugins and the names they register")
    plugins.set_defaults(handler=plugins_command)
    return parser


_PYTHON_SHOWWARNING = warnings.showwarning


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Prints a tfae plugin warning as one line, ``tfae: warning: ...``; other warnings as Python does."""
    if issubclass(category, PluginLoadWarning):
        print(f"tfae: warning: {_error_line(message)}", file=sys.stderr)
    else:
        _PYTHON_SHOWWARNING(message, category, filename, lineno, file, line)


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return args.handler(args)
    except KeyboardInterrupt:
        print(f"\ntfae {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (TfaeError, ValueError, OSError) as error:
        print(f"tfae {args.command}: error: {_error_line(error)}", file=sys.stderr)
        return EXIT_FAILED if isinstance(error, OSError) else EXIT_BAD_INPUT
    except RecursionError:
        # What every reader of nested input refuses before this; the last guard against a traceback.
        from tfae.training.config import MAX_CONFIG_DEPTH

        print(
            f"tfae {args.command}: error: the input is nested too deep for Python's stack (RecursionError): keep "
            f"tables and lists in configs and model files within {MAX_CONFIG_DEPTH} levels",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT


def _error_line(error):
    """An error's message as tfae prints it: one line, with every character that is not printable escaped,
    since the message may quote a file (a model's, a config's) that was made to move the cursor or erase the
    line (an ANSI sequence in a name)."""
    from tfae.errors import escaped

    return escaped(" ".join(str(error).split()) or type(error).__name__)


if __name__ == "__main__":
    sys.exit(main())
