# Two commands on a fresh machine:
#   make demo   set up .venv and run the live self-play demo (CPU, tiny offline model)
#   make test   set up .venv with the test tools and run the whole suite
.PHONY: demo test setup setup-dev bench lint

demo: setup
	.venv/bin/sparring run arith

test: setup-dev
	.venv/bin/python -m pytest

setup:
	scripts/setup.sh

setup-dev:
	scripts/setup.sh --dev

bench: setup-dev
	for b in bench/*.py; do .venv/bin/python $$b || exit 1; done

lint: setup-dev
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy && .venv/bin/lint-imports
