#!/usr/bin/env bash
# Set up everything the suite needs, from the lock files: .venv (exact Python packages from
# requirements.lock, the hil package itself) and node_modules (the pinned Allure 3 CLI from
# package-lock.json). Idempotent: does nothing when the lock files have not changed since the last setup.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "setup: Python 3.11 or newer is needed as '$PYTHON' (set PYTHON=/path/to/python3.11)" >&2
  exit 2
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "setup: Node.js 20+ with npm is needed for the Allure report CLI (Debian: apt-get install nodejs npm)" >&2
  exit 2
fi

# Debian's chromium: the project's own test opens the generated report in it (headless).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian's chromium (headless browser test of the report)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends chromium >/dev/null; }
  else
    echo "setup: chromium is missing; the report's browser test needs it: sudo apt-get install chromium" >&2
  fi
fi

stamp=$(cat requirements.lock package-lock.json pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -f .setup-stamp ] && [ "$(cat .setup-stamp)" = "$stamp" ] && [ -x .venv/bin/hil ] && [ -x node_modules/.bin/allure ]; then
  exit 0
fi

echo "setup: creating .venv from requirements.lock"
"$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
echo "setup: installing the pinned Allure CLI from package-lock.json"
npm ci --no-audit --no-fund --loglevel=error
echo "$stamp" > .setup-stamp
echo "setup: done ($(.venv/bin/python --version), allure $(node_modules/.bin/allure --version 2>/dev/null | tail -1))"
