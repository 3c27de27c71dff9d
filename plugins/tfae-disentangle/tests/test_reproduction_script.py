"""tfae's benchmarks/disentanglement_dsprites.py runs end to end, as its smoke setting, and writes what the docs
quote. It lives here, with the plugin it needs, so that it runs wherever the plugin's tests do (in CI, after the
plugin is installed); it needs the tfae checkout this plugin sits in.

The scores of a smoke run mean nothing (a few steps on 256 images of 16x16); what is checked is that every model
trains through the regularizer names tfae and tfae-disentangle register, that both metrics come out in range, and
that the JSON file holds each seed's scores, losses and times.
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "disentanglement_dsprites.py"
HANG_TIMEOUT_S = 900  # a hang, not a speed limit
MODELS = ["vae", "beta_vae", "beta_tcvae", "factor_vae"]


def test_the_smoke_run_trains_every_model_and_writes_scores_losses_and_times(tmp_path):
    assert SCRIPT.is_file(), f"{SCRIPT} is missing: this test runs in a tfae checkout"
    output = tmp_path / "results.json"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--seeds", "0", "--output", str(output)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads(output.read_text())
    assert results["mode"] == "smoke"
    assert list(results["runs"]) == MODELS
    for name in MODELS:
        (run,) = results["runs"][name]
        assert run["seed"] == 0
        assert 0 <= run["mig"] <= 1 and 0 <= run["factor_vae_score"] <= 1
        assert math.isfinite(run["final_losses"]["loss"])
        assert run["steps"] == 4 and run["train_seconds"] > 0
        assert results["summary"][name]["mig"]["mean"] == run["mig"]
    assert "factor_vae_discriminator_loss" in results["runs"]["factor_vae"][0]["final_losses"]
    assert "MIG ordering here" in result.stdout
    # One seed a side: Welch's test of beta-TCVAE against the VAE is recorded with the reason it is not defined.
    welch = results["welch_beta_tcvae_vs_vae"]["mig"]
    assert welch["p_value"] is None and welch["undefined"].startswith("Welch's test needs at least two seeds a side")
    assert "Welch's test, beta-TCVAE against VAE, MIG: Welch's test needs at least two seeds" in result.stdout
