# eqcnn: every target creates the environment it needs on first use.
#   make demo   - the main job (train plain vs equivariant CNNs on rotated digits)
#   make test   - the test suite, with the escnn extra (numpy 1) and in a core env (numpy 2)
SHELL := /bin/bash
PY ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
CORE := .venv-core
PYTEST_ARGS ?=
# Idle OpenMP threads sleep instead of spinning: on a busy 2-core machine spinning threads make
# torch 5-10x slower (the test runs share the cores with other jobs). Benchmarks run with OpenMP's
# default policy, as users do: PASSIVE slows every parallel op (the plain conv of the tiny case 3x),
# which would flatter the ratios to it; the benchmarks' interleaved rounds absorb load drift.
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: all demo test test-full test-core test-slow test-random lint format typecheck docs bench examples clean

all: test

$(VENV)/.stamp: pyproject.toml Makefile
	$(PY) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q "$(TORCH)" "numpy<2" scipy lie_learn joblib pymanopt autograd
	$(VENV)/bin/pip install -q --no-deps escnn==1.0.11
	$(VENV)/bin/pip install -q -e ".[test,plot,dev,docs]" "numpy<2"  # escnn's lie_learn needs numpy 1
	touch $@

$(CORE)/.stamp: pyproject.toml Makefile
	$(PY) -m venv $(CORE)
	$(CORE)/bin/pip install -q --upgrade pip
	$(CORE)/bin/pip install -q "$(TORCH)" "numpy>=2"
	$(CORE)/bin/pip install -q -e ".[test]"
	touch $@

demo: $(VENV)/.stamp
	$(VENV)/bin/eqcnn demo $(DEMO_ARGS)

test: test-full test-core

test-full: $(VENV)/.stamp
	$(VENV)/bin/python -m pytest -m "not slow" $(PYTEST_ARGS) tests

test-core: $(CORE)/.stamp
	$(CORE)/bin/python -c "import numpy, sys; assert numpy.__version__.startswith('2'), numpy.__version__"
	$(CORE)/bin/python -m pytest -m "not slow and not escnn" -q $(PYTEST_ARGS) tests

# The suite in a shuffled order with 2 threads (the default run uses 1, in file order): no test may
# depend on the order, on the thread count or on what an earlier test cached. RANDOM_ORDER_SEED=N
# replays an order; CI uses a fixed one so that a landing does not depend on the draw.
RANDOM_ORDER_SEED ?= 7
test-random: $(VENV)/.stamp
	EQCNN_TEST_THREADS=2 $(VENV)/bin/python -m pytest -m "not slow" -q \
		--random-order-bucket=global --random-order-seed=$(RANDOM_ORDER_SEED) $(PYTEST_ARGS) tests

test-slow: $(VENV)/.stamp
	$(VENV)/bin/python -m pytest -m slow $(PYTEST_ARGS) tests || [ $$? -eq 5 ]  # 5: no slow test collected

lint: $(VENV)/.stamp
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/ruff format --check src tests benchmarks examples
	$(VENV)/bin/mypy

format: $(VENV)/.stamp
	$(VENV)/bin/ruff format src tests benchmarks examples
	$(VENV)/bin/ruff check --fix src tests benchmarks examples

docs: $(VENV)/.stamp
	$(VENV)/bin/mkdocs build --strict --site-dir site

bench: $(VENV)/.stamp
	env -u OMP_WAIT_POLICY $(VENV)/bin/python benchmarks/run.py $(BENCH_ARGS)

examples: $(VENV)/.stamp
	$(VENV)/bin/python examples/run_all.py --quick

clean:
	rm -rf $(VENV) $(CORE) site .pytest_cache .hypothesis
