#!/usr/bin/env bash
# Puts into .whl/ (git-ignored) the wheels that the GPU machine lacks for the benchmark: tfae itself, built
# from this checkout (run this again after changing it), Keras and what it needs beyond that machine's
# image, tfae's pure-Python needs, and pythae with its own. The GPU
# machine runs Python 3.12 on x86-64 and already has JAX (CUDA), PyTorch (CUDA), NumPy, SciPy,
# scikit-learn, h5py, rich, absl-py, ml-dtypes, matplotlib, pluggy, zipp, tqdm, imageio and cloudpickle.
#
#     bash benchmarks/device/fetch_wheels.sh        # here, once; then run_gpu.sh on the GPU machine
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx "/.whl/" .git/info/exclude 2>/dev/null || echo "/.whl/" >> .git/info/exclude
rm -rf .whl && mkdir .whl
platforms=()
for tag in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do
    platforms+=(--platform "$tag")
done
# pythae's "dataclasses" requirement is the Python 3.6 backport: Python 3.12 has the module, so it stays out.
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${platforms[@]}" -d .whl \
    "keras==3.15.1" namex optree importlib-metadata lazy-importer \
    "pythae==0.1.2" pydantic pydantic-core annotated-types typing-inspection typing-extensions
# tfae is pure Python: a wheel built here installs there (without its TensorFlow requirement: --no-deps).
python3 -m pip wheel -q --no-deps -w .whl .
# The GPU machine gets a copy of the tree without .git: the results record this checkout's commit and status.
python3 benchmarks/report.py git-state > .whl/git-state.json
ls .whl
du -sh .whl
