"""A model with the adversarial regularizer, one compiled with the MS-SSIM loss and a regularised autoencoder,
each saved here and loaded by ``tfae.load_model`` in a fresh process, which finds their classes through the
plugin's entry points alone (no ``custom_objects``, nothing imported first), predicts as the saved model did and
trains on. (A model that ``tfae train`` saves in another process is loaded in test_aae.py too.)

One fresh process loads the three, which starts TensorFlow once.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
from tfae.datasets import load_digits
from tfae.models import Autoencoder

from tfae_adversarial.msssim import MultiScaleSSIMLoss
from tfae_adversarial.rae import RegularizedAutoencoder

LOAD = """
import json, sys
import numpy as np
import tfae
from tfae.datasets import load_digits

images = load_digits()[0][:32]
found = {}
for name in ("aae", "msssim", "rae"):
    model = tfae.load_model(f"{sys.argv[1]}/{name}.keras")
    same = np.allclose(model.predict(images, verbose=0), np.load(f"{sys.argv[1]}/{name}.npy"), atol=1e-6)
    regularizer = model.bottleneck.regularizer
    discriminator = getattr(regularizer, "discriminator", None)
    if discriminator is not None:
        with np.load(f"{sys.argv[1]}/discriminator.npz") as saved:
            weights = [saved[key] for key in saved.files]
        same = same and all(np.array_equal(a, b) for a, b in zip(weights, discriminator.get_weights()))
    history = model.fit(images, epochs=1, batch_size=16, verbose=0).history
    found[name] = {
        "model": type(model).__module__ + "." + type(model).__name__,
        "regularizer": type(regularizer).__module__ + "." + type(regularizer).__name__,
        "regularizer_config": regularizer.get_config(),
        "loss": type(model.loss).__module__ + "." + type(model.loss).__name__ if model.loss else None,
        "loss_config": model.loss.get_config() if model.loss else None,
        "config": {key: getattr(model, key, None) for key in ("decoder_penalty", "decoder_beta")},
        "same": bool(same),
        "logged": sorted(history),
    }
print(json.dumps(found))
"""


def test_the_three_load_in_a_fresh_process_by_their_registered_names(tmp_path):
    images = load_digits()[0][:32]
    regularizer = {"name": "aae", "hidden": [8], "prior_samples": 16, "seed": 1}
    aae = Autoencoder({"name": "gaussian", "latent_dim": 2, "regularizer": regularizer})
    aae.compile(optimizer="adam", loss="bernoulli", jit_compile=False)
    msssim = Autoencoder({"name": "gaussian", "latent_dim": 2, "regularizer": {"name": "kld", "beta": 0.01}})
    msssim.compile(optimizer="adam", loss=MultiScaleSSIMLoss(weights=[0.1356, 0.8644], window_size=3), jit_compile=False)
    bottleneck = {"name": "vanilla", "latent_dim": 2, "regularizer": {"name": "l2", "beta": 1e-3}}
    rae = RegularizedAutoencoder(bottleneck, decoder_penalty="gp", decoder_beta=0.01, hidden=[16])
    rae.compile(optimizer="adam", loss="bernoulli", jit_compile=False)
    for name, model in (("aae", aae), ("msssim", msssim), ("rae", rae)):
        model.build((None, *images.shape[1:]))
        model.save(tmp_path / f"{name}.keras")
        np.save(tmp_path / f"{name}.npy", model.predict(images, verbose=0))
    np.savez(tmp_path / "discriminator.npz", *aae.bottleneck.regularizer.discriminator.get_weights())

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", LOAD, str(tmp_path)], env=env, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])

    assert found["aae"]["regularizer"] == "tfae_adversarial.aae.AdversarialRegularizer"
    assert found["aae"]["regularizer_config"] == {"beta": 1.0, "hidden": [8], "prior_samples": 16, "seed": 1}
    assert {"aae_loss", "aae_discriminator_loss"} <= set(found["aae"]["logged"])
    assert found["msssim"]["model"] == "tfae.models.autoencoder.Autoencoder"
    assert found["msssim"]["loss"] == "tfae_adversarial.msssim.MultiScaleSSIMLoss"
    config = found["msssim"]["loss_config"]
    settings = (config["weights"], config["window_size"], config["sigma"], config["data_range"])
    assert settings == ([0.1356, 0.8644], 3, 1.5, 1.0)
    assert found["rae"]["model"] == "tfae_adversarial.rae.RegularizedAutoencoder"
    assert found["rae"]["config"] == {"decoder_penalty": "gp", "decoder_beta": 0.01}
    assert {"decoder_penalty_loss", "l2_loss"} <= set(found["rae"]["logged"])
    assert all(found[name]["same"] for name in ("aae", "msssim", "rae")), found
    assert keras.saving.get_registered_object("tfae_adversarial>RegularizedAutoencoder") is RegularizedAutoencoder
