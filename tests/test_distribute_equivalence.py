"""Under tf.distribute tfae computes what it computes on one device, checked on two logical CPUs.

TensorFlow splits the CPU into logical devices only before it starts, so the comparisons run in one
subprocess (this file, run as a script): for every bottleneck x regularizer x likelihood it computes the loss,
its logged parts and the gradients of one global batch on one device and under a MirroredStrategy over two
logical CPUs, on identical weights, and prints what it found as JSON; the tests read that report.

Sampling noise is part of what must match: a variational bottleneck under the strategy must draw, on each
replica, the noise that its share of the batch would get on one device.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from timeouts import HANG_TIMEOUT_S

pytestmark = [
    pytest.mark.slow,
    pytest.mark.long,
    # One worker runs both tests, so that the module's subprocess (half a minute) runs once.
    pytest.mark.xdist_group("distribute-equivalence"),
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow", reason="tf.distribute is TensorFlow's: these tests need its backend"
    ),
]

REPLICAS = 2
GLOBAL_BATCH = 16
FEATURES = 6
LATENT_DIM = 3
TOLERANCE = 1e-5
SUBPROCESS_TIMEOUT = HANG_TIMEOUT_S

# A beta that is a variable (a schedule), so that the logged beta is compared too.
EPOCH_BETA = {"name": "dasr", "start_value": 0.5, "end_value": 1.0, "attack": 3}
STEP_BETA = {"name": "dasr", "start_value": 0.1, "end_value": 1.0, "attack": 3, "unit": "step"}


def bottleneck_spec(name, regularizer=None, beta=EPOCH_BETA, seed=1):
    spec = {"name": name, "latent_dim": LATENT_DIM}
    if name != "vanilla":
        spec["seed"] = seed
    if regularizer is not None:
        spec["regularizer"] = {"name": regularizer, "beta": beta}
    return spec


BOTTLENECKS = {
    "vanilla": bottleneck_spec("vanilla"),
    "vanilla+l2": bottleneck_spec("vanilla", "l2"),
    "gaussian+kld": bottleneck_spec("gaussian", "kld"),
    "gaussian+reversed_kld": bottleneck_spec("gaussian", "reversed_kld"),
    "gaussian+l2": bottleneck_spec("gaussian", "l2", beta=0.5),
    "bernoulli+bernoulli_kld": bottleneck_spec("bernoulli", "bernoulli_kld"),
    "bernoulli+l2": bottleneck_spec("bernoulli", "l2", beta=0.5),
}
LIKELIHOODS = {
    "bernoulli": "bernoulli",
    "gaussian": {"name": "gaussian", "variance": 0.5},
    "gaussian_learned": {"name": "gaussian", "variance": "learned"},
    "mse": "mse",
}


def relative_error(value, reference):
    """``|value - reference| / |reference|`` in the Euclidean norm; values are scalars or arrays."""
    value, reference = np.asarray(value, "float64"), np.asarray(reference, "float64")
    return float(np.linalg.norm(value - reference) / max(np.linalg.norm(reference), 1e-30))


# ---- The subprocess: everything below runs with two logical CPUs ----


def _measure(model, strategy, x, training):
    """The loss, its logged parts and the gradients of the batch ``x`` through the model's own compute_loss."""
    import tensorflow as tf

    def replica_step(batch):
        with tf.GradientTape() as tape:
            loss = model.compute_loss(x=batch, training=training)
        return loss, tape.gradient(loss, model.trainable_variables)

    trackers = {
        "reconstruction_loss": model.reconstruction_loss_tracker,
        "regularization_loss": model.regularization_loss_tracker,
        "beta": model.beta_trackers[0] if model.beta_trackers else None,
        **{tracker.name: tracker for tracker in model.regularizer_trackers},
    }
    for tracker in trackers.values():
        if tracker is not None:
            tracker.reset_state()
    if strategy.num_replicas_in_sync == 1:
        loss, gradients = replica_step(tf.constant(x))
    else:
        dataset = tf.data.Dataset.from_tensor_slices(x).batch(len(x))
        batch = next(iter(strategy.experimental_distribute_dataset(dataset)))
        loss, gradients = strategy.run(replica_step, args=(batch,))
        loss = strategy.reduce("SUM", loss, axis=None)
        gradients = [strategy.reduce("SUM", gradient, axis=None) for gradient in gradients]
    values = {"loss": float(loss)}
    values.update({name: float(tracker.result()) for name, tracker in trackers.items() if tracker is not None})
    return values, [np.asarray(gradient) for gradient in gradients]


def _make_model(strategy, bottleneck, likelihood, weights=None, model_class=None, **kwargs):
    from tfae.models import Autoencoder

    with strategy.scope():
        model = (model_class or Autoencoder)(bottleneck=json.loads(json.dumps(bottleneck)), **kwargs)
        model.compile(optimizer=keras.optimizers.SGD(0.5), loss=likelihood)
        model.build((None, FEATURES))
    if weights is not None:
        model.set_weights(weights)
    return model


def _compare(values, reference):
    return {name: relative_error(values[name], reference[name]) for name in reference}


def _compare_gradients(gradients, reference, model):
    return {
        variable.path: relative_error(gradient, expected)
        for variable, gradient, expected in zip(model.trainable_variables, gradients, reference)
    }


def _check_components(strategy, x):
    """Loss parts and gradients for every combination, at inference (means) and while training (samples)."""
    import tensorflow as tf

    one_device = tf.distribute.get_strategy()
    records = []
    for bottleneck_name, bottleneck in BOTTLENECKS.items():
        for likelihood_name, likelihood in LIKELIHOODS.items():
            reference_model = _make_model(one_device, bottleneck, likelihood)
            weights = reference_model.get_weights()
            model = _make_model(strategy, bottleneck, likelihood, weights)
            for training in (False, True):
                expected, expected_gradients = _measure(reference_model, one_device, x, training)
                values, gradients = _measure(model, strategy, x, training)
                records.append(
                    {
                        "combination": f"{bottleneck_name} / {likelihood_name}",
                        "training": training,
                        "variational": bottleneck["name"] != "vanilla",
                        "values": values,
                        "expected": expected,
                        "errors": _compare(values, expected),
                        "gradient_errors": _compare_gradients(gradients, expected_gradients, model),
                    }
                )
    return records


def _fit(model, data, epochs=2):
    """Fits NumPy arrays in global batches, or a batched tf.data.Dataset, in order; returns the history."""
    batch_size = GLOBAL_BATCH if isinstance(data, np.ndarray) else None
    history = model.fit(data, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0)
    return {key: [float(value) for value in values] for key, values in history.history.items()}


def _check_fit(strategy, x):
    """Real ``fit`` runs: the same weights, logs and schedule counters as on one device."""
    import tensorflow as tf

    one_device = tf.distribute.get_strategy()
    records = []
    cases = {
        "vanilla+l2, step-counted beta": bottleneck_spec("vanilla", "l2", beta=STEP_BETA),
        "gaussian+kld, step-counted beta": bottleneck_spec("gaussian", "kld", beta=STEP_BETA, seed=3),
        "bernoulli+bernoulli_kld, epoch-counted beta": BOTTLENECKS["bernoulli+bernoulli_kld"],
    }
    for case, bottleneck in cases.items():
        reference = _make_model(one_device, bottleneck, "bernoulli")
        weights = reference.get_weights()
        expected_history = _fit(reference, x)
        expected_weights = reference.get_weights()
        for data_name in ("numpy", "tf.data"):
            model = _make_model(strategy, bottleneck, "bernoulli", weights)
            data = x if data_name == "numpy" else tf.data.Dataset.from_tensor_slices(x).batch(GLOBAL_BATCH)
            history = _fit(model, data)
            scheduler = model.schedulers[0]
            records.append(
                {
                    "case": f"{case}, {data_name}",
                    "variational": bottleneck["name"] != "vanilla",
                    "history": history,
                    "expected_history": expected_history,
                    "history_errors": {
                        key: relative_error(history[key], expected) for key, expected in expected_history.items()
                    },
                    "weight_errors": {
                        variable.path: relative_error(value, expected)
                        for variable, value, expected in zip(model.weights, model.get_weights(), expected_weights)
                    },
                    "schedule_step": int(scheduler.step.numpy()),
                    "expected_schedule_step": int(reference.schedulers[0].step.numpy()),
                    "unit": scheduler.unit,
                }
            )
    return records


def _check_models_and_evaluate(strategy, x):
    """A deep model trained on tf.data, and evaluate() on one device and under the strategy."""
    import tensorflow as tf

    from tfae.models import DeepAutoencoder

    def add_hidden(tensor, layer_num, input_shape, latent_dim):
        return keras.layers.Dense(5, activation="relu")(tensor), layer_num == 1

    one_device = tf.distribute.get_strategy()
    bottleneck = BOTTLENECKS["gaussian+kld"]
    reference = _make_model(one_device, bottleneck, "bernoulli", model_class=DeepAutoencoder, add_hidden=add_hidden)
    weights = reference.get_weights()
    model = _make_model(strategy, bottleneck, "bernoulli", weights, DeepAutoencoder, add_hidden=add_hidden)
    expected = reference.evaluate(x, batch_size=GLOBAL_BATCH, verbose=0, return_dict=True)
    evaluated = model.evaluate(x, batch_size=GLOBAL_BATCH, verbose=0, return_dict=True)
    history = _fit(model, tf.data.Dataset.from_tensor_slices(x).shuffle(len(x), seed=0).batch(GLOBAL_BATCH), epochs=3)
    return {
        "evaluate_errors": {key: relative_error(evaluated[key], float(value)) for key, value in expected.items()},
        "deep_history": history,
        "deep_schedule_value": float(model.schedulers[0].value.numpy()),
        "expected_schedule_value": model.schedulers[0].value_at(2),
    }


def main():
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * REPLICAS)
    keras.utils.set_random_seed(0)
    strategy = tf.distribute.MirroredStrategy([f"/cpu:{index}" for index in range(REPLICAS)])
    x = np.random.default_rng(0).random((2 * GLOBAL_BATCH, FEATURES)).astype("float32")
    report = {
        "replicas": strategy.num_replicas_in_sync,
        "components": _check_components(strategy, x[:GLOBAL_BATCH]),
        "fit": _check_fit(strategy, x),
        **_check_models_and_evaluate(strategy, x),
    }
    print("REPORT " + json.dumps(report))


# ---- The tests ----


@pytest.fixture(scope="module")
def report():
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run(
        [sys.executable, __file__], capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT, env=environment
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("REPORT ")]
    output = f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    assert result.returncode == 0 and lines, f"the equivalence run failed:\n{output}"
    return json.loads(lines[-1][len("REPORT ") :])


def _failures(records, key, label):
    failures = []
    for record in records:
        for name, error in record[key].items():
            if not error < TOLERANCE:
                failures.append(f"{label(record)}: {name} relative error {error:.2e}")
    return failures


def test_two_replicas(report):
    assert report["replicas"] == REPLICAS


def test_loss_and_logged_parts_match_one_device(report):
    """At inference (the posterior means): loss, reconstruction, regularization and beta, every combination."""
    records = [record for record in report["components"] if not record["training"]]
    assert len(records) == len(BOTTLENECKS) * len(LIKELIHOODS)
    failures = _failures(records, "errors", lambda record: record["combination"])
    assert not failures, "\n".join(failures)
    for record in records:
        values = record["values"]
        assert values["loss"] == pytest.approx(values["reconstruction_loss"] + values["regularization_loss"], rel=1e-5)


def test_gradients_match_one_device(report):
    """Gradients at inference for every combination, and while training for the deterministic bottleneck."""
    records = [record for record in report["components"] if not record["training"] or not record["variational"]]

    def label(record):
        return f"{record['combination']} (training={record['training']})"

    failures = _failures(records, "gradient_errors", label) + _failures(records, "errors", label)
    assert not failures, "\n".join(failures)


def test_sampled_codes_match_one_device(report):
    """While training, each replica samples the noise its share of the batch gets on one device."""
    records = [record for record in report["components"] if record["training"] and record["variational"]]
    failures = _failures(records, "errors", lambda record: record["combination"])
    failures += _failures(records, "gradient_errors", lambda record: record["combination"])
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("variational", [False, True], ids=["vanilla", "variational"])
def test_fit_matches_one_device(report, variational):
    """Two epochs of SGD: the same weights, history and schedule counters, from NumPy and from tf.data."""
    records = [record for record in report["fit"] if record["variational"] == variational]
    assert records
    failures = _failures(records, "weight_errors", lambda record: record["case"])
    failures += _failures(records, "history_errors", lambda record: record["case"])
    assert not failures, "\n".join(failures)
    for record in records:
        assert set(record["history"]) == set(record["expected_history"])
        if record["unit"] == "step":
            # Two epochs of two global steps: the counter moves once per global step, not once per replica.
            assert record["schedule_step"] == record["expected_schedule_step"] == 4, record["case"]


def test_deep_model_trains_and_evaluates_like_one_device(report):
    errors = report["evaluate_errors"]
    assert set(errors) >= {"loss", "reconstruction_loss", "regularization_loss", "beta"}
    assert all(error < TOLERANCE for error in errors.values()), errors
    history = report["deep_history"]
    assert len(history["loss"]) == 3 and np.all(np.isfinite(history["loss"]))
    np.testing.assert_allclose(
        history["loss"], np.add(history["reconstruction_loss"], history["regularization_loss"]), rtol=1e-5
    )
    assert report["deep_schedule_value"] == pytest.approx(report["expected_schedule_value"])


if __name__ == "__main__":
    main()
