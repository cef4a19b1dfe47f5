# Everything a fresh machine needs: `make demo` and `make test` create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed-stamp

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

demo: $(STAMP)
	$(PY) examples/train_flow.py run
	$(PY) examples/score_demo.py
	$(PY) examples/features_flow.py run
	$(PY) examples/entity_scoring.py
	@$(PY) examples/next_steps.py
	$(PY) examples/experiment_demo.py

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile -q

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests examples benchmarks
	$(VENV)/bin/ruff format --check src tests examples benchmarks
	$(VENV)/bin/mypy src
	$(VENV)/bin/lint-imports

MLFLOW_VENV := .venv-mlflow
FEAST_VENV := .venv-feast

$(BENCH_STAMP): pyproject.toml benchmarks/requirements.txt benchmarks/requirements-mlflow.txt benchmarks/requirements-feast.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install -q --disable-pip-version-check -e '.[data,experiments,features,serving,ray]' -r benchmarks/requirements.txt
	$(PYTHON) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/python -m pip install -q --disable-pip-version-check -r benchmarks/requirements-mlflow.txt
	$(PYTHON) -m venv $(FEAST_VENV)
	$(FEAST_VENV)/bin/python -m pip install -q --disable-pip-version-check -r benchmarks/requirements-feast.txt
	touch $@

# The serving benchmark's load generator, wrk, is a system package, not a pip one:
# benchmarks/wrk.py installs it with apt-get when run as root and otherwise says how.
bench: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python -m benchmarks.run

clean:
	rm -rf $(VENV) $(BENCH_VENV) $(MLFLOW_VENV) $(FEAST_VENV) .shipyard
