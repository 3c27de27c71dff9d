#!/usr/bin/env bash
# The GPU table of docs/benchmarks.md: tfae and the hand-written Keras VAE on KERAS_BACKEND=jax, against
# pythae on CUDA, on the lent GPU machine (TensorFlow is too large to carry there). Run through the device
# tool from the repository root, after fetch_wheels.sh, with `.whl` in carry:
#
#     bash benchmarks/device/run_gpu.sh            # results in $OUT (the tool's) or benchmarks/
#
# It installs the carried wheels, tfae's own among them (without its TensorFlow requirement), into
# /tmp/site, checks that JAX and PyTorch see the GPU, and runs train_throughput.py: the MLP VAE with the sweep
# and the variants, then the convolutional VAE (issue 17).
set -euo pipefail
cd "$(dirname "$0")/../.."
site=/tmp/site
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" .whl/*.whl
export PYTHONPATH="$site" KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false
export TFAE_BENCHMARK_GIT_STATE="$PWD/.whl/git-state.json"  # written by fetch_wheels.sh: no .git here
python3 - <<'PY'
import jax, torch
print("jax", jax.__version__, jax.devices(), "| torch", torch.__version__, torch.cuda.is_available())
assert jax.devices()[0].platform == "gpu", "JAX does not see the GPU"
assert torch.cuda.is_available(), "PyTorch does not see the GPU"
PY
output="${OUT:-benchmarks}"
python3 benchmarks/train_throughput.py --variants --sweep --epochs 6 --output "$output/results-gpu.json" \
    2>&1 | tee "$output/results-gpu.log"
python3 benchmarks/plot_throughput.py "$output/results-gpu.json" "$output/throughput-gpu.png"
python3 benchmarks/train_throughput.py --model conv --epochs 6 --output "$output/results-gpu-conv.json" \
    2>&1 | tee "$output/results-gpu-conv.log"
