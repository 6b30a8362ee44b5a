# Two commands on a fresh clone: `make demo` and `make test`; `make lint` and `make test-fast` while working.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup vendor vendor-or-warn test test-fast lint demo dist bench clean

setup: $(STAMP) vendor-or-warn

# The browser runtime of `aea explore` (onnxruntime-web, pinned and checked against its sha512 in
# autoenc_audio/explore/vendoring.py) copied into the package; npm's cache makes a second run offline.
VENDORED := autoenc_audio/explore/vendor/ORIGIN.json
vendor: $(VENDORED)

$(VENDORED): autoenc_audio/explore/vendoring.py
	$(PYTHON) -m autoenc_audio.explore.vendoring

# For setup and the tests: without npm or the registry the explore tests skip, saying why; `make dist` insists.
vendor-or-warn:
	@$(MAKE) --no-print-directory vendor || echo "make: onnxruntime-web is not vendored (npm missing or offline?): the explore tests will skip" >&2

# Set-up runs again only when the project's requirements change.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# TORCH_SPEC goes to the tests: the wheel test installs that torch into its fresh venv.
test: $(STAMP) vendor-or-warn
	TORCH_SPEC="$(TORCH_SPEC)" $(BIN)/python -m pytest

# Everything but the tests marked slow (those that train, render or spawn processes): under a minute on 2 cores.
test-fast: $(STAMP) vendor-or-warn
	$(BIN)/python -m pytest -m "not slow"

# Lint, format check and types; the settings live in pyproject.toml ([tool.ruff], [tool.mypy]).
lint: $(STAMP)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .
	$(BIN)/python -m mypy autoenc_audio

demo: $(STAMP)
	$(BIN)/python -m autoenc_audio demo --out runs/demo --overwrite

# The sdist, then the wheel built from it (so a file the sdist misses is missing from the wheel too), into dist/;
# without a stale egg-info, which would list files that pyproject.toml no longer ships.
dist: $(STAMP) vendor
	rm -rf dist build autoenc_audio.egg-info
	$(BIN)/python -m build --outdir dist .

# Benchmarks take about five hours on 2 cores, and bench_scale.py's learning curves about 11 hours more (22 runs of
# 5-80 minute-equivalents on two datasets: run it in pieces, it skips finished points and resumes a stopped one;
# --dry-run lists what is left); results land in bench/results/.
bench: $(STAMP)
	$(BIN)/python bench/bench_audio.py
	$(BIN)/python bench/bench_latents.py
	$(BIN)/python bench/bench_quality.py --minutes 10 --seeds 0,1,2 --presets default,short,gated --preset-seeds short=0,1,2 --baseline-seeds 0
	$(BIN)/python bench/bench_quality.py --minutes 10 --seeds 0,1,2 --presets default,exlev,gated --baseline-seeds 0 --preset-seeds exlev=0,1,2 --datasets real --no-seed --name quality-exlev
	$(BIN)/python bench/bench_analyze.py --minutes 5
	$(BIN)/python bench/bench_generation.py --vae --prior-minutes 5
	$(BIN)/python bench/bench_generation.py --vae --prior-minutes 5 --test-fraction 0.25 --name generation-wide --out bench/.runs/generation-wide --seeds 1,101,201,301
	$(BIN)/python bench/bench_export.py
	$(BIN)/python -m autoenc_audio train --minutes 10 --device cpu --out bench/.runs/explore-default --cache-dir bench/.cache --overwrite
	$(BIN)/python -m autoenc_audio train-prior --model bench/.runs/explore-default --minutes 4 --device cpu --cache-dir bench/.cache --overwrite
	$(BIN)/python bench/bench_explore.py --model bench/.runs/explore-default
	$(BIN)/python bench/bench_explore.py
	$(BIN)/python bench/bench_soak.py
	$(BIN)/python bench/bench_startup.py
	$(BIN)/python bench/bench_scale.py

clean:
	rm -rf $(VENV) runs dist build autoenc_audio.egg-info .pytest_cache .mypy_cache .ruff_cache
