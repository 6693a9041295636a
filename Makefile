# Two commands for a fresh machine (see README):
#   make figures   install into .venv and run the main job on the quick preset
#   make test      install into .venv and run the test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PRESET ?= quick
CORES  ?= $(shell nproc)

.PHONY: install figures test benchmark clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[all]'
	touch $@

install: $(VENV)/.installed

figures: install
	$(PY) -m paper_lib structures --config config/$(PRESET).yaml --processes $(CORES)
	$(PY) -m paper_lib fingerprints --db results/$(PRESET)/structures.db --out results/$(PRESET)/fingerprints.h5 --processes $(CORES)
	$(PY) -m paper_lib render results/$(PRESET)/fingerprints.h5 --out figures/$(PRESET)/fingerprints --per-class 1

test: install
	$(PY) -m pytest -n $(CORES) tests

benchmark: install
	$(PY) benchmarks/bench_structures.py
	$(PY) benchmarks/bench_fingerprints.py

clean:
	rm -rf results/quick figures/quick executed/quick .snakemake
