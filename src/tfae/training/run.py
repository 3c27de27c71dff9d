"""A training run: its folder, the model a config assembles, ``fit``, and what is written afterwards.

A run folder holds:

- ``config.toml``: the config with every default and every component parameter written out; ``tfae train``
  on it trains the same model again, and ``tfae train --resume`` reads it;
- ``split.json``: a fingerprint of the samples trained on and of those held out, which ``tfae evaluate`` and
  ``--resume`` check the data against (``tfae.training.split_record``);
- ``model.keras``: the trained model, for ``tfae.load_model`` and ``tfae encode/generate/similar``;
- ``history.csv``: one row per epoch, every logged loss;
- ``reconstructions.png``, ``samples.png`` and ``traversal.png`` (variational bottlenecks), ``latent.png``,
  ``losses.png`` and ``beta.png`` (when a scheduler drives beta);
- ``backup/`` while training: the state after the last epoch whose losses were finite (see
  ``tfae.training.checkpoints``), and ``tensorboard/`` when asked for.

Every file (the config, the checkpoint, the history, the model, the pictures) is written under a temporary
name and renamed into place, so a run killed at any instant resumes from its last finished epoch, and a disk
that fills stops the run with a ``DiskFullError`` and leaves no half-written file. A new run that stops with
an error before its first epoch is saved leaves no run folder.
A loss that becomes NaN or inf stops training with a ``DivergenceError`` naming the epoch and the step; the
model of the last good epoch is saved, and the checkpoint keeps its state.

A resumed run is the uninterrupted one: the checkpoint puts back the random state (``tfae.training.random_state``),
and the training samples come in an order that depends on the seed and the epoch alone (``EpochBatches``), so
its history and its final weights equal, bit for bit, those of a run that was never stopped.
"""

import contextlib
import dataclasses
import shutil
from collections.abc import Mapping
from pathlib import Path

import keras
import numpy as np

from tfae import safe_files
from tfae.divergence import DivergenceMonitor, stopped_message
from tfae.errors import CheckpointError, ConfigError, DivergenceError, RunError, SplitChangedError, TfaeError
from tfae.training import checkpoints, pictures
from tfae.training.config import load_config, resolved_spec
from tfae.training.data import DataError, is_path, load_data
from tfae.training.progress import EpochProgress
from tfae.training.sizes import abstract_model, check_model_size
from tfae.training.split_record import changed, read_split_record, split_record, write_split_record

CONFIG_FILE = "config.toml"
MODEL_FILE = "model.keras"
HISTORY_FILE = "history.csv"
BACKUP_FOLDER = "backup"
TENSORBOARD_FOLDER = "tensorboard"
RECONSTRUCTED = 30
SAMPLED = 64
LATENT_POINTS = 5000


def split_indices(count, validation_split, seed):
    """Which samples ``tfae train`` trains on and which it holds out: ``(training, held_out)`` index arrays.

    The samples are shuffled with ``seed`` and the last ``round(count * validation_split)`` held out, so the
    same data, split and seed always hold out the same samples (``tfae evaluate`` relies on it).

    Raises:
        DataError: ``validation_split`` leaves no sample on one side.
    """
    order = np.random.default_rng(seed).permutation(count)
    held_out = int(round(count * validation_split))
    if validation_split > 0 and (held_out < 1 or held_out >= count):
        raise DataError(
            f"[training] validation_split = {validation_split} leaves no samples on one side of the split "
            f"of {count} samples; use 0 for no validation"
        )
    cut = count - held_out
    return order[:cut], order[cut:]


def epoch_order(count, seed, epoch):
    """The order in which ``tfae train`` shows ``count`` training samples in ``epoch`` (counted from 0): a
    permutation drawn from the run's ``seed`` and the epoch alone."""
    # The trailing 1 keeps these draws apart from split_indices', which NumPy seeds with [seed, 0, 0, 0].
    return np.random.default_rng([seed, epoch, 1]).permutation(count)


class EpochBatches(keras.utils.PyDataset):
    """The training samples in batches for ``fit``, in the order ``epoch_order`` gives each epoch.

    Keras shuffles an array with a random state inside its data pipeline (a TensorFlow operation's, or
    NumPy's global generator under JAX), which no checkpoint can put back: a resumed run would see the
    order of the first epochs again. This order is a function of the seed and the epoch, so the epochs after
    a resume see the batches that an uninterrupted run sees. ``callback`` tells it each epoch as it begins.
    On TensorFlow, ``fit`` gets the same batches from ``tf_dataset``.

    Args:
        x: the training samples, ``(samples, ...)``.
        batch_size: samples per batch; the last batch may be smaller.
        seed: the run's seed.
    """

    def __init__(self, x, batch_size, seed):
        super().__init__(workers=1, use_multiprocessing=False)
        self.x, self.batch_size, self.seed = x, int(batch_size), int(seed)
        self.set_epoch(0)
        self.callback = _EpochSetter(self)

    def set_epoch(self, epoch):
        """Orders the batches as ``epoch`` wants them."""
        self.epoch = int(epoch)
        self.order = epoch_order(len(self.x), self.seed, self.epoch)

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} of {len(self)}")
        return (self.x[self.order[index * self.batch_size : (index + 1) * self.batch_size]],)

    def tf_dataset(self):
        """The same batches as a ``tf.data.Dataset``, for ``fit`` on TensorFlow.

        It follows Keras' own pipeline of an array (the samples held once, each batch gathered by its
        indices), which is as fast, and which a ``tf.distribute`` strategy splits over its replicas and
        workers; the batches of a ``PyDataset`` come through Python one by one, and several workers cannot
        share them. Each epoch's iterator reads the order that ``set_epoch`` made as the epoch began.
        """
        import tensorflow as tf

        count, batch_size = len(self.x), self.batch_size
        full = count // batch_size * batch_size

        def order(_):
            indices = tf.numpy_function(lambda: self.order, [], tf.int64, stateful=True)
            return tf.ensure_shape(indices, (count,))

        def batched(indices):
            # As Keras' pipeline of an array batches its indices: the full batches by a reshape (a batch
            # operation in the pipeline would be rewritten by a strategy's rebatching), then the rest.
            batches = tf.data.Dataset.from_tensor_slices(tf.reshape(indices[:full], (-1, batch_size)))
            if full < count:
                batches = batches.concatenate(tf.data.Dataset.from_tensors(indices[full:]))
            return batches

        batches = tf.data.Dataset.range(1).map(order).flat_map(batched)
        samples = tf.data.Dataset.from_tensors(self.x).repeat()
        # Each element the batch itself, as Keras' pipeline gives it: a strategy cannot reduce a tuple of
        # per-replica batches, which Keras does with the first batch to build the model.
        dataset = tf.data.Dataset.zip((batches, samples)).map(lambda indices, x: tf.gather(x, indices))
        # A known number of batches, as Keras needs to count the steps of the first epoch.
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(len(self)))
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        # The order comes from Python: the pipeline is not to be serialized, only run in this process.
        options.experimental_external_state_policy = tf.data.experimental.ExternalStatePolicy.IGNORE
        return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)


class _EpochSetter(keras.callbacks.Callback):
    """Sets the epoch of an ``EpochBatches`` when it begins, before Keras asks for its first batch."""

    def __init__(self, batches):
        super().__init__()
        self.batches = batches

    def on_epoch_begin(self, epoch, logs=None):
        self.batches.set_epoch(epoch)


def _split(x, labels, validation_split, seed):
    training, held_out = split_indices(len(x), validation_split, seed)
    if labels is None:
        return (x[training], x[held_out]), (None, None)
    return (x[training], x[held_out]), (labels[training], labels[held_out])


def train(config=None, run_dir=None, *, overwrite=False, strategy=None, verbose=1, callbacks=(), progress=True):
    """Trains the model a config describes into a run folder, as ``tfae train`` does, and returns the ``Run``.

    Args:
        config: a ``TrainConfig``, a TOML file's path, or ``None`` for the defaults (a Gaussian VAE on the
            built-in 8x8 digits). It is checked as ``tfae train`` checks a file, with the same messages.
        run_dir: the run folder; ``None``: ``[output] dir / name`` (``runs/vae`` by default).
        overwrite: whether to replace a run folder that is there already.
        strategy: a ``tf.distribute`` strategy or a Keras distribution; ``None``: the one that the config's
            ``[training] strategy`` names (``tfae.distribute.training_strategy``).
        verbose: 1 to print what is trained and what was written, 0 for nothing.
        callbacks: more Keras callbacks for ``fit``.
        progress: with ``verbose``, whether to show each epoch.

    Returns:
        The ``Run``: its ``folder`` holds the model, the config and the pictures, and its ``model`` is the
        trained model.

    Raises:
        ConfigError: a mistake in the config (after the file and the line, for a file).
        RunError: the run folder exists and ``overwrite`` is false.
        DivergenceError: the loss became NaN or inf; the model of the last good epoch is saved.

    Example:

    ```python
    from tfae.training import ModelConfig, TrainConfig, TrainingConfig, train

    config = TrainConfig(model=ModelConfig(hidden=[32]), training=TrainingConfig(epochs=1))
    run = train(config, run_dir="runs/python-vae", overwrite=True, verbose=0)
    run.model.encoder.predict(run.training_data().x[:5], verbose=0)
    ```
    """
    from tfae.distribute import training_strategy
    from tfae.training.config import TrainConfig, read_config

    if config is None:
        config = TrainConfig()
    if isinstance(config, TrainConfig):
        config = config.checked(components=False)
    else:
        config = read_config(config)
    if strategy is None:
        # TensorFlow wants a multi-worker strategy made before any other TensorFlow work (checking the
        # config's components builds them).
        strategy = training_strategy(config.training.strategy)
    config.check_components()
    run = Run.create(config, run_dir, overwrite=overwrite)
    run.train(verbose=verbose, callbacks=callbacks, strategy=strategy, progress=progress)
    return run


class Run:
    """A run folder and the config that trains into it.

    Create one with ``Run.create(config)`` (a new folder) or ``Run.open(folder)`` (to resume), then call
    ``train()``; ``tfae.training.train(config)`` does both.

    Args:
        folder: the run folder.
        config: the ``TrainConfig``, checked (``load_config``, or ``TrainConfig.checked()``).
        resuming: whether the run continues from the folder's checkpoint.
        replaces: whether a new run replaces the run folder there.

    Attributes:
        model: the trained model, once ``train`` has returned; ``None`` before.
    """

    def __init__(self, folder, config, resuming=False, replaces=False):
        self.folder = Path(folder)
        self.config = config
        self.resuming = resuming
        self.replaces = replaces
        self.made_folder = False
        self.model = None

    @classmethod
    def create(cls, config, folder=None, overwrite=False):
        """A new run of ``config`` in ``folder`` (default: ``[output] dir / name``).

        With ``overwrite``, the run folder there is deleted when ``train`` has loaded the data and built the
        model, so a run that fails on its data or its config leaves it as it was.

        Raises:
            RunError: the folder exists and ``overwrite`` is false, or it exists and is not a run folder.
        """
        output = config.output
        folder = Path(folder) if folder is not None else Path(output.dir) / output.name
        if folder.exists():
            if not overwrite:
                raise RunError(
                    f"the run folder {folder} already exists; pass --overwrite to replace it, "
                    f"--resume {folder} to continue it, or --run-dir to choose another folder"
                )
            is_run = (folder / CONFIG_FILE).is_file() or (folder.is_dir() and not any(folder.iterdir()))
            if not folder.is_dir() or not is_run:
                raise RunError(f"{folder} exists and is not a tfae run folder (no {CONFIG_FILE}); not replacing it")
            return cls(folder, config, replaces=True)
        return cls(folder, config)

    @classmethod
    def open(cls, folder, config=None):
        """The run in ``folder``, to continue after an interruption.

        Args:
            folder: the run folder.
            config: its ``config.toml``, if already read and checked (``load_config``); read here otherwise.

        Raises:
            RunError: the folder is not a run folder, or its run finished.
        """
        folder = Path(folder)
        if not (folder / CONFIG_FILE).is_file():
            raise RunError(f"{folder} is not a tfae run folder: it has no {CONFIG_FILE}")
        if (folder / MODEL_FILE).exists() and not checkpoints.Checkpoint(folder / BACKUP_FOLDER).exists:
            raise RunError(
                f"the run in {folder} finished already ({MODEL_FILE} is there); start a new run to train more"
            )
        return cls(folder, config if config is not None else load_config(folder / CONFIG_FILE), resuming=True)

    def saved_epochs(self) -> int | None:
        """How many epochs the run folder's checkpoint holds, or ``None`` when it holds none (or none readable):
        ``tfae train --resume`` continues after them."""
        checkpoint = checkpoints.Checkpoint(self.folder / BACKUP_FOLDER)
        if not checkpoint.exists:
            return None
        try:
            return checkpoint.read()["epoch"]
        except CheckpointError:
            return None

    def load_data(self):
        data = self.config.data
        source = data.source
        if isinstance(source, Mapping) or not is_path(source):
            # Built by the config, so that a parameter's mistake names its line.
            source = self.config.build("dataset", ("data", "source"))
        try:
            return load_data(source, data.key, data.labels, data.image_size, data.color)
        except DataError as error:
            raise self.config.error(("data", "source"), str(error)) from None

    def held_out_data(self):
        """The samples that ``train`` held out for validation, as a ``Dataset`` (samples, labels and factors),
        and their share of the data: the data loaded and split as ``train`` does. With ``validation_split``
        0 nothing was held out, and this is all of the data, with a share of 1.

        Raises:
            SplitChangedError: the run's ``split.json`` says that training held out other samples (the data
                or the seed changed since); a run without one is not checked.
        """
        training = self.config.training
        dataset = self.load_data()
        if training.validation_split == 0:
            self._check_split(dataset, "training")
            return dataset, 1.0
        held_out = self._check_split(dataset, "held_out")
        held_out_dataset = dataclasses.replace(
            dataset,
            x=dataset.x[held_out],
            labels=None if dataset.labels is None else dataset.labels[held_out],
            factors=None if dataset.factors is None else dataset.factors[held_out],
        )
        return held_out_dataset, training.validation_split

    def training_data(self):
        """The samples that ``train`` fitted the model on, as a ``Dataset``: the data loaded and split as
        ``train`` does, less the share held out for validation.

        Raises:
            SplitChangedError: the run's ``split.json`` says that training fitted on other samples.
        """
        training = self.config.training
        dataset = self.load_data()
        kept = self._check_split(dataset, "training")
        if training.validation_split == 0:
            return dataset
        return dataclasses.replace(
            dataset,
            x=dataset.x[kept],
            labels=None if dataset.labels is None else dataset.labels[kept],
            factors=None if dataset.factors is None else dataset.factors[kept],
        )

    def _check_split(self, dataset, part, record=None):
        """The indices of ``part`` (``"training"`` or ``"held_out"``) of the run's split of ``dataset``, after
        checking them against ``record`` (by default the run's ``split.json``, when it has one)."""
        training = self.config.training
        validation_split, seed = training.validation_split, training.seed
        record = read_split_record(self.folder) if record is None else record
        training_indices, held_out_indices = split_indices(len(dataset.x), validation_split, seed)
        indices = training_indices if part == "training" else held_out_indices
        if record is not None:
            change = changed(record, dataset.x, indices, part, validation_split, seed, dataset.source)
            if change is not None:
                which = "held out from" if part == "held_out" else "trained on in"
                raise SplitChangedError(f"the samples {which} the run {self.folder} cannot be found again: {change}")
        return indices

    def build_model(self, sample_shape, data_bytes=0):
        """Assembles and compiles the model the config describes, built for samples of ``sample_shape``.

        The model is first built abstractly, its variables given shapes and no memory, so that a model too large
        for the memory (with ``data_bytes`` of samples to train on) is refused before any weight is allocated
        (``tfae.training.sizes``).
        """
        model_values, training = self.config.model, self.config.training
        counted = abstract_model(lambda: self._assemble(sample_shape))
        bottleneck = None if counted is not None else self.config.build("bottleneck", ("model", "bottleneck"))
        try:
            check_model_size(
                sample_shape,
                model_values.layout,
                model_values.hidden,
                model_values.kernel_size,
                counted.bottleneck if counted is not None else bottleneck,
                training.optimizer,
                model=counted,
                batch_size=training.batch_size,
                data_bytes=data_bytes,
            )
        except ConfigError as error:
            raise self.config.error(("model",), str(error)) from None
        model = self._assemble(sample_shape, bottleneck)
        loss = training.loss
        if not isinstance(loss, str):
            loss = self.config.build("likelihood", ("training", "loss"))
        optimizer = keras.optimizers.get(
            {"class_name": training.optimizer, "config": {"learning_rate": training.learning_rate}}
        )
        objective = self.config.build("objective", ("training", "objective"))
        try:
            model.compile(optimizer=optimizer, loss=loss, objective=objective)
        except ValueError as error:
            raise self.config.error(("training", "objective"), " ".join(str(error).split())) from None
        return model

    def _assemble(self, sample_shape, bottleneck=None):
        """The config's autoencoder built for samples of ``sample_shape``, with ``bottleneck`` or the config's."""
        from tfae.models.layouts import LayoutAutoencoder

        model_values = self.config.model
        if bottleneck is None:
            bottleneck = self.config.build("bottleneck", ("model", "bottleneck"))
        try:
            model = LayoutAutoencoder(
                bottleneck,
                layout=model_values.layout,
                hidden=model_values.hidden,
                activation=model_values.activation,
                kernel_size=model_values.kernel_size,
            )
            model.build((None, *sample_shape))
        except ValueError as error:
            raise self.config.error(("model",), f"[model]: {' '.join(str(error).split())}") from None
        return model

    def _write_config(self, model):
        """Writes the run's ``config.toml``: the config with every component parameter written out, the data's
        path made absolute, and the run folder's place."""
        config = self.config
        source = config.data.source
        components = {("model", "bottleneck"): resolved_spec("bottleneck", model.bottleneck)}
        if isinstance(source, str) and Path(source).expanduser().exists():
            config = dataclasses.replace(
                config, data=dataclasses.replace(config.data, source=str(Path(source).expanduser().resolve()))
            )
        elif isinstance(source, Mapping) or not is_path(source):
            dataset = config.build("dataset", ("data", "source"))
            if dataset.get_config():
                # Every parameter written out, so that the run's data stays the same if a default changes.
                components[("data", "source")] = resolved_spec("dataset", dataset)
        output = dataclasses.replace(config.output, dir=str(self.folder.parent), name=self.folder.name)
        config = dataclasses.replace(config, output=output)
        if model.likelihood is not None and not isinstance(config.training.loss, str):
            components[("training", "loss")] = resolved_spec("likelihood", model.likelihood)
        text = "# Written by tfae train: the run's config with every default filled in.\n"
        safe_files.write_text(self.folder / CONFIG_FILE, text + config.to_toml(components))

    def _check_range(self, x):
        """Refuses data outside [0, 1] for a Bernoulli likelihood, before anything is written."""
        problem = bernoulli_range_problem(self.config.training.loss, x, self.config.data.source)
        if problem is not None:
            raise self.config.error(("training", "loss"), problem)

    def train(self, verbose=1, callbacks=(), strategy=None, progress=True):
        """Trains the model into the run folder, writes the pictures, and returns the trained model.

        Under a ``tf.distribute`` ``strategy`` the model is built in its scope and every worker trains; only
        the chief writes the run folder, and every worker resumes from the chief's checkpoint.

        The data is loaded and the model built before anything is written. A new run that then stops with an
        error before its first epoch is saved (data the model cannot train on, a loss that diverges in the
        first epoch, a full disk) removes its run folder; an interrupted one (``KeyboardInterrupt``) keeps
        it, to resume.

        Args:
            verbose: 1 to print what is trained and what was written, 0 for nothing.
            callbacks: more Keras callbacks for ``fit``.
            strategy: a ``tf.distribute`` strategy or a Keras distribution, or ``None`` for one device.
            progress: with ``verbose``, whether to show each epoch: a progress bar on a terminal, one line
                per epoch elsewhere (``tfae.training.progress.EpochProgress``).

        Raises:
            DivergenceError: the loss became NaN or inf; the model of the last good epoch is saved.
            DiskFullError: a file found no room; the checkpoint keeps the epochs saved before, and
                ``saved_epochs()`` says how many.
            RunError: the checkpoint to resume from is unreadable.
        """
        from tfae.distribute import is_chief

        chief = strategy is None or is_chief(strategy)
        training = self.config.training
        dataset = self.load_data()
        self._check_range(dataset.x)
        split = self._split_record(dataset) if chief else None
        (x_train, x_val), (labels_train, labels_val) = _split(
            dataset.x, dataset.labels, training.validation_split, training.seed
        )
        x_train, labels_train, x_val, labels_val = self._split_evenly(
            x_train, labels_train, x_val, labels_val, strategy, verbose
        )
        keras.utils.set_random_seed(training.seed)
        checkpoint = checkpoints.Checkpoint(self.folder / BACKUP_FOLDER, self.folder / HISTORY_FILE, writes=chief)
        with _scope(strategy):
            model = self.build_model(dataset.x.shape[1:], dataset.x.nbytes)
        self._check_batch_size(model, len(x_train), strategy)
        with self._removed_unless_saved(checkpoint):
            if chief:
                self._prepare_folder(model, split)
            with _scope(strategy):
                try:
                    initial_epoch = checkpoint.restore(model)
                except CheckpointError as error:
                    raise RunError(
                        f"cannot resume {self.folder}: {error}; start the run again with --overwrite"
                    ) from None
            if verbose:
                resumed = f"; resuming after epoch {initial_epoch} of {training.epochs}" if initial_epoch else ""
                print(
                    f"tfae: {len(x_train)} training and {len(x_val)} validation samples of shape "
                    f"{tuple(dataset.x.shape[1:])} from {dataset.source}; {model.count_params():,} parameters; "
                    f"run folder {self.folder}{resumed}"
                )
            # The run keeps the last good state in its checkpoint, not in memory.
            monitor = DivergenceMonitor(keep_weights=False)
            batches = EpochBatches(x_train, training.batch_size, training.seed)
            run_callbacks = [batches.callback, monitor, checkpoint]
            run_callbacks += [EpochProgress()] if verbose and progress else []
            if self.config.output.tensorboard and chief:
                run_callbacks.append(keras.callbacks.TensorBoard(str(self.folder / TENSORBOARD_FOLDER)))
            # A Keras distribution (JAX) splits the batches only while its scope is active; a tf.distribute
            # strategy's fit runs outside it (the chief's saves must not become collective operations).
            keras_distribution = strategy is not None and not hasattr(strategy, "extended")
            with _scope(strategy if keras_distribution else None):
                model.fit(
                    batches.tf_dataset() if keras.backend.backend() == "tensorflow" else batches,
                    validation_data=(x_val,) if len(x_val) else None,
                    validation_batch_size=training.batch_size,
                    initial_epoch=initial_epoch,
                    epochs=training.epochs,
                    # The batches' order is EpochBatches'; Keras would shuffle them again, by Python's generator.
                    shuffle=False,
                    verbose=0,
                    callbacks=[*run_callbacks, *callbacks],
                )
            if monitor.found is not None:
                raise self._diverged(model, monitor, checkpoint, dataset, chief)
            self.model = model
            if not chief:
                return model
            history = read_history(self.folder / HISTORY_FILE)
            safe_files.save_model(model, self.folder / MODEL_FILE)
            drawn = model
            if strategy is not None:
                # The pictures need the model on this worker alone: the saved one, outside the strategy's scope.
                from tfae.models.saving import load_model

                drawn = load_model(self.folder / MODEL_FILE, compile=False)
            shown, shown_labels = (x_val, labels_val) if len(x_val) else (x_train, labels_train)
            everything = (x_train, x_val)
            all_labels = None if dataset.labels is None else (labels_train, labels_val)
            self.draw(drawn, shown, everything, all_labels, history, dataset.class_names, len(x_train), len(x_val) > 0)
        # Kept until the model and pictures are written, so a run killed after its last epoch resumes too.
        checkpoint.remove()
        if verbose:
            written = sorted(path.name for path in self.folder.iterdir())
            print(f"tfae: wrote {self.folder}: {', '.join(written)}")
            print(f"tfae: next, look at the pictures, or try: tfae similar {self.folder} {dataset.source} --index 0")
        return model

    def _check_batch_size(self, model, train_size, strategy):
        """Refuses, before anything is written, a batch size that one of the model's regularizers cannot train on."""
        from tfae.models.inputs import check_batch_size

        batch_size = min(self.config.training.batch_size, train_size)
        # A tf.distribute strategy gives each replica a share of the batch; a Keras distribution (JAX) does not.
        replicas = strategy.num_replicas_in_sync if hasattr(strategy, "extended") else 1
        try:
            check_batch_size(model, batch_size, replicas)
        except ValueError as error:
            raise self.config.error(("training", "batch_size"), f"[training] batch_size: {error}") from None

    def _split_evenly(self, x_train, labels_train, x_val, labels_val, strategy, verbose):
        """Under a Keras distribution, drops the few samples that would leave a last batch the devices cannot share
        (``tfae.replicas.evenly_split_length``; ``fit`` refuses them with ``uneven_batches``' reason)."""
        from tfae.replicas import evenly_split_length

        devices = 1
        if strategy is not None and not hasattr(strategy, "extended"):
            devices = int(strategy.device_mesh.devices.size)
        if devices == 1:
            return x_train, labels_train, x_val, labels_val
        batch_size = self.config.training.batch_size
        if batch_size % devices:
            raise RunError(
                f"[training] batch_size = {batch_size} does not split over {devices} devices: "
                f"use a multiple of {devices}"
            )
        kept = []
        for x, labels in ((x_train, labels_train), (x_val, labels_val)):
            keep = evenly_split_length(len(x), batch_size, devices)
            if verbose and keep < len(x):
                left_out = len(x) - keep
                print(
                    f"tfae: leaving out {left_out} of {len(x)} samples, "
                    f"so that every batch splits over {devices} devices"
                )
            kept.append((x[:keep], None if labels is None else labels[:keep]))
        (x_train, labels_train), (x_val, labels_val) = kept
        return x_train, labels_train, x_val, labels_val

    def _split_record(self, dataset):
        """For a new run, the ``split.json`` record of how ``dataset`` is split; for a resumed one, ``None``, once
        the data is found to split as its record says (a run from before the record is not checked)."""
        training = self.config.training
        validation_split, seed = training.validation_split, training.seed
        if not self.resuming:
            kept, held_out = split_indices(len(dataset.x), validation_split, seed)
            return split_record(dataset.x, kept, held_out, validation_split, seed)
        record = read_split_record(self.folder)
        if record is not None:
            try:
                for part in ("training", "held_out"):
                    self._check_split(dataset, part, record)
            except SplitChangedError as error:
                raise SplitChangedError(
                    f"cannot resume: {error}; resume with the data and the seed the run started with, or start a "
                    "new run"
                ) from None
        return None

    def _prepare_folder(self, model, split=None):
        """Makes the run folder (replacing the old one, for a new run with ``overwrite``) and writes its config
        and, for a new run, the ``split`` record."""
        if self.replaces and not self.resuming:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.replaces = False
        self.made_folder = not self.folder.exists()
        safe_files.make_folder(self.folder)
        safe_files.remove_partial_files(self.folder)
        if not self.resuming:
            self._write_config(model)
        if split is not None:
            write_split_record(self.folder, split)

    @contextlib.contextmanager
    def _removed_unless_saved(self, checkpoint):
        """Removes the run folder that ``_prepare_folder`` made when the block fails before the checkpoint holds
        an epoch: it would hold nothing to resume, and would be in the way of the same command run again."""
        try:
            yield
        except Exception:
            if self.made_folder and not checkpoint.exists:
                shutil.rmtree(self.folder, ignore_errors=True)
            raise

    def _diverged(self, model, monitor, checkpoint, dataset, chief=True):
        """Saves the last good model (if an epoch finished with finite losses) and returns the error to raise."""
        training = self.config.training
        learning_rate = f"[training] learning_rate = {training.learning_rate:g}"
        low, high = float(dataset.x.min()), float(dataset.x.max())
        message = stopped_message(monitor, learning_rate, dataset.source, low, high) + " "
        if not chief:
            message += "The chief worker keeps the model of the last epoch with finite losses."
        elif checkpoint.exists and checkpoint.epoch > 0:
            checkpoint.load_weights(model)
            safe_files.save_model(model, self.folder / MODEL_FILE)
            message += (
                f"The model after epoch {checkpoint.epoch}, the last with finite losses, is in "
                f"{self.folder / MODEL_FILE}, its training state in {self.folder / BACKUP_FOLDER}, and "
                f"{self.folder / HISTORY_FILE} holds the epochs before."
            )
        else:
            message += "No epoch finished with finite losses, so no model was saved."
        return DivergenceError(message)

    def draw(self, model, shown, everything, labels, history, class_names=None, train_size=1, held_out=True):
        """Writes the run's PNGs; ``shown`` are the samples to reconstruct (held out when there are any).

        ``everything`` (the samples of ``latent.png``) and ``labels`` may each be an array or a tuple of arrays
        read as one, which is not made: the data may take most of the memory."""
        from tfae.bottlenecks import VariationalBottleneck

        folder = self.folder
        training = self.config.training
        shown = shown[:RECONSTRUCTED]
        shown_codes = _in_batches(lambda x: model.encoder(x, training=False), shown)
        reconstructed = _in_batches(lambda z: model.decoder(z, training=False), shown_codes)
        title = f"{'Held-out' if held_out else 'Training'} samples and their reconstructions"
        pictures.reconstructions(shown, reconstructed, folder / "reconstructions.png", title=title)
        variational = isinstance(model.bottleneck, VariationalBottleneck)
        if variational:
            codes = model.bottleneck.sample_prior(SAMPLED, seed=training.seed)
            generated = _in_batches(lambda z: model.decoder(z, training=False), codes)
            pictures.image_grid(generated, folder / "samples.png", columns=8, title="Samples from the prior")
            self.draw_traversal(model, shown, shown_codes, held_out)
        total = sum(len(part) for part in _parts(everything))
        points = np.random.default_rng(training.seed).permutation(total)[:LATENT_POINTS]
        codes = _in_batches(lambda x: model.encoder(x, training=False), _rows(everything, points))
        pictures.latent_space(
            codes,
            folder / "latent.png",
            None if labels is None else _rows(labels, points),
            class_names,
            "posterior means" if variational else "codes",
        )
        pictures.loss_curves(history, folder / "losses.png")
        # The first regularizer's beta schedule: a schedule of anything else (a capacity) is not beta's.
        betas = [regularizer.scheduler for regularizer in model.bottleneck.regularizers if regularizer.scheduler]
        for scheduler in betas[:1]:
            from tfae.schedulers.plot import plot_schedule

            steps_per_epoch = -(-train_size // training.batch_size)
            length = training.epochs * (1 if scheduler.unit == "epoch" else steps_per_epoch)
            with safe_files.replacing(folder / "beta.png") as temporary:
                plot_schedule(scheduler, length=length, path=temporary)

    def draw_traversal(self, model, shown, shown_codes, held_out=True):
        """Writes ``traversal.png``: the first shown sample, and its posterior mean decoded with one latent
        dimension at a time swept over ``pictures.traversal_values``. The rows are in order of each dimension's
        KL over the shown samples, largest first, at most ``pictures.TRAVERSED_DIMENSIONS`` of them (in order of
        how much each posterior mean varies over them where there is no KL per dimension: a posterior or prior
        that does not factorise, a Keras loss); a dimension that ``active_units`` counts as inactive is greyed.
        One decoder call."""
        from tfae.metrics.active_units import ACTIVITY_THRESHOLD

        which = "held-out" if held_out else "training"
        codes = np.asarray(shown_codes, dtype="float64").reshape(len(shown_codes), -1)
        variance = codes.var(axis=0)
        kl = _kl_per_dimension(model, shown, self.config.training.seed)
        dimensions = pictures.ordered_dimensions(variance if kl is None else kl)
        rows = "dimensions"
        if len(dimensions) < codes.shape[1]:
            rows = f"the {len(dimensions)} of {codes.shape[1]} dimensions"
        ranked = "their KL (nats)" if kl is not None else "how much their posterior means vary"
        order = f"{rows} in order of {ranked}"
        title = (
            f"Latent traversal around the posterior mean of a {which} sample\n{order} over {len(codes)} {which} "
            "samples; grey: inactive"
        )
        pictures.latent_traversal(
            lambda z: _in_batches(lambda c: model.decoder(c, training=False), z),
            shown_codes[0],
            self.folder / "traversal.png",
            values=pictures.traversal_values(model.bottleneck, seed=self.config.training.seed),
            title=title,
            dimensions=dimensions,
            original=shown[0],
            # A Monte Carlo estimate of a KL near 0 may come out just below it.
            notes=None if kl is None else [f"KL {max(kl[dimension], 0.0):.2f}" for dimension in dimensions],
            inactive=[dimension for dimension in dimensions if variance[dimension] <= ACTIVITY_THRESHOLD],
        )


# Codes drawn per sample for the KL of each latent dimension in traversal.png.
KL_SAMPLES = 16


def _kl_per_dimension(model, x, seed):
    """Each latent dimension's KL in nats, averaged over ``x``, or ``None`` where it has no per-dimension parts
    (a posterior or prior that does not factorise) or the model no tfae likelihood to evaluate with."""
    from tfae.evaluation import evaluate
    from tfae.metrics.importance import factorizes

    if getattr(model, "likelihood", None) is None or not factorizes(model.bottleneck):
        return None
    results = evaluate(model, x, metrics=["kl_per_dimension"], samples=KL_SAMPLES, seed=seed)
    return np.array([results[f"kl_per_dimension_{dimension}"] for dimension in range(model.bottleneck.latent_dim)])


def bernoulli_range_problem(loss, x, source):
    """Why ``x`` cannot be trained on with ``loss`` (a config's ``[training] loss``), or ``None``: a Bernoulli
    likelihood, by any of its names, needs data in [0, 1].

    Only the run checks it, on the whole array, before the model is built: ``fit`` sees batches (from a
    ``tf.data`` pipeline or a generator as often as from an array), which it cannot check without reading
    the data once more.
    """
    from tfae.likelihoods.bernoulli import BernoulliLikelihood
    from tfae.plugins import get_registry

    name = loss if isinstance(loss, str) else loss.get("name")
    try:
        component = get_registry().get("likelihood", str(name)).component
    except TfaeError:  # a Keras loss
        return None
    if not (isinstance(component, type) and issubclass(component, BernoulliLikelihood)):
        return None
    low, high = x.min(), x.max()
    if low >= 0 and high <= 1:
        return None
    return (
        f"the bernoulli loss needs data in [0, 1], but {source} ranges from {low:.3g} to {high:.3g}; scale the "
        'data, or use loss = "gaussian"'
    )


def _parts(arrays):
    return arrays if isinstance(arrays, tuple) else (arrays,)


def _rows(arrays, indices):
    """The rows at ``indices`` of ``arrays`` (an array, or a tuple of arrays read as their concatenation)."""
    parts = _parts(arrays)
    offsets = np.cumsum([0, *(len(part) for part in parts)])
    which = np.searchsorted(offsets, indices, side="right") - 1
    rows = np.empty((len(indices), *parts[0].shape[1:]), dtype=parts[0].dtype)
    for number, part in enumerate(parts):
        taken = which == number
        rows[taken] = part[indices[taken] - offsets[number]]
    return rows


def _scope(strategy):
    """The ``tf.distribute`` strategy's scope, or a context that does nothing when there is none."""
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def _in_batches(function, x, batch_size=1024):
    """``function`` applied eagerly to slices of ``x``, as one NumPy array: for a few thousand samples
    this is quicker than ``predict``, which compiles a function for each model it is called on."""
    from keras import ops

    return np.concatenate(
        [ops.convert_to_numpy(function(x[start : start + batch_size])) for start in range(0, len(x), batch_size)]
    )


def read_history(path):
    """Reads a ``history.csv`` into ``{column: [values]}``."""
    import csv

    path = Path(path)
    if not path.exists():
        return {}
    with path.open(newline="") as file:
        rows = list(csv.DictReader(file))
    columns = rows[0].keys() if rows else []
    return {column: [float(row[column]) for row in rows if row[column] != ""] for column in columns}
