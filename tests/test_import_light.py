"""``import tfae`` is light, and tfae works on the JAX backend with no TensorFlow importable."""

import importlib.util
import textwrap

import pytest

from plugin_fixtures import run_python

# Makes `import tensorflow` fail as if it were not installed, before anything is imported.
WITHOUT_TENSORFLOW = """
    import sys


    class NoTensorFlow:
        def find_spec(self, name, path=None, target=None):
            if name == "tensorflow" or name.startswith("tensorflow."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None


    sys.meta_path.insert(0, NoTensorFlow())
    """


def test_import_tfae_loads_no_framework_and_no_plugin():
    result = run_python(
        """
        import json
        import sys

        import tfae
        import tfae.errors
        import tfae.hookspecs
        import tfae.plugins
        import tfae.registry

        light = {name: name in sys.modules for name in ("keras", "tensorflow", "jax")}
        import tfae.bottlenecks
        import tfae.models
        import tfae.regularizers
        import tfae.schedulers

        print(json.dumps({
            "light": light,
            "registry_built": tfae.plugins._registry is not None,
        }))
        """
    )
    assert result["light"] == {"keras": False, "tensorflow": False, "jax": False}
    # The public modules import tfae's own classes statically; the plugins load only when a name is resolved.
    assert not result["registry_built"]


@pytest.mark.backend_neutral
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="needs jax")
def test_jax_backend_without_tensorflow_resolves_builds_and_trains():
    result = run_python(
        textwrap.dedent(WITHOUT_TENSORFLOW)
        + textwrap.dedent(
            """
        import json

        import numpy as np

        import tfae
        import tfae.bottlenecks
        import tfae.models
        import tfae.plugins

        try:
            import tensorflow
            tensorflow_importable = True
        except ImportError:
            tensorflow_importable = False

        from tfae.bottlenecks import GaussianBottleneck

        bottleneck = tfae.plugins.resolve("bottleneck", {
            "name": "gaussian", "latent_dim": 2,
            "regularizer": {"name": "kld", "beta": {"name": "dasr", "attack": 4}},
        })
        model = tfae.models.Autoencoder(bottleneck)
        model.compile(optimizer="adam", loss="bernoulli")
        x = np.random.default_rng(0).uniform(size=(32, 6)).astype("float32")
        history = model.fit(x, epochs=1, batch_size=32, verbose=0)
        import keras

        print(json.dumps({
            "backend": keras.backend.backend(),
            "tensorflow_importable": tensorflow_importable,
            "tensorflow_loaded": "tensorflow" in sys.modules,
            "bottleneck": type(bottleneck).__name__ if isinstance(bottleneck, GaussianBottleneck) else None,
            "loss_finite": bool(np.isfinite(history.history["loss"]).all()),
        }))
        """
        ),
        KERAS_BACKEND="jax",
    )
    assert result["backend"] == "jax"
    assert not result["tensorflow_importable"] and not result["tensorflow_loaded"]
    assert result["bottleneck"] == "GaussianBottleneck"
    assert result["loss_finite"]
