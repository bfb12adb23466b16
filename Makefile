# Two commands set everything up: `make demo` and `make test`.  Both install the pinned stack into
# a virtual environment (.venv) the first time, and are quick once it is there.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.psfusion-installed
# Keep pytest and the demo to the machine's cores (torch otherwise oversubscribes small machines).
export OMP_NUM_THREADS ?= $(shell nproc 2>/dev/null || echo 2)
PYTEST_ARGS ?=
DEMO_DIR ?= work_dirs/demo

.PHONY: install demo test test-slow clean-venv

install: $(STAMP)

# Installs the tested set: torch 2.14.1 + torchvision 0.29.1 (the `torch` extra) and the exact
# OpenMMLab pins from setup.cfg, then the package itself in editable mode.
$(STAMP): setup.cfg pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip>=23.1"
	$(PY) -m pip install -q -e ".[torch,test]"
	$(PY) -c "import psfusion, mmseg.models, mmpretrain.models; print('psfusion installed:', psfusion.__version__)"
	@touch $(STAMP)

demo: install
	$(PY) tools/make_synthetic.py --out $(DEMO_DIR)/data --num-train 64 --num-test 32 --seed 0

test: install
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

test-slow: install
	$(PY) -m pytest -m slow $(PYTEST_ARGS)

clean-venv:
	rm -rf $(VENV)
