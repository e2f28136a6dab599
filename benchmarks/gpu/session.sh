#!/usr/bin/env bash
# The CUDA checks of issue #5, as one command for a lent GPU machine (benchmarks/README.md, "CUDA"):
#
#   run(command="bash benchmarks/gpu/session.sh", carry=[".whl"], timeout_s=600)
#
# Steps (STEPS, default "tests bench two_step"; also "profile" and "factored") each have their own
# time limit (TEST_TIMEOUT, BENCH_TIMEOUT, TWO_STEP_TIMEOUT... seconds; about 9 minutes together), so
# that a step cut short leaves the later ones their time:
# 1. the CUDA test matrix: every test that takes the `device` fixture, on CUDA (eqcnn is not
#    installed there: it runs from src/, with the pytest plugin loaded by module name);
# 2. benchmarks/run.py --device cuda: the CPU cases plus the CUDA target cases (>= 64 channels,
#    64x64, batch 32), in fp32 and under bf16 autocast, against cuDNN and, when the wheels from
#    benchmarks/gpu/fetch_wheels.sh came along in .whl/, against escnn;
# 3. benchmarks/two_step.py --device cuda: the two-step convolution against the dense one (issue #5,
#    item 5) at 64x64, batch 32;
# "graphs": benchmarks/gpu/graphed.py, training steps eager and replayed as CUDA graphs (GRAPHS_CASES;
#   run right after the tests, before escnn is set up);
# "profile": benchmarks/gpu/profile_step.py, a training step op by op (PROFILE_CASES);
# "factored": benchmarks/factored_expansion.py --device cuda, the factored filter expansion against the dense.
# Logs and result files go to $OUT (the device tool's return folder), else ./gpu-out.
set -uo pipefail
out=${OUT:-gpu-out}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD/src"
steps=" ${STEPS:-tests bench two_step} "
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | tee "$out/gpu.txt"
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))" \
  2>&1 | tee -a "$out/gpu.txt"

if [[ $steps == *" tests "* ]]; then
  timeout "${TEST_TIMEOUT:-150}" python3 -m pytest -q -rfE -p no:cacheprovider -p no:eqcnn -p eqcnn.testing.pytest_plugin \
    --eqcnn-device=cuda -m "eqcnn_cuda and not slow" tests 2>&1 | tee "$out/cuda_tests.log" | tail -n 30
fi

if [[ $steps == *" graphs "* ]]; then
  graphs_args=()  # GRAPHS_CASES: case names, each in single quotes ("'C8 tiny' 'C8 gpu 8->8'")
  if [[ -n ${GRAPHS_CASES:-} ]]; then
    eval "graphs_args=(--cases $GRAPHS_CASES)"
  fi
  timeout "${GRAPHS_TIMEOUT:-150}" python3 benchmarks/gpu/graphed.py --rounds "${ROUNDS:-5}" \
    --out "$out/graphed.json" "${graphs_args[@]}" 2>&1 | tee "$out/graphed.md"
fi

bench_path="$PYTHONPATH"
# escnn's wheels (benchmarks/gpu/fetch_wheels.sh), with lie_learn's Cython modules rebuilt against the image's
# numpy 2 (its scipy needs numpy 2; lie_learn's wheels are built against numpy 1)
if ls .whl/escnn-*.whl > /dev/null 2>&1 && python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
  --upgrade --target /tmp/site .whl/*.whl > "$out/escnn_setup.txt" 2>&1 \
  && python3 benchmarks/gpu/rebuild_lie_learn.py /tmp/site >> "$out/escnn_setup.txt" 2>&1; then
  # escnn solves for null spaces with scikit-learn's randomized_svd when sklearn imports, and the image's
  # scikit-learn refuses escnn's np.matrix (seen 2026-11-26: every dihedral layer failed); hidden from
  # this one process, escnn uses scipy's SVD, as in eqcnn's own escnn environment (no scikit-learn)
  mkdir -p /tmp/site/sklearn
  echo 'raise ImportError("hidden from escnn by benchmarks/gpu/session.sh")' > /tmp/site/sklearn/__init__.py
  if PYTHONPATH="$PYTHONPATH:/tmp/site" python3 -c "import torch, escnn.nn as e, escnn.gspaces as g; s = g.flipRot2dOnR2(4)
t = e.FieldType(s, 2 * [s.regular_repr]); e.R2Conv(t, t, 3)" >> "$out/escnn_setup.txt" 2>&1; then
    bench_path="$PYTHONPATH:/tmp/site"
  fi
fi
tail -n 3 "$out/escnn_setup.txt"
if [[ $steps == *" bench "* ]]; then
  PYTHONPATH="$bench_path" timeout "${BENCH_TIMEOUT:-330}" python3 benchmarks/run.py --device cuda \
    --rounds "${ROUNDS:-5}" --build-rounds "${BUILD_ROUNDS:-3}" --import-rounds "${IMPORT_ROUNDS:-7}" ${BENCH_ARGS:-} \
    --out "$out" 2>&1 | tee "$out/bench.log" | tail -n 60
fi
if [[ $steps == *" two_step "* ]]; then
  timeout "${TWO_STEP_TIMEOUT:-60}" python3 benchmarks/two_step.py --device cuda 2>&1 | tee "$out/two_step.md"
fi
if [[ $steps == *" profile "* ]]; then
  # shellcheck disable=SC2086  # (the case names are quoted in PROFILE_CASES)
  eval timeout "${PROFILE_TIMEOUT:-120}" python3 benchmarks/gpu/profile_step.py --device cuda \
    --cases "${PROFILE_CASES:-'C16 gpu 4->4' 'C8 gpu 16->16' 'C8 tiny'}" > "$out/profile.txt" 2>&1
  grep "^## " "$out/profile.txt"
fi
if [[ $steps == *" factored "* ]]; then
  timeout "${FACTORED_TIMEOUT:-120}" python3 benchmarks/factored_expansion.py --device cuda --rounds 5 2>&1 \
    | tee "$out/factored.md"
fi
