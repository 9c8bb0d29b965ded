#!/usr/bin/env bash
# Usage: hack/realworld-status.sh STATUS_FILE
#
# One line on the real-world corpus tests (../shared/realworld, read in
# place, never part of the clone) after `go test`: they skip without the
# corpus, and `go test ./...` prints no skip messages, so hack/test.sh asks
# the tests (internal/realworld) to append a line each to STATUS_FILE
# (AEGIS_REALWORLD_STATUS) and prints this summary. Informational: it always
# exits 0 (a required corpus that is absent fails the tests themselves).
# The file is removed.
set -euo pipefail
file=${1:?usage: hack/realworld-status.sh STATUS_FILE}
if [[ ! -s $file ]]; then
  echo "realworld corpus: no test of it ran (none selected)"
  rm -f "$file"
  exit 0
fi
ran=$(grep -c '^ran ' "$file" || true)
notrun=$(grep -c '^not run ' "$file" || true)
failed=$(grep -c '^failed ' "$file" || true)
if ((failed > 0)); then
  echo "realworld corpus: FAILED: $failed test(s) could not find it: $(grep -m1 '^failed ' "$file" | sed 's/^failed [^:]*: //')"
elif ((notrun > 0)); then
  # The reason starts "realworld corpus not run:" (internal/realworld.SkipPrefix).
  echo "$(grep -m1 '^not run ' "$file" | sed 's/^not run [^:]*: //') [$notrun test(s) skipped]"
else
  echo "realworld corpus: ran ($ran tests)"
fi
rm -f "$file"
