# Every target builds .venv on first use, so a fresh clone needs only Python 3.11 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test quick mutate lint typecheck pytest demo demo-inprocess bench docs-diagrams screenshots api-docs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-$(if $(CI),ci,dev)} $(BIN)/pytest

# The quick loop while editing: lint, then the tests that start no process (no
# tests/processes, no renderer, no CLI in a process) and no long search (`slow`),
# with fewer Hypothesis examples. A test that starts a process anyway fails.
# `make test` runs everything before a commit.
quick: lint
	HEALTHDAEMONS_QUICK=1 HYPOTHESIS_PROFILE=quick $(BIN)/pytest -m "not processes and not slow" -q -p no:cacheprovider

# docs/openapi.json and the reference part of docs/api.md, from
# healthdaemons/_control_openapi.py by _control_api_docs.py (tests/test_control_openapi.py checks them).
api-docs: $(STAMP)
	$(BIN)/python -c 'from healthdaemons._control_api_docs import main; main()'

# Mutation testing (mutmut, outside `make test` and CI; see docs/testing.md),
# one worker. Results stay in mutants/: a second run tests only the mutants
# not yet tested (or whose function changed). Naming mutants tests them again:
# `make mutate MUTANTS="coordinator.checks.*"` (re)runs one module.
MUTANTS ?=
mutate: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,mutate]'
	HYPOTHESIS_PROFILE=mutate $(BIN)/mutmut run --max-children 1 $(MUTANTS)
	$(BIN)/python tests/mutation_score.py

# The main job: a real stack (healthdaemons/demo/, also examples/demo.toml) run
# until everything is ready, shut down in order, then drawn.
demo: $(STAMP)
	$(BIN)/healthdaemons up examples/demo.toml --until-ready --timeout 60 --record demo-out/run.jsonl
	$(BIN)/healthdaemons lifecycle -o demo-out/lifecycle.svg
	$(BIN)/healthdaemons graph examples/demo.toml -o demo-out/system.svg
	$(BIN)/healthdaemons timeline demo-out/run.jsonl -o demo-out/timeline.svg
	$(BIN)/healthdaemons export compose examples/export/stack.toml -o demo-out/compose.yaml
	$(BIN)/healthdaemons export kubernetes examples/export/stack.toml -o demo-out/kubernetes \
		2> demo-out/kubernetes.report.txt || { cat demo-out/kubernetes.report.txt; exit 1; }
	@echo "The run is in demo-out/run.jsonl; the pictures are demo-out/lifecycle.svg, demo-out/system.svg and demo-out/timeline.svg"
	@echo "examples/export/stack.toml exported, each with its fidelity report on top: demo-out/compose.yaml, demo-out/kubernetes/"

demo-inprocess: $(STAMP)
	$(BIN)/python examples/inprocess_demo.py

docs-diagrams: $(STAMP)
	$(BIN)/python examples/make_diagrams.py docs/images

# The web console on the demo stack, light and dark, in headless Chromium
# (Debian's chromium, or HEALTHDAEMONS_CHROMIUM): docs/images/console-*.png.
screenshots: $(STAMP)
	$(BIN)/python examples/console_screenshots.py docs/images

bench: $(STAMP)
	mkdir -p bench-out && rm -f bench-out/targets.txt
	BENCH_TARGETS=bench-out/targets.txt $(BIN)/python bench/bench_coordinator.py --repeat 3
	BENCH_TARGETS=bench-out/targets.txt $(BIN)/python bench/bench_processes.py --repeat 3
	BENCH_TARGETS=bench-out/targets.txt $(BIN)/python bench/bench_verification.py --repeat 3
	BENCH_TARGETS=bench-out/targets.txt $(BIN)/python bench/bench_control.py --repeat 2
	BENCH_TARGETS=bench-out/targets.txt $(BIN)/python bench/bench_web.py --soak 120 --repeat 3
	$(BIN)/python bench/targets.py bench-out/targets.txt

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis *.egg-info
