"""The checks of the MMD, FactorVAE and DIP-VAE tests that touch the maths, the random numbers or a model, again on
JAX, in one fresh process: a process has one Keras backend, and one process starts JAX and Keras once for the
three modules. The rest of the suite runs on the default backend.
"""

import json

from on_jax import run_on_jax

# Each module's checks start from the random state that its own tests start from (keras.utils.set_random_seed(0)),
# as they would in a process of their own; the training checks write into a folder of their own.
CODE = """
import json, sys
from pathlib import Path

import keras

import test_dip_vae, test_factor_vae, test_mmd

folder = Path(sys.argv[1])
ran = {}

keras.utils.set_random_seed(0)
checks = [name for name in vars(test_mmd) if name.startswith("check_")]
for name in checks:
    check = getattr(test_mmd, name)
    check(folder / "mmd") if name == "check_an_info_vae_trains_saves_and_loads" else check()
ran["mmd"] = len(checks)

keras.utils.set_random_seed(0)
for check in test_factor_vae.CHECKS:
    check()
test_factor_vae.check_a_factor_vae_trains_saves_and_loads(folder / "factor_vae")
ran["factor_vae"] = len(test_factor_vae.CHECKS) + 1

keras.utils.set_random_seed(0)
test_dip_vae.check_closed_forms()
test_dip_vae.check_penalties_are_zero_exactly_when_the_covariance_is_the_identity()
test_dip_vae.check_a_dip_vae_trains_saves_and_loads(folder / "dip_vae")
ran["dip_vae"] = 3

print(json.dumps({"backend": keras.backend.backend(), "ran": ran}))
"""


def test_the_checks_pass_on_jax(tmp_path):
    import test_factor_vae
    import test_mmd

    for name in ("mmd", "factor_vae", "dip_vae"):
        (tmp_path / name).mkdir()
    result = run_on_jax(CODE, tmp_path)
    mmd_checks = len([name for name in vars(test_mmd) if name.startswith("check_")])
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "backend": "jax",
        "ran": {"mmd": mmd_checks, "factor_vae": len(test_factor_vae.CHECKS) + 1, "dip_vae": 3},
    }
