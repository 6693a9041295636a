# Two commands for a fresh machine (see README):
#   make figures   install into .venv and run the main job on the quick preset
#   make test      install into .venv and run the test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PRESET ?= quick
CORES  ?= $(shell nproc)

# What `make install` installs (docs/install.md):
# - on Linux x86_64, glibc >= 2.34, CPython 3.11.5 or newer 3.11 (CI, Binder): the lock, every package pinned to
#   the version the test suite ran with (pip install -r LOCK), then the project alone (--no-deps);
# - anywhere else (macOS, aarch64, another Python), or with `make install LOCK=`: the ranges of pyproject.toml.
# The stamp records which of the two the venv holds; asking for the other one reinstalls.
# `make lock` regenerates the lock (scripts/lock.sh, with uv $(UV_VERSION) in build/uv).
LOCKFILE   := requirements/lock-linux-x86_64-py311.txt
UV_VERSION ?= 0.13.9
HOST := $(shell $(PYTHON) -c 'import platform, sys; v = sys.version_info; \
	print(sys.platform == "linux" and platform.machine() == "x86_64" and v[:2] == (3, 11) and v[2] >= 5 \
	and tuple(map(int, (platform.libc_ver()[1] or "0").split(".")[:2])) >= (2, 34))' 2>/dev/null)
ifeq ($(HOST),True)
LOCK ?= $(LOCKFILE)
endif
MODE := $(if $(LOCK),lock $(LOCK),ranges)
ifneq ($(shell cat $(VENV)/.installed 2>/dev/null),$(MODE))
.PHONY: $(VENV)/.installed
endif

.PHONY: install figures test benchmark clean lock

# tensorflow-cpu (what earlier versions installed) shares its files with tensorflow: removed first
$(VENV)/.installed: pyproject.toml $(LOCKFILE)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip uninstall --quiet --yes tensorflow-cpu
ifneq ($(LOCK),)
	$(PY) -m pip install --quiet -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps -e '.[all]'
	$(PY) -m pip check
else
	$(PY) -m pip install --quiet -e '.[all]'
endif
	echo '$(MODE)' > $@

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

lock:
	$(PYTHON) -m venv build/uv
	build/uv/bin/python -m pip install --quiet uv==$(UV_VERSION)
	UV=build/uv/bin/uv scripts/lock.sh

clean:
	rm -rf results/quick figures/quick executed/quick .snakemake
