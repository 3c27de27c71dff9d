"""tfae.keras_private: each use of Keras' private API, tested on real Keras objects; and no use outside it.

Each test fails if Keras changes the private thing the function relies on (renames it, moves it, or
changes what it does), so that a Keras upgrade breaks here and not somewhere inside a training run. CI runs
the backend-neutral ones against the oldest Keras that pyproject.toml allows as well as the newest.
"""

import ast
import json
import os
from pathlib import Path

import keras
import numpy as np
import pytest

from tfae.keras_private import (
    BackupAndRestoreWriter,
    abstract_variables,
    all_layers,
    compiled_loss,
    creation_strategy,
    loss_tracker,
    set_untracked,
    unlocked_state,
)

ROOT = Path(__file__).resolve().parents[1]
KERAS_PRIVATE = ROOT / "src" / "tfae" / "keras_private.py"


class Net(keras.Model):
    """A subclassed model: Keras locks its state once it is built (functional and sequential ones it does not)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(2, name="dense")

    def build(self, input_shape):
        self.dense.build(input_shape)

    def call(self, inputs):
        return self.dense(inputs)


def built_net(name=None):
    model = Net(name=name)
    model(np.zeros((2, 3), "float32"))
    return model


def tiny_data(n=8):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 3)).astype("float32"), rng.normal(size=(n, 2)).astype("float32")


def tiny_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    return model


# all_layers ----------------------------------------------------------------------------------------------


class Inner(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(2, name="deep_dense")

    def build(self, input_shape):
        self.dense.build(input_shape)

    def call(self, inputs):
        return self.dense(inputs)


class Outer(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.inner = Inner(name="inner")

    def build(self, input_shape):
        self.inner.build(input_shape)

    def call(self, inputs):
        return self.inner(inputs)


@pytest.mark.backend_neutral
def test_all_layers_finds_a_layer_two_levels_deep_in_a_subclassed_layer():
    outer = Outer(name="outer")
    outer(np.zeros((1, 3), "float32"))
    found = all_layers(outer)
    assert [id(layer) for layer in found] == [id(outer), id(outer.inner), id(outer.inner.dense)]


@pytest.mark.backend_neutral
def test_all_layers_finds_it_inside_nested_functional_models_once_each():
    outer = Outer(name="outer")
    inputs = keras.Input((3,))
    shared = keras.layers.Dense(3, name="shared")
    # The same layer called twice is one layer: the autoencoder counts its bottlenecks this way.
    inner_model = keras.Model(inputs, outer(shared(shared(inputs))), name="inner_model")
    outer_inputs = keras.Input((3,))
    model = keras.Model(outer_inputs, keras.layers.Dense(1, name="head")(inner_model(outer_inputs)))
    found = all_layers(model)
    ids = [id(layer) for layer in found]
    assert ids[0] == id(model)
    assert len(set(ids)) == len(ids)
    for layer in (inner_model, outer, outer.inner, outer.inner.dense, shared):
        assert ids.count(id(layer)) == 1, layer.name
    # Depth first: a layer comes right before what it holds.
    assert ids.index(id(outer)) < ids.index(id(outer.inner)) < ids.index(id(outer.inner.dense))


# unlocked_state ------------------------------------------------------------------------------------------


@pytest.mark.backend_neutral
def test_a_built_model_refuses_a_new_sub_layer_without_unlocked_state():
    model = built_net()
    with pytest.raises(ValueError, match="already built"):
        model.extra = keras.layers.Dense(4)


@pytest.mark.backend_neutral
def test_unlocked_state_lets_a_built_model_take_a_sub_layer_whose_weights_are_saved(tmp_path):
    def extended(name):
        model = built_net(name)
        with unlocked_state(model):
            model.extra = keras.layers.Dense(4, name="extra")
        model.extra.build((None, 2))
        return model

    model = extended("saved")
    assert any(weight is model.extra.kernel for weight in model.weights)
    assert len(model.weights) == 4
    rng = np.random.default_rng(1)
    model.set_weights([rng.normal(size=weight.shape) for weight in model.weights])
    model.save_weights(tmp_path / "model.weights.h5")

    loaded = extended("loaded")
    loaded.load_weights(tmp_path / "model.weights.h5")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded.extra.kernel), model.extra.get_weights()[0])

    # The lock is back after the block.
    with pytest.raises(ValueError, match="already built"):
        model.more = keras.layers.Dense(4)


@pytest.mark.backend_neutral
def test_unlocked_state_leaves_an_unlocked_layer_unlocked():
    model = Net()
    with unlocked_state(model):
        pass
    model.extra = keras.layers.Dense(4)  # not built yet: Keras still takes new state
    assert any(layer is model.extra for layer in model.layers)


# set_untracked -------------------------------------------------------------------------------------------


@pytest.mark.backend_neutral
def test_set_untracked_keeps_a_cache_that_shares_the_layers_out_of_the_state(tmp_path):
    model = built_net()
    codes = keras.Input((3,))
    cache = keras.Model(codes, model.dense(codes), name="cache")

    # Keras tracks what `setattr` assigns: the built model refuses it, an unbuilt one takes it as a layer.
    with pytest.raises(ValueError, match="already built"):
        model.tracked_cache = cache
    unbuilt = Net()
    unbuilt.tracked_cache = cache
    assert any(layer is cache for layer in unbuilt.layers)

    weights = list(model.weights)
    set_untracked(model, "_cache", cache)
    assert model._cache is cache
    assert all(layer is not cache for layer in all_layers(model))
    assert [id(weight) for weight in model.weights] == [id(weight) for weight in weights]
    # Saved and loaded as if the cache were not there.
    model.save_weights(tmp_path / "model.weights.h5")
    loaded = built_net()
    loaded.load_weights(tmp_path / "model.weights.h5")
    for got, want in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.backend_neutral
def test_keras_saving_visits_an_untracked_attribute_and_private_ones_last(tmp_path):
    # Why set_untracked wants a private name: under a public one, Keras saves the shared layers at the
    # cache's path, and a model without the cache cannot load the file.
    model = built_net()
    codes = keras.Input((3,))
    object.__setattr__(model, "cache", keras.Model(codes, model.dense(codes)))
    model.save_weights(tmp_path / "model.weights.h5")
    with pytest.raises(ValueError):
        built_net().load_weights(tmp_path / "model.weights.h5")
    with pytest.raises(ValueError, match="underscore"):
        set_untracked(model, "cache", None)


# compiled_loss -------------------------------------------------------------------------------------------


@pytest.mark.backend_neutral
def test_compiled_loss_is_keras_mse_without_the_models_added_losses():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, kernel_regularizer="l2")])
    model.compile(optimizer="sgd", loss="mse")
    assert model.losses  # the L2 penalty, which the compiled loss leaves out
    rng = np.random.default_rng(0)
    y = rng.normal(size=(5, 2)).astype("float32")
    y_pred = rng.normal(size=(5, 2)).astype("float32")
    per_sample = np.mean((y - y_pred) ** 2, axis=-1)

    value = compiled_loss(model, y, y_pred)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(value), per_sample.mean(), rtol=1e-6)

    sample_weight = np.array([1.0, 0.0, 2.0, 0.5, 3.0], "float32")
    value = compiled_loss(model, y, y_pred, sample_weight)
    expected = np.sum(per_sample * sample_weight) / len(y)  # "sum_over_batch_size"
    np.testing.assert_allclose(keras.ops.convert_to_numpy(value), expected, rtol=1e-6)


@pytest.mark.backend_neutral
def test_compiled_loss_is_none_when_compiled_without_a_loss():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd")
    assert compiled_loss(model, np.zeros((1, 2), "float32"), np.zeros((1, 2), "float32")) is None


# loss_tracker --------------------------------------------------------------------------------------------


@pytest.mark.backend_neutral
def test_loss_tracker_is_the_mean_that_fit_logs_as_loss():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    tracker = loss_tracker(model)
    assert isinstance(tracker, keras.metrics.Mean) and tracker.name == "loss"
    assert any(metric is tracker for metric in model.metrics)
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    model.evaluate(x, np.zeros((8, 2), "float32"), verbose=0)
    expected = np.mean(keras.ops.convert_to_numpy(model(x)) ** 2)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(tracker.result()), expected, rtol=1e-5)


# creation_strategy ---------------------------------------------------------------------------------------


@pytest.mark.backend_neutral
def test_creation_strategy_is_none_for_a_model_made_outside_any_strategy():
    assert creation_strategy(tiny_model()) is None


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute strategies are TensorFlow's")
def test_creation_strategy_is_the_strategy_a_model_was_created_under():
    tf = pytest.importorskip("tensorflow")
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    with strategy.scope():
        inside = tiny_model()
    outside = tiny_model()
    assert creation_strategy(inside) is strategy
    with strategy.scope():
        # Keras' public `distribute_strategy` is the current one here; the creation strategy is still none.
        assert outside.distribute_strategy is strategy
        assert creation_strategy(outside) is None


# abstract_variables ----------------------------------------------------------------------------------------


def next_name(name):
    """The name Keras gives the next layer of the kind that got ``name``: dense -> dense_1 -> dense_2."""
    stem, _, number = name.rpartition("_")
    return f"{stem}_{int(number) + 1}" if number.isdigit() else f"{name}_1"


@pytest.mark.backend_neutral
def test_abstract_variables_take_no_memory_and_leave_keras_as_it_was():
    import random

    before = keras.layers.Dense(1).name
    python_random = random.getstate()
    with abstract_variables():
        huge = keras.layers.Dense(10**6)  # its default seed comes from Python's generator
        huge.build((None, 10**6))
        assert tuple(huge.kernel.shape) == (10**6, 10**6)  # 4 TB, never allocated
    assert random.getstate() == python_random
    assert keras.layers.Dense(1).name == next_name(before)
    # Keras initialises every variable still waiting when a stateless scope closes: the block's are not.
    with keras.StatelessScope():
        pass
    assert huge.kernel._value is None


# BackupAndRestoreWriter ----------------------------------------------------------------------------------


class Recorder(BackupAndRestoreWriter):
    """Records what it is asked to write, and writes nothing."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = []

    def write_backup(self, weights_path, metadata_path, previous_weights_path, previous_metadata_path, metadata):
        self.calls.append(
            {
                "paths": (weights_path, metadata_path, previous_weights_path, previous_metadata_path),
                "metadata": dict(metadata),
            }
        )


class Writer(BackupAndRestoreWriter):
    """Writes the backup plainly, to the paths it is given."""

    def write_backup(self, weights_path, metadata_path, previous_weights_path, previous_metadata_path, metadata):
        os.makedirs(self.backup_dir, exist_ok=True)
        self.model.save_weights(weights_path)
        with open(metadata_path, "w", encoding="utf-8") as file:
            json.dump(metadata, file)


@pytest.mark.backend_neutral
def test_write_backup_gets_the_paths_keras_writes_once_per_epoch(tmp_path):
    x, y = tiny_data()
    keras_dir = tmp_path / "keras"
    keras_callback = keras.callbacks.BackupAndRestore(keras_dir, double_checkpoint=True, delete_checkpoint=False)
    tiny_model().fit(x, y, epochs=2, batch_size=4, verbose=0, callbacks=[keras_callback])
    written_by_keras = set(os.listdir(keras_dir))
    assert len(written_by_keras) == 4  # the weights and the metadata, now and before

    backup_dir = tmp_path / "tfae"
    recorder = Recorder(backup_dir, double_checkpoint=True)
    tiny_model().fit(x, y, epochs=3, batch_size=4, verbose=0, callbacks=[recorder])
    assert [call["metadata"] for call in recorder.calls] == [{"epoch": n, "batch": 0} for n in (1, 2, 3)]
    for call in recorder.calls:
        assert {os.path.basename(path) for path in call["paths"]} == written_by_keras
        assert all(Path(path).parent == backup_dir for path in call["paths"])
    assert not backup_dir.exists()  # Keras' own writer did not run


@pytest.mark.backend_neutral
def test_write_backup_gets_the_batch_with_an_integer_save_freq(tmp_path):
    x, y = tiny_data()
    recorder = Recorder(tmp_path / "backup", save_freq=1)
    tiny_model().fit(x, y, epochs=2, batch_size=4, verbose=0, callbacks=[recorder])
    metadata = [(call["metadata"]["epoch"], call["metadata"]["batch"]) for call in recorder.calls]
    assert metadata == [(0, 0), (0, 1), (1, 0), (1, 1)]


@pytest.mark.backend_neutral
def test_what_write_backup_writes_is_what_keras_restores(tmp_path):
    x, y = tiny_data()
    model = tiny_model()
    model.fit(x, y, epochs=2, batch_size=4, verbose=0, callbacks=[Writer(tmp_path, delete_checkpoint=False)])
    resumed = tiny_model()
    history = resumed.fit(
        x, y, epochs=4, batch_size=4, verbose=0, callbacks=[keras.callbacks.BackupAndRestore(tmp_path)]
    )
    assert history.epoch == [2, 3]


@pytest.mark.backend_neutral
def test_a_url_backup_is_written_by_keras_own_method(monkeypatch):
    saved = []
    # raising=True (the default): the test fails if Keras' callback no longer has the method.
    monkeypatch.setattr(keras.callbacks.BackupAndRestore, "_save_model", lambda self: saved.append(self.backup_dir))
    recorder = Recorder("gs://tfae-no-such-bucket/run")
    recorder.on_epoch_end(0)
    assert saved == ["gs://tfae-no-such-bucket/run"]
    assert recorder.calls == []


@pytest.mark.backend_neutral
def test_write_backup_is_for_a_subclass_to_implement(tmp_path):
    with pytest.raises(NotImplementedError):
        BackupAndRestoreWriter(tmp_path).write_backup("w", "m", "pw", "pm", {"epoch": 1, "batch": 0})


# No private API outside tfae.keras_private ---------------------------------------------------------------

FOREIGN = {"keras", "tensorflow", "tf_keras", "jax", "jaxlib"}
# Public-looking names that are private packages: keras.src, tensorflow.python.
PRIVATE_PACKAGES = {"keras": {"src"}, "tensorflow": {"python"}, "tf_keras": {"src"}}
ATTRIBUTE_FUNCTIONS = {"getattr", "setattr", "hasattr", "delattr"}


def is_private(name):
    return name.startswith("_") and name != "_" and not (name.startswith("__") and name.endswith("__"))


def private_module(path):
    """Whether a dotted module path is a foreign library's private part (``keras.src...``, ``jax._src...``)."""
    parts = path.split(".")
    if parts[0] not in FOREIGN:
        return False
    return any(is_private(part) for part in parts[1:]) or (
        len(parts) > 1 and parts[1] in PRIVATE_PACKAGES.get(parts[0], ())
    )


def source_files():
    return sorted((ROOT / "src" / "tfae").rglob("*.py")) + sorted(ROOT.glob("plugins/*/src/**/*.py"))


def tfae_private_names(trees):
    """The private names tfae defines itself: its functions, classes and module or class names, and what it
    sets on ``self`` and ``cls``. (``_tfae_...`` markers on other libraries' objects are its own too.)"""
    names = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.alias) and node.asname:
                names.add(node.asname)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                    names.add(node.attr)
            elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "set_untracked":
                # set_untracked(layer, "_name", value): an attribute tfae sets, past Keras' tracking.
                if len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
                    names.add(node.args[1].value)
    return {name for name in names if is_private(name)}


def keras_private_names():
    """The private names on the Keras objects tfae subclasses or handles: layers, models, callbacks, ..."""
    model = built_net()
    model.compile(optimizer="adam", loss="mse")
    inputs = keras.Input((3,))
    objects = [
        model,
        keras.Model(inputs, keras.layers.Dense(2)(inputs)),
        keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]),
        keras.layers.Dense(2),
        keras.callbacks.Callback(),
        keras.callbacks.BackupAndRestore("backup"),
        keras.regularizers.L2(),
        keras.metrics.Mean(),
        keras.losses.MeanSquaredError(),
        keras.optimizers.Adam(),
    ]
    return {name for thing in objects for name in dir(thing) if is_private(name)}


class PrivateUses(ast.NodeVisitor):
    """Finds, in one module, the uses of Keras', TensorFlow's or JAX's private API."""

    def __init__(self, tfae_names, keras_names):
        self.tfae_names = tfae_names - keras_names
        self.keras_names = keras_names
        self.modules = {}  # a name bound to an imported module or module member -> its top-level package
        self.found = []

    def report(self, node, what):
        self.found.append((node.lineno, what))

    def foreign_name(self, name):
        """Whether ``name`` is a private attribute tfae does not own (or one that Keras' objects have)."""
        if name.startswith("_tfae_"):  # tfae's own marker, which it may set on another library's object
            return False
        return is_private(name) and (name not in self.tfae_names or name in self.keras_names)

    def visit_Import(self, node):
        for alias in node.names:
            if private_module(alias.name):
                self.report(node, f"imports {alias.name}")
            self.modules[alias.asname or alias.name.split(".")[0]] = alias.name.split(".")[0]

    def visit_ImportFrom(self, node):
        module = node.module or ""
        for alias in node.names:
            if private_module(module) or private_module(f"{module}.{alias.name}"):
                self.report(node, f"imports {alias.name} from {module}")
            if node.level == 0:
                self.modules[alias.asname or alias.name] = module.split(".")[0]

    def visit_Attribute(self, node):
        root = node.value
        while isinstance(root, ast.Attribute):
            root = root.value
        package = self.modules.get(root.id) if isinstance(root, ast.Name) else None
        if package in FOREIGN:
            # A chain on Keras', TensorFlow's or JAX's modules (keras.src.utils, ops._helper): reported once,
            # at its first private part.
            parts = [package, *ast.unparse(node).split(".")[1:]]
            if private_module(".".join(parts)) and not private_module(".".join(parts[:-1])):
                self.report(node, f"uses {ast.unparse(node)}")
        elif package is not None and package != "tfae":
            pass  # another library's module, such as sys._getframe: not Keras' API
        elif self.foreign_name(node.attr):
            self.report(node, f"uses {ast.unparse(node)}")
        self.generic_visit(node)

    def visit_Call(self, node):
        function = node.func
        if isinstance(function, ast.Name) and function.id in ATTRIBUTE_FUNCTIONS and len(node.args) >= 2:
            name = node.args[1]
            if isinstance(name, ast.Constant) and isinstance(name.value, str) and self.foreign_name(name.value):
                self.report(node, f"uses {ast.unparse(node)}")
        if (
            isinstance(function, ast.Attribute)
            and isinstance(function.value, ast.Name)
            and function.value.id == "object"
            and function.attr in ("__setattr__", "__delattr__", "__getattribute__")
        ):
            self.report(node, f"bypasses Keras' attribute tracking: {ast.unparse(node)}")
        if (isinstance(function, ast.Name) and function.id == "__import__") or (
            isinstance(function, ast.Attribute) and function.attr == "import_module"
        ):
            for argument in node.args[:1]:
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                    if private_module(argument.value):
                        self.report(node, f"imports {argument.value}")
        self.generic_visit(node)


@pytest.fixture(scope="module")
def scanner():
    trees = {path: ast.parse(path.read_text(encoding="utf-8"), str(path)) for path in source_files()}
    tfae_names = tfae_private_names(tree for path, tree in trees.items() if path != KERAS_PRIVATE)
    keras_names = keras_private_names()

    def scan(tree):
        visitor = PrivateUses(tfae_names, keras_names)
        visitor.visit(tree)
        return visitor.found

    scan.trees = trees
    return scan


@pytest.mark.backend_neutral
@pytest.mark.parametrize(
    "source",
    [
        "model._compile_loss(y, y_pred)",
        "layer._tracker.unlock()",
        "encoder._flatten_layers()",
        "getattr(model, '_distribute_strategy', None)",
        "from keras.src.saving import serialization_lib",
        "from keras.src.saving.serialization_lib import in_safe_mode",
        "import keras.src.utils.tracking",
        "from keras import src",
        "import keras\nkeras.src.utils.tracking.Tracker",
        "from keras import ops\nops._private_helper(1)",
        "import tensorflow as tf\ntf.python.framework",
        "from tensorflow.python.framework import ops",
        "import jax._src.core",
        "import importlib\nimportlib.import_module('keras.src.backend')",
        "class Backup(keras.callbacks.BackupAndRestore):\n    def f(self):\n        return self._weights_path",
        "class Backup(keras.callbacks.BackupAndRestore):\n    def _save_model(self):\n        super()._save_model()",
        "class Model(keras.Model):\n    def f(self, loss):\n        self._compile_loss = loss",
        "object.__setattr__(self, '_cache', cache)",
    ],
)
def test_the_scan_finds_keras_private_api(scanner, source):
    assert scanner(ast.parse(source)), source


@pytest.mark.backend_neutral
@pytest.mark.parametrize(
    "source",
    [
        "registry._lookup('bottleneck')",  # tfae's own private method
        "_caller_stacklevel()",  # a module-private function
        "self._scheduler = None",
        "model._set_networks(encoder, decoder_network)",
        "self._value._tfae_scheduler = self",  # tfae's own marker on a Keras variable
        "getattr(beta, '_tfae_scheduler', None)",
        "import sys\nsys._getframe(1)",  # Python's, not Keras'
        "type(self).__name__",
        "from tfae.keras_private import all_layers\nall_layers(model)",
        "import keras\nkeras.callbacks.BackupAndRestore",
    ],
)
def test_the_scan_leaves_tfae_own_private_names(scanner, source):
    assert scanner(ast.parse(source)) == [], source


@pytest.mark.backend_neutral
def test_no_module_but_keras_private_uses_keras_private_api(scanner):
    assert KERAS_PRIVATE in scanner.trees and scanner(scanner.trees[KERAS_PRIVATE])  # the scan sees it
    found = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path, tree in scanner.trees.items()
        if path != KERAS_PRIVATE
        for line, what in scanner(tree)
    ]
    assert found == [], "Keras' private API outside src/tfae/keras_private.py:\n" + "\n".join(found)
