#!/usr/bin/env bash
# Mutation testing of the judging code (issue 12, item 4; results in docs/validation.md). Outside CI.
#
# mutmut (pinned in requirements-mutation.lock) mutates one module at a time and runs only the fast unit tests
# that test it; a mutant is killed when those tests fail. It runs on a throw-away copy of the committed tree
# (git worktree at HEAD) with its own venv, so the working tree and .venv are never touched, and on one
# core (no parallel runner). mutmut 2 counts only pytest's exit code 1 as a kill: a mutant that breaks the import
# (collection error, exit 2) would pass as a survivor, so the runner maps every failure to 1.
#
#   scripts/mutation.sh                      every module in MODULES below
#   scripts/mutation.sh hil/analysis/trumpet.py ...   only these (each must be in MODULES)
#
# Env: MUTVENV (default /tmp/mutvenv), MUTWORK (default /tmp/mutwork), OUT (default: $MUTWORK/mutation-results),
# FRESH=1 to forget earlier results in OUT and test every mutant again.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
MUTVENV=${MUTVENV:-/tmp/mutvenv}
MUTWORK=${MUTWORK:-/tmp/mutwork}
OUT=${OUT:-$MUTWORK/mutation-results}

# module -> the unit tests that judge it (fast ones only: no emulator, no campaign)
declare -A TESTS=(
  [hil/evidence/measurements.py]="tests/unit/test_measurements.py tests/unit/test_verdicts.py"
  [hil/evidence/verdict.py]="tests/unit/test_verdicts.py"
  [hil/analysis/trumpet.py]="tests/unit/test_trumpet.py"
  [hil/analysis/windows.py]="tests/unit/test_trumpet.py"
  [hil/analysis/sampling.py]="tests/unit/test_sampling.py"
  [hil/analysis/gravimetry.py]="tests/unit/test_gravimetry.py"
  [hil/analysis/uncertainty.py]="tests/unit/test_gravimetry.py"
  [hil/analysis/detection.py]="tests/unit/test_detection_statistics.py"
  [hil/analysis/glycemia.py]="tests/unit/test_glycemia.py"
  [hil/analysis/suspend_rules.py]="tests/unit/test_suspend_rules.py tests/unit/test_cgm_trend.py"
  [hil/analysis/cgm_trend.py]="tests/unit/test_cgm_trend.py tests/unit/test_suspend_rules.py"
  [hil/analysis/strokes.py]="tests/unit/test_strokes_and_bolus.py tests/unit/test_occlusion_metrics.py"
  [hil/analysis/occlusion.py]="tests/unit/test_occlusion_metrics.py"
)
MODULES=(hil/evidence/measurements.py hil/evidence/verdict.py hil/analysis/trumpet.py hil/analysis/windows.py
         hil/analysis/sampling.py hil/analysis/gravimetry.py hil/analysis/uncertainty.py hil/analysis/detection.py
         hil/analysis/glycemia.py hil/analysis/suspend_rules.py hil/analysis/cgm_trend.py hil/analysis/strokes.py
         hil/analysis/occlusion.py)
[ $# -gt 0 ] && MODULES=("$@")

if [ ! -x "$MUTVENV/bin/mutmut" ]; then
  python3 -m venv "$MUTVENV"
  "$MUTVENV/bin/pip" install -q -r requirements.lock -r requirements-mutation.lock
fi
if [ ! -d "$MUTWORK" ]; then
  git worktree add --detach "$MUTWORK" HEAD >/dev/null
fi
# the copy runs exactly what is committed, plus any uncommitted test files (to try a test before committing it)
git -C "$MUTWORK" checkout -q --detach "$(git rev-parse HEAD)"
git -C "$MUTWORK" checkout -q -- hil
cp tests/unit/*.py "$MUTWORK/tests/unit/"
"$MUTVENV/bin/pip" install -q --no-deps -e "$MUTWORK" >/dev/null
mkdir -p "$OUT"
cd "$MUTWORK"
export HYPOTHESIS_PROFILE=${HYPOTHESIS_PROFILE:-default}
start=$(date +%s)
for module in "${MODULES[@]}"; do
  tests=""
  for f in ${TESTS[$module]:?"$module is not in scripts/mutation.sh's table"}; do [ -f "$f" ] && tests="$tests $f"; done
  if [ -z "$tests" ]; then echo "$module: no unit test file exists yet: every mutant survives" | tee -a "$OUT/summary.txt"; continue; fi
  name=$(basename "$module" .py)
  # each module keeps its own mutmut cache: a later run re-tests only the mutants that survived (a killed one
  # stays killed when tests are added), unless FRESH=1 or the module changed
  rm -f .mutmut-cache
  [ "${FRESH:-0}" = 1 ] || { [ -f "$OUT/$name.mutmut-cache" ] && cp "$OUT/$name.mutmut-cache" .mutmut-cache; }
  t0=$(date +%s)
  set +e
  "$MUTVENV/bin/mutmut" run --paths-to-mutate "$module" --tests-dir tests/unit --no-progress \
    --runner "bash -c '$MUTVENV/bin/python -m pytest -x -q -p no:cacheprovider $tests || exit 1'" > "$OUT/$name.run.txt" 2>&1
  set -e
  t1=$(date +%s)
  "$MUTVENV/bin/mutmut" results > "$OUT/$name.results.txt" 2>&1 || true
  "$MUTVENV/bin/mutmut" junitxml > "$OUT/$name.junit.xml" 2>/dev/null || true
  # every surviving mutant's diff, for the explanation in docs/validation.md
  : > "$OUT/$name.survivors.diff"
  python3 - "$OUT/$name.results.txt" <<'EOF' > "$OUT/$name.survivor-ids"
import re, sys
text = open(sys.argv[1]).read()
ids, on = [], False
for line in text.splitlines():
    if line.startswith(("Survived", "Timed out", "Suspicious")):
        on = line.startswith("Survived")
        continue
    if line.startswith(("Untested", "Killed")):
        on = False
    if on and not line.startswith("----"):
        for part in re.findall(r"\d+(?:-\d+)?", line):
            a, _, b = part.partition("-")
            ids += range(int(a), int(b or a) + 1)
print(" ".join(map(str, ids)))
EOF
  for id in $(cat "$OUT/$name.survivor-ids"); do
    "$MUTVENV/bin/mutmut" show "$id" >> "$OUT/$name.survivors.diff" 2>&1
  done
  cp .mutmut-cache "$OUT/$name.mutmut-cache"
  git checkout -q -- hil; find hil -name "*.py.bak" -delete  # never leave a mutant behind, whatever happened
  total=$(grep -c '<testcase' "$OUT/$name.junit.xml" || true)
  survived=$(wc -w < "$OUT/$name.survivor-ids")
  echo "$module: $total mutants, $survived survived, $((t1 - t0)) s" | tee -a "$OUT/summary.txt"
done
echo "all: $(( $(date +%s) - start )) s" | tee -a "$OUT/summary.txt"
