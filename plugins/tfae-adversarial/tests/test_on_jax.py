"""The maths and gradient checks of test_aae, test_msssim and test_rae (their ``ON_JAX``) again on the JAX
backend, in one fresh interpreter (a process has one Keras backend, and one interpreter for both starts JAX once)."""

import json

from on_jax import run_on_jax


def test_the_checks_pass_on_jax(tmp_path):
    code = (
        "import json, keras\n"
        "import test_aae, test_msssim, test_rae\n"
        "names = []\n"
        "for check in test_aae.ON_JAX + test_msssim.ON_JAX + test_rae.ON_JAX:\n"
        "    check()\n"
        "    names.append(check.__name__)\n"
        "print(json.dumps({'backend': keras.backend.backend(), 'checks': names}))\n"
    )
    result = run_on_jax(code, tmp_path)
    found = json.loads(result.stdout.strip().splitlines()[-1])
    import test_aae
    import test_msssim
    import test_rae

    expected = [check.__name__ for check in test_aae.ON_JAX + test_msssim.ON_JAX + test_rae.ON_JAX]
    assert found == {"backend": "jax", "checks": expected}
