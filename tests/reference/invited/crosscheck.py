#!/usr/bin/env python3
"""Cross-check expected.json (R) against civicpulse's own `indices`.

Converts responses.csv + frame.csv into an interview CSV for
`civicpulse import` (_id, _weight = N_h / r_h to 17 significant digits,
_stratum = the invitation's stratum, no _cluster: each respondent is its own
PSU), imports it into a fresh temporary database as wave 2026, runs
`civicpulse indices livability --wave 2026 --weights {none,design}
--by {district,age_group} --min-cell 1 --format json`, and compares every
figure of every expected row:

  n, df                     exactly
  estimate, n_eff           1e-9 relative
  se, ci_low, ci_high       1e-9 relative (absolute 1e-12 when R's value is a
                            rounding residue of an exact 0, e.g. se 8e-15)
  top_box estimate, bounds  1e-6 relative; a null bound in expected.json is
                            listed with civicpulse's value (R gives none)

It also checks structure.csv (used by reference.R) against
`civicpulse survey show livability --format json`, and that every civicpulse
row with n >= 2 has an expected row.

Usage: python3 crosscheck.py [--bin PATH] [--workdir DIR]
       (defaults: /tmp/cp-base/target/release/civicpulse, /tmp/xcheck)
Exit status 0 when everything agrees, 1 otherwise.
"""
import argparse
import collections
import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SLUG = "livability"
WAVE = "2026"


def run(cmd, cwd):
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stdout}{r.stderr}")
    return r.stdout


def write_interviews(path):
    rows = list(csv.DictReader(open(HERE / "responses.csv", encoding="utf-8", newline="")))
    frame = {r["stratum"]: float(r["population"])
             for r in csv.DictReader(open(HERE / "frame.csv", encoding="utf-8", newline=""))}
    r_h = collections.Counter(r["stratum"] for r in rows)
    assert set(r_h) == set(frame), "strata of responses.csv and frame.csv differ"
    questions = [c for c in rows[0] if c != "stratum"]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["_id", "_weight", "_stratum"] + questions)
        for i, r in enumerate(rows, 1):
            h = r["stratum"]
            w.writerow([f"inv-{i:04d}", format(frame[h] / r_h[h], ".17g"), h] + [r[q] for q in questions])
    return len(rows)


def check_structure(binary, work, db, problems):
    show = json.loads(run([binary, "survey", "show", SLUG, "--format", "json", "--database", db], work))
    dims = {d["id"]: d for d in show["dimensions"]}
    scored = {q["id"]: q for q in show["questions"] if any(o.get("score") is not None for o in q["options"])}
    st = list(csv.DictReader(open(HERE / "structure.csv", encoding="utf-8", newline="")))
    if [r["question"] for r in st] != list(scored):
        problems.append(f"structure.csv questions {[r['question'] for r in st]} != scored questions {list(scored)}")
        return
    for r in st:
        q = scored[r["question"]]
        vals = [o["value"] for o in q["options"]]
        scores = [o["score"] for o in q["options"]]
        mine = [None if x == "NA" else float(x) for x in r["scores"].split(";")]
        if r["values"].split(";") != vals or mine != scores:
            problems.append(f"structure.csv {q['id']}: options/scores differ from survey show")
        if float(r["item_weight"]) != q["weight"] or (r["dimension"] or None) != q["dimension"]:
            problems.append(f"structure.csv {q['id']}: dimension/weight differ from survey show")
        if q["dimension"]:
            d = dims[q["dimension"]]
            if float(r["dimension_weight"]) != d["weight"] or (r["in_overall"] == "TRUE") != d["in_overall"]:
                problems.append(f"structure.csv {q['id']}: dimension weight/in_overall differ from survey show")


def rel(a, b):
    if a == b:
        return 0.0
    return abs(a - b) / max(abs(a), abs(b))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="/tmp/cp-base/target/release/civicpulse")
    ap.add_argument("--workdir", default="/tmp/xcheck")
    args = ap.parse_args()
    work = Path(args.workdir)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    db = str(work / "x.db")
    problems = []
    check_structure(args.bin, work, db, problems)

    n_resp = write_interviews(work / "interviews.csv")
    print(run([args.bin, "import", SLUG, str(work / "interviews.csv"), "--wave", WAVE, "--database", db], work).strip())

    got = {}
    for weights in ("none", "design"):
        for by in ("district", "age_group"):
            out = run([args.bin, "indices", SLUG, "--wave", WAVE, "--weights", weights, "--by", by,
                       "--min-cell", "1", "--format", "json", "--database", db], work)
            (work / f"indices-{weights}-{by}.json").write_text(out, encoding="utf-8")
            for r in json.loads(out)["rows"]:
                key = (weights, by if r["group"] is not None else None, r["level"], r["id"], r["group"])
                if key in got and r["group"] is None:
                    if got[key] != r:
                        problems.append(f"whole-sample row differs between --by runs: {key}")
                    continue
                got[key] = r

    expected = json.load(open(HERE / "expected.json", encoding="utf-8"))
    maxrel = collections.defaultdict(float)
    where = {}
    null_bounds = []

    def cmp(kind, e, g, key, tol, floor=0.0):
        if e is None:
            if kind.startswith("top_box.ci"):
                null_bounds.append((key, kind, g))
            elif g is not None:
                problems.append(f"{key} {kind}: R null, civicpulse {g}")
            return
        if g is None:
            problems.append(f"{key} {kind}: R {e}, civicpulse null")
            return
        d = rel(e, g)
        if floor and abs(e - g) <= floor:
            d = 0.0 if d > tol else d
        if d > maxrel[kind]:
            maxrel[kind] = d
            where[kind] = key
        if d > tol:
            problems.append(f"{key} {kind}: R {e!r} civicpulse {g!r} (rel {d:.3g})")

    seen = set()
    for e in expected:
        key = (e["weights"], e["by"], e["level"], e["id"], e["group"])
        seen.add(key)
        g = got.get(key)
        if g is None:
            problems.append(f"{key}: no civicpulse row")
            continue
        for k in ("n", "df"):
            if e[k] != g[k]:
                problems.append(f"{key} {k}: R {e[k]} civicpulse {g[k]}")
        cmp("estimate", e["estimate"], g["estimate"], key, 1e-9)
        cmp("n_eff", e["n_eff"], g["n_eff"], key, 1e-9)
        for k in ("se", "ci_low", "ci_high"):
            cmp(k, e[k], g[k], key, 1e-9, floor=1e-12)
        if "top_box" in e:
            et, gt = e["top_box"], g.get("top_box") or {}
            cmp("top_box.estimate", et["estimate"], gt.get("estimate"), key, 1e-6)
            cmp("top_box.ci_low", et["ci_low"], gt.get("ci_low"), key, 1e-6)
            cmp("top_box.ci_high", et["ci_high"], gt.get("ci_high"), key, 1e-6)
    extra = [k for k, r in got.items() if k not in seen and r["n"] >= 2]
    for k in extra:
        problems.append(f"{k}: civicpulse row with n={got[k]['n']} has no expected row")

    print(f"{n_resp} respondents; {len(expected)} expected rows compared with {len(got)} civicpulse rows")
    print("max relative difference (R vs civicpulse):")
    for k in ("estimate", "n_eff", "se", "ci_low", "ci_high", "top_box.estimate", "top_box.ci_low", "top_box.ci_high"):
        print(f"  {k:18s} {maxrel[k]:.3g}   {where.get(k, '')}")
    print("n, df: " + ("all equal" if not any(" n:" in p or " df:" in p for p in problems) else "DIFFER"))
    if null_bounds:
        bound_has_value = [x for x in null_bounds if x[2] is not None]
        print(f"top-box bound values null in expected.json: {len(null_bounds)} "
              f"({len(bound_has_value)} where civicpulse gives a value: df = 1, R cannot compute them)")
        for key, kind, g in bound_has_value:
            print(f"    {key} {kind}: civicpulse {g}")
    if problems:
        print(f"\n{len(problems)} PROBLEM(S):")
        for p in problems:
            print("  " + p)
        return 1
    print("OK: civicpulse agrees with expected.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
