#!/usr/bin/env bash
# Static checks of the package: ruff's lint and format check and mypy over hil/, with the versions pinned in
# requirements.lock and the settings in pyproject.toml ([tool.ruff], [tool.mypy]). One line per finding, as
# the tools print them (path:line:col: code message), then each tool's count. All three run whatever the
# others found; exit 1 if any of them found anything (2 for a missing setup). Extra arguments: the paths
# to check instead of hil/. STATIC_SKIP_SETUP=1: the caller has run setup already (scripts/test.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
[ "${STATIC_SKIP_SETUP:-}" = 1 ] || ./scripts/setup.sh || exit 2
paths=("$@")
[ ${#paths[@]} -gt 0 ] || paths=(hil)

status=0
echo "static: ruff check ${paths[*]}"
.venv/bin/ruff check --no-fix --output-format concise "${paths[@]}" || status=1
echo "static: ruff format --check ${paths[*]}"
.venv/bin/ruff format --check --output-format concise "${paths[@]}" || status=1
echo "static: mypy ${paths[*]}"
.venv/bin/mypy "${paths[@]}" || status=1
exit "$status"
