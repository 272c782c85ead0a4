# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTHON ?= python3

.PHONY: install demo test lint fmt bench hostile hostile-faults hostile-claims clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/luigi-airbyte quickstart .demo

lint: $(STAMP)
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile -q

# Hostile sweeps, too long for `make test` (which runs small subsets of each); their
# figures go to benchmarks/RESULTS.md. `make hostile` runs both:
# - hostile-faults: 500 seeded 3-sync pipeline runs through the fault proxy
#   (tests/faultproxy.py), in blocks over 4 pytest workers, then the summary table;
# - hostile-claims: the claim race, 2-4 processes per trial on SQLite and PostgreSQL.
HOSTILE_SEEDS  ?= 500
HOSTILE_CLI_SEEDS ?= 20
HOSTILE_OUT    ?= .hostile
hostile: hostile-faults hostile-claims

hostile-faults: $(STAMP)
	rm -rf $(HOSTILE_OUT)
	start=$$(date +%s); load=$$(cut -d' ' -f1-3 /proc/loadavg); \
	HOSTILE_SEEDS=$(HOSTILE_SEEDS) HOSTILE_BLOCKS=20 HOSTILE_CLI_SEEDS=$(HOSTILE_CLI_SEEDS) \
		HOSTILE_REPORT_DIR=$(HOSTILE_OUT) \
		$(PY) -m pytest -n 4 -q tests/hostile/test_fault_sweep.py \
		-k "seeded_runs or real_cli"; status=$$?; \
	$(PY) tests/hostile/summarize.py $(HOSTILE_OUT) $$(( $$(date +%s) - start )) "$$load" \
		|| status=1; \
	exit $$status

fmt: $(STAMP)
	$(VENV)/bin/ruff format src tests benchmarks
	$(VENV)/bin/ruff check --fix src tests benchmarks

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

hostile-claims: $(STAMP)
	$(PY) benchmarks/claim_race.py

clean:
	rm -rf $(VENV) .demo .hostile .pytest_cache .mypy_cache .ruff_cache
