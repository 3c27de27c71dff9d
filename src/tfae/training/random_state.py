"""The random state that training draws from, saved with a checkpoint so that a resumed run draws the
numbers that an uninterrupted one draws.

Keras saves a model's weights but not the state of its ``keras.random.SeedGenerator`` objects (the noise
of a variational bottleneck, a regularizer's draws, dropout), nor that of Python's and NumPy's global
generators, which a plugin's callback may use. ``random_state`` takes all of them as JSON-ready values and
``restore_random_state`` puts them back; ``tfae.training.checkpoints.Checkpoint`` keeps them in
``checkpoint.json``.
"""

from __future__ import annotations

import random
import warnings

import keras
import numpy as np

from tfae.errors import CheckpointError


def seed_generator_states(model: keras.Model) -> list:
    """The state variables of every ``keras.random.SeedGenerator`` in ``model``, in a fixed order: the
    bottleneck's, its regularizers', a dropout layer's, at any depth.

    Keras saves a model's weights but not these, so a model loaded from a file draws the noise that the
    model drew when it was new. They are what ``model.variables`` holds beyond ``model.weights``.
    """
    weights = {id(weight) for weight in model.weights}
    states, seen = [], set()
    for variable in model.variables:
        if id(variable) not in weights and id(variable) not in seen:
            seen.add(id(variable))
            states.append(variable)
    return states


def random_state(model: keras.Model) -> dict:
    """The random state that training ``model`` draws from, as JSON-ready values.

    Its seed generators' states (``seed_generator_states``: the noise of a variational bottleneck, a
    regularizer's draws, dropout), and the global generators of Python's ``random`` and of NumPy, which a
    plugin's callback may use. ``restore_random_state`` puts it back.
    """
    version, words, gauss = random.getstate()
    name, keys, position, has_gauss, cached = np.random.get_state(legacy=True)
    return {
        "seed_generators": [
            [variable.path, np.asarray(keras.ops.convert_to_numpy(variable)).tolist()]
            for variable in seed_generator_states(model)
        ],
        # The generators' words as hexadecimal text, one line each in checkpoint.json.
        "python": [version, _hex_words(words), gauss],
        "numpy": [name, _hex_words(keys), int(position), int(has_gauss), float(cached)],
    }


def restore_random_state(model: keras.Model, state: dict) -> None:
    """Puts back a ``random_state(model)`` of a model built from the same config.

    The seed generators are matched by their order in the model (their names carry counters of the process
    that made them, so they may differ). A model with another number of seed generators, or of other shapes
    (tfae or a plugin changed in between), gets none of them back, with a warning that the resumed run will
    not repeat an uninterrupted one exactly.

    Raises:
        CheckpointError: ``state`` is not a random state that ``random_state`` wrote.
    """
    try:
        saved = [(str(path), np.asarray(values)) for path, values in state["seed_generators"]]
        version, words, gauss = state["python"]
        python_state = (int(version), tuple(_words(words).tolist()), None if gauss is None else float(gauss))
        name, keys, position, has_gauss, cached = state["numpy"]
        numpy_state = (str(name), _words(keys), int(position), int(has_gauss), float(cached))
        random.setstate(python_state)
        np.random.set_state(numpy_state)
    except (TypeError, ValueError, KeyError, OverflowError) as error:
        raise CheckpointError(f"its random state is unreadable ({type(error).__name__}: {error})") from None
    variables = seed_generator_states(model)
    if len(variables) != len(saved) or any(
        tuple(variable.shape) != values.shape for variable, (_, values) in zip(variables, saved)
    ):
        warnings.warn(
            f"The checkpoint holds the states of {len(saved)} seed generators, which do not match this model's "
            f"{len(variables)} (tfae or a plugin changed since it was written), so training goes on from their "
            "new states: from here on the run will not repeat an uninterrupted one exactly.",
            stacklevel=2,
        )
        return
    for variable, (_, values) in zip(variables, saved):
        variable.assign(values.astype(variable.dtype))


def _hex_words(words) -> str:
    return np.asarray(words, dtype="<u4").tobytes().hex()


def _words(text: str) -> np.ndarray:
    return np.frombuffer(bytes.fromhex(text), dtype="<u4").astype(np.uint32)
