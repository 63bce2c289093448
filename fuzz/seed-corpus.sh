#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ with seeds: the small files of fuzz/seeds/,
# the survey definitions of survey-defs/, and the heads of the test suite's
# reference CSV files. Run from anywhere; the corpus itself is not committed.
set -euo pipefail
fuzz="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$fuzz")"
for target in definition form_body csv_import margins; do
    mkdir -p "$fuzz/corpus/$target"
    cp "$fuzz/seeds/$target"/* "$fuzz/corpus/$target/"
done
cp "$root"/survey-defs/*.toml "$fuzz/corpus/definition/"
cp "$root/tests/reference/margins.csv" "$fuzz/corpus/margins/reference.csv"
cp "$root/tests/reference/report/margins.csv" "$fuzz/corpus/margins/report.csv"
for f in report/wave2025 report/wave2026 report/lonely invited/responses; do
    head -n 12 "$root/tests/reference/$f.csv" >"$fuzz/corpus/csv_import/$(basename "$f").csv"
done
echo "seeded: $(for t in definition form_body csv_import margins; do printf '%s %s  ' "$t" "$(ls "$fuzz/corpus/$t" | wc -l)"; done)"
