#!/usr/bin/env bash
# Sets up .venv with sparring and its dependencies, choosing torch for this machine:
# with an NVIDIA GPU, the default (CUDA) torch; without one, the CPU wheel torch==2.13.0.
# Override with TORCH_SPEC, e.g. TORCH_SPEC="torch==2.13.0" or a local wheel path.
# Usage: scripts/setup.sh [--dev]   (--dev adds the test tools and the headless browser)
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
[ "${1:-}" = "--dev" ] && dev=1
python=${PYTHON:-python3}

if [ -z "${TORCH_SPEC:-}" ]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    TORCH_SPEC="torch"
  else
    TORCH_SPEC="torch==2.13.0"
  fi
fi

stamp=".venv/.sparring-setup-$dev"
if [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ] && [ "$stamp" -nt scripts/setup.sh ]; then
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
