#!/usr/bin/env python3
"""Cross-check expected.json (R) against an existing civicpulse build.

Imports wave2025.csv and wave2026.csv (interview CSVs, unchanged) into a
fresh temporary database with `civicpulse import livability FILE --wave W`,
then compares:

  1. `indices livability --wave W --weights design --by district --min-cell 1
     --format json` (W = 2025, 2026) with the "means" rows of expected.json
     (the required check: it proves the data pipeline, scores, composites,
     design, domains, SE, df and CI are the same in R and civicpulse);
  2. `indices --wave 2026 --weights raked --margins margins.csv` with the
     "raked" rows (R's rake(); civicpulse reproduces its variance);
  3. `compare --from 2025 --to 2026 --weights design --by district` with the
     "compare_minrule" score rows (the current df = min rule).

Tolerances (relative; absolute 1e-12 when R's value is a rounding residue of
an exact 0):
  n, df                              exactly
  estimate, n_eff, se, ci, difference, p   1e-9
  top_box estimate, se               1e-9 (svymean)
  top_box ci_low, ci_high            1e-6 (R's svyciprop fits by IRLS)
A null in expected.json must be null in civicpulse, except a top-box bound
(R gives none at df = 1) which is only listed.

It also checks structure.csv (used by reference.R) against `civicpulse survey
show livability --format json`, and that every civicpulse row with n >= 2
has an expected row.

Usage: python3 crosscheck.py [--bin PATH] [--workdir DIR]
       (defaults: /tmp/cp-base/target/release/civicpulse, /tmp/xcheck-report)
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


def run(cmd, cwd):
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stdout}{r.stderr}")
    return r.stdout


def rel(a, b):
    if a == b:
        return 0.0
    return abs(a - b) / max(abs(a), abs(b))


class Checker:
    def __init__(self):
        self.problems = []
        self.maxrel = collections.defaultdict(float)
        self.where = {}
        self.null_bounds = []
        self.compared = collections.Counter()

    def num(self, check, kind, e, g, key, tol, floor=1e-12):
        name = f"{check}:{kind}"
        if e is None:
            if kind.startswith("top_box.ci"):
                self.null_bounds.append((key, kind, g))
            elif g is not None:
                self.problems.append(f"{key} {kind}: R null, civicpulse {g}")
            return
        if g is None:
            self.problems.append(f"{key} {kind}: R {e}, civicpulse null")
            return
        d = rel(e, g)
        if abs(e - g) <= floor and d > tol:
            d = 0.0
        if d > self.maxrel[name] or name not in self.where:
            self.maxrel[name] = max(d, self.maxrel[name])
            self.where[name] = key
        if d > tol:
            self.problems.append(f"{key} {kind}: R {e!r} civicpulse {g!r} (rel {d:.3g})")

    def exact(self, kind, e, g, key):
        if e != g:
            self.problems.append(f"{key} {kind}: R {e} civicpulse {g}")


def check_structure(binary, work, db, ck):
    show = json.loads(run([binary, "survey", "show", SLUG, "--format", "json", "--database", db], work))
    dims = {d["id"]: d for d in show["dimensions"]}
    scored = {q["id"]: q for q in show["questions"] if any(o.get("score") is not None for o in q["options"])}
    st = list(csv.DictReader(open(HERE / "structure.csv", encoding="utf-8", newline="")))
    if [r["question"] for r in st] != list(scored):
        ck.problems.append("structure.csv questions differ from the scored questions of survey show")
        return
    for r in st:
        q = scored[r["question"]]
        mine = [None if x == "NA" else float(x) for x in r["scores"].split(";")]
        if r["values"].split(";") != [o["value"] for o in q["options"]] or mine != [o["score"] for o in q["options"]]:
            ck.problems.append(f"structure.csv {q['id']}: options/scores differ from survey show")
        if float(r["item_weight"]) != q["weight"] or (r["dimension"] or None) != q["dimension"]:
            ck.problems.append(f"structure.csv {q['id']}: dimension/weight differ from survey show")
        if q["dimension"]:
            d = dims[q["dimension"]]
            if float(r["dimension_weight"]) != d["weight"] or (r["in_overall"] == "TRUE") != d["in_overall"]:
                ck.problems.append(f"structure.csv {q['id']}: dimension weight/in_overall differ from survey show")


def cp_rows(out):
    rows = {}
    for r in json.loads(out)["rows"]:
        rows[(r["level"], r["id"], r["group"])] = r
    return rows


def check_indices(check, expected, got, ck, with_top):
    for e in expected:
        key = (check, e["level"], e["id"], e["group"])
        g = got.get((e["level"], e["id"], e["group"]))
        if g is None:
            ck.problems.append(f"{key}: no civicpulse row")
            continue
        ck.compared[check] += 1
        ck.exact("n", e["n"], g["n"], key)
        ck.exact("df", e["df"], g["df"], key)
        for k in ("estimate", "n_eff", "se", "ci_low", "ci_high"):
            ck.num(check, k, e[k], g[k], key, 1e-9)
        if with_top and "top_box" in e:
            et, gt = e["top_box"], g.get("top_box") or {}
            ck.num(check, "top_box.estimate", et["estimate"], gt.get("estimate"), key, 1e-9)
            ck.num(check, "top_box.se", et["se"], gt.get("se"), key, 1e-9)
            ck.num(check, "top_box.ci_low", et["ci_low"], gt.get("ci_low"), key, 1e-6)
            ck.num(check, "top_box.ci_high", et["ci_high"], gt.get("ci_high"), key, 1e-6)
    seen = {(e["level"], e["id"], e["group"]) for e in expected}
    for k, r in got.items():
        if k not in seen and r["n"] >= 2:
            ck.problems.append(f"{check} {k}: civicpulse row with n={r['n']} has no expected row")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="/tmp/cp-base/target/release/civicpulse")
    ap.add_argument("--workdir", default="/tmp/xcheck-report")
    args = ap.parse_args()
    work = Path(args.workdir)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    db = str(work / "x.db")
    ck = Checker()
    check_structure(args.bin, work, db, ck)
    for wave in ("2025", "2026"):
        print(run([args.bin, "import", SLUG, str(HERE / f"wave{wave}.csv"), "--wave", wave, "--database", db], work).strip())

    expected = json.load(open(HERE / "expected.json", encoding="utf-8"))
    common = ["--by", "district", "--min-cell", "1", "--format", "json", "--database", db]

    for wave in ("2025", "2026"):
        out = run([args.bin, "indices", SLUG, "--wave", wave, "--weights", "design"] + common, work)
        (work / f"indices-design-{wave}.json").write_text(out, encoding="utf-8")
        exp = [e for e in expected if e["figure"] == "means" and e["dataset"] == f"wave{wave}"]
        check_indices(f"means {wave}", exp, cp_rows(out), ck, True)

    out = run([args.bin, "indices", SLUG, "--wave", "2026", "--weights", "raked",
               "--margins", str(HERE / "margins.csv")] + common, work)
    (work / "indices-raked-2026.json").write_text(out, encoding="utf-8")
    exp = [e for e in expected if e["figure"] == "raked" and e["level"] != "weights"]
    check_indices("raked 2026", exp, cp_rows(out), ck, False)

    out = run([args.bin, "compare", SLUG, "--from", "2025", "--to", "2026", "--weights", "design"] + common, work)
    (work / "compare-design.json").write_text(out, encoding="utf-8")
    got = cp_rows(out)
    exp = [e for e in expected if e["figure"] == "compare_minrule" and e["kind"] == "score"]
    for e in exp:
        key = ("compare", e["level"], e["id"], e["group"])
        g = got.get((e["level"], e["id"], e["group"]))
        if g is None:
            ck.problems.append(f"{key}: no civicpulse row")
            continue
        ck.compared["compare"] += 1
        ck.exact("df", float(e["df"]), float(g["df"]), key)
        for k, gk in (("estimate_from", "from"), ("estimate_to", "to"), ("difference", "difference"),
                      ("se", "se"), ("ci_low", "ci_low"), ("ci_high", "ci_high"), ("p", "p_value")):
            ck.num("compare", k, e[k], g[gk], key, 1e-9)

    print("rows compared: " + ", ".join(f"{k} {v}" for k, v in ck.compared.items()))
    print("max relative difference (R vs civicpulse):")
    for k in sorted(ck.maxrel):
        print(f"  {k:32s} {ck.maxrel[k]:.3g}   {ck.where.get(k, '')}")
    if ck.null_bounds:
        has_value = [x for x in ck.null_bounds if x[2] is not None]
        print(f"top-box bounds null in expected.json: {len(ck.null_bounds)} ({len(has_value)} where civicpulse gives a value)")
        for key, kind, g in has_value:
            print(f"    {key} {kind}: civicpulse {g}")
    if ck.problems:
        print(f"\n{len(ck.problems)} PROBLEM(S):")
        for p in ck.problems:
            print("  " + p)
        return 1
    print("OK: civicpulse agrees with expected.json (n and df equal everywhere)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
