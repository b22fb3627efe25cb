#!/usr/bin/env bash
# The inspector's tests drive a real headless Chromium. Playwright's own browser download does
# not work offline, so we use the distribution's chromium (/usr/bin/chromium).
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "setup: installing chromium (Debian package) for the inspector's browser tests"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "setup: chromium not found; install it (e.g. 'sudo apt-get install chromium') or set" >&2
  echo "       SPARRING_CHROMIUM=/path/to/chromium; the browser tests are skipped without it" >&2
fi
