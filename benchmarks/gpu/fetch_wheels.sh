#!/usr/bin/env bash
# Run here (with internet access to the package registry), before a session on a lent GPU machine:
# downloads escnn and the pure-Python or cp312 wheels it needs into .whl/ (in .gitignore), for the
# escnn columns of the CUDA benchmarks. The GPU image has Python 3.12, torch, numpy 2 and a scipy that
# needs numpy 2 (seen 2026-11-26); lie_learn's wheel is built against numpy 1, so session.sh rebuilds
# its Cython modules there (benchmarks/gpu/rebuild_lie_learn.py).
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d .whl escnn==1.0.11 lie_learn==0.0.2 pymanopt==2.2.1 autograd==1.9.1
du -sh .whl
