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

# The whole pipeline on the synthetic dataset, offline, on the CPU (about 10.5 minutes on 2 cores):
# data -> light PSFusion training -> fused train/test splits (+ semantic-head predictions) ->
# SegFormer-mini trained and tested on ir, vi, avg (the per-pixel average, fused on first use)
# and psfusion (image-level fusion), and Early-mini on rgbt (feature-level fusion: visible +
# infrared as 4 input channels) under the same recipe, two seeds each (150 iterations: 10 runs
# fit the 12-minute budget) -> per-class tables with intervals, paired tests, figures.
# Every step skips work already done, so an interrupted `make demo` continues where it stopped.
DEMO_FUSION := $(DEMO_DIR)/fusion
DEMO_FUSED := $(DEMO_DIR)/fused
DEMO_CKPT := $(DEMO_FUSION)/iter_200.pth# the last checkpoint of psfusion_light_synthetic.py
DEMO_SEEDS ?= 0,1
demo: install
	$(PY) tools/make_synthetic.py --out $(DEMO_DIR)/data --num-train 64 --num-test 32 --seed 0
	test -f $(DEMO_CKPT) || $(PY) tools/train_fusion.py \
		psfusion/configs/psfusion_light_synthetic.py --work-dir $(DEMO_FUSION) \
		--cfg-options train_dataloader.dataset.data_root=$(DEMO_DIR)/data \
		val_dataloader.dataset.data_root=$(DEMO_DIR)/data \
		test_dataloader.dataset.data_root=$(DEMO_DIR)/data
	$(PY) tools/fuse.py psfusion/configs/psfusion_light_synthetic.py $(DEMO_CKPT) \
		--src $(DEMO_DIR)/data --layout msrs --split train,test --save-seg --out $(DEMO_FUSED)
	$(PY) tools/benchmark_downstream.py --seg segformer_mini,early_mini --dataset synthetic \
		--data-root $(DEMO_DIR)/data --sources ir,vi,avg,psfusion=$(DEMO_FUSED),rgbt \
		--schedule quick --max-iters 150 --seeds $(DEMO_SEEDS) --work-dir $(DEMO_DIR)
	$(PY) tools/make_tables.py --dataset synthetic --results $(DEMO_DIR)/results.csv \
		--out $(DEMO_DIR)

test: install
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

test-slow: install
	$(PY) -m pytest -m slow $(PYTEST_ARGS)

clean-venv:
	rm -rf $(VENV)
