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
	PATH=$(abspath $(VENV))/bin:$$PATH snakemake --cores $(CORES) --configfile config/$(PRESET).yaml
	PATH=$(abspath $(VENV))/bin:$$PATH snakemake --cores $(CORES) --configfile config/$(PRESET).yaml \
		--report figures/$(PRESET)/report.html

test: install
	$(PY) -m pytest -n $(CORES) tests

benchmark: install
	$(PY) benchmarks/bench_structures.py
	$(PY) benchmarks/bench_fingerprints.py

clean:
	rm -rf results/quick figures/quick executed/quick .snakemake
