"""A FactorVAE discriminator too large for the memory is refused before any of it is allocated (tfae issue 27,
item 1): tfae's size check builds the model abstractly and counts every variable, the regularizer's own too.
"""

import resource

from tfae.cli import main
from tfae.training.sizes import layout_weight_count


def test_a_discriminator_of_a_billion_units_is_counted_and_refused_in_one_line(tmp_path, capsys, monkeypatch):
    # 2 x 10**9 + 10**9 weights and biases, and 10**9 + 1 in the last layer: 16 GB of float32 to allocate, which
    # was a ResourceExhaustedError traceback when the bottleneck built its regularizer.
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "factor.toml"
    config.write_text(
        '[model.bottleneck]\nname = "gaussian"\nlatent_dim = 2\n'
        'regularizer = {name = "factor_vae", hidden = [1000000000]}\n\n[training]\nepochs = 1\n'
    )
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    assert main(["train", str(config), "-q"]) == 2
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"tfae train: error: {config}"), lines
    own = 2 * 10**9 + 10**9 + 10**9 + 1  # the discriminator's two layers
    weights = layout_weight_count((64,), "dense", [64, 32], 3, 2, 4) + own
    assert f"has {weights:,} weights ({own:,} of them the bottleneck's regularizers' and prior's own)" in lines[0]
    assert "a discriminator's hidden sizes" in lines[0]
    assert grown < 2**29
    assert not (tmp_path / "runs").exists()
