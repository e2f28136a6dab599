#!/usr/bin/env bash
# The CUDA checks owed by issue #5, as one command for a lent GPU machine (benchmarks/README.md):
#
#   run(command="bash benchmarks/gpu/session.sh", carry=[".whl"], timeout_s=600)
#
# 1. the CUDA test matrix: every test that takes the `device` fixture, on CUDA (eqcnn is not
#    installed there: it runs from src/, with the pytest plugin loaded by module name);
# 2. benchmarks/run.py --device cuda: the CPU cases plus the CUDA target cases (>= 64 channels,
#    64x64, batch 32), in fp32 and under bf16 autocast, against cuDNN and, when the wheels from
#    benchmarks/gpu/fetch_wheels.sh came along in .whl/, against escnn.
# Logs and result files go to $OUT (the device tool's return folder), else ./gpu-out.
set -uo pipefail
out=${OUT:-gpu-out}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD/src"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | tee "$out/gpu.txt"
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))" \
  2>&1 | tee -a "$out/gpu.txt"

timeout "${TEST_TIMEOUT:-150}" python3 -m pytest -q -p no:cacheprovider -p no:eqcnn -p eqcnn.testing.pytest_plugin \
  --eqcnn-device=cuda -m "eqcnn_cuda and not slow" tests 2>&1 | tee "$out/cuda_tests.log" | tail -n 30

bench_path="$PYTHONPATH"
if ls .whl/*.whl > /dev/null 2>&1 && python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
  --upgrade --target /tmp/site .whl/*.whl; then
  # escnn's lie_learn needs numpy 1: use the wheels only if torch and escnn both import with them
  if PYTHONPATH="$PYTHONPATH:/tmp/site" python3 -c "import torch, escnn.nn; torch.zeros(1).numpy()" 2> "$out/escnn_import.txt"; then
    bench_path="$PYTHONPATH:/tmp/site"
  fi
fi
PYTHONPATH="$bench_path" timeout "${BENCH_TIMEOUT:-400}" python3 benchmarks/run.py --device cuda \
  --rounds "${ROUNDS:-5}" --build-rounds "${BUILD_ROUNDS:-3}" --out "$out" 2>&1 | tee "$out/bench.log" | tail -n 60
