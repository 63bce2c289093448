#!/usr/bin/env python3
"""Synthetic invitation-wave sample for the built-in `livability` survey.

Writes, next to this script:
  responses.csv  one row per invited respondent: `stratum` (the stratum of the
                 invitation code), then one column per question id of the
                 survey, in definition order. Cells hold option values as the
                 definition lists them; an empty cell is no answer.
  frame.csv      stratum,population: the sampling frame (adult population of
                 each sampled stratum).
  structure.csv  the scored questions as reference.R needs them: question,
                 type, dimension, item_weight, dimension_weight, in_overall,
                 values and scores (';'-joined, in option order; NA =
                 unscored). Scores follow docs/survey-format.md (k-point
                 Likert: 100*(x-1)/(k-1), reversed when `reverse = true`;
                 rating: 10*x; explicit `score`s of choice options).
                 crosscheck.py checks it against `civicpulse survey show`.

Deterministic (fixed seed), Python 3.11+ standard library only. The survey
structure is read from survey-defs/livability.toml of this checkout.

Usage: python3 tests/reference/invited/make_sample.py
"""
import csv
import math
import random
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEF = HERE.parents[2] / "survey-defs" / "livability.toml"
SEED = 20260417

# Stratum (a value of the `district` question), invited respondents, population.
STRATA = [
    ("huancui", 60, 620000),
    ("wendeng", 45, 480000),
    ("rongcheng", 30, 560000),
    ("rushan", 20, 430000),
    ("nanhai", 12, 110000),
]
# Respondents whose `district` answer differs from their invitation's stratum
# (people move): (row index within its stratum, district answered). Fixed so
# that every answered-district domain has several respondents, including one
# district (gaoqu) that is not a stratum at all.
MOVERS = {
    ("huancui", 7): "gaoqu",
    ("huancui", 23): "wendeng",
    ("huancui", 41): "gaoqu",
    ("huancui", 50): "gaoqu",
    ("huancui", 55): "nanhai",
    ("wendeng", 4): "huancui",
    ("wendeng", 19): "gaoqu",
    ("wendeng", 33): "rongcheng",
    ("wendeng", 38): "gaoqu",
    ("rongcheng", 11): "huancui",
    ("rushan", 6): "rongcheng",
    ("nanhai", 3): "rushan",
}
# Mean satisfaction shift (on the 1..5 scale) by stratum of residence.
DISTRICT_EFFECT = {"huancui": 0.35, "wendeng": 0.0, "rongcheng": 0.15, "rushan": -0.3,
                   "nanhai": -0.45, "gaoqu": 0.25, "jingqu": 0.1, "lingang": -0.2}
ITEM_EFFECT = {"safety_night": 0.3, "safety_traffic": -0.25, "safety_food": 0.1,
               "conv_medical": -0.2, "conv_elderly": -0.35, "conv_school": 0.05,
               "nature_air": 0.45, "nature_coast": 0.6, "nature_noise": -0.15,
               "culture_venues": -0.1, "culture_inclusion": 0.05, "foreign_services": -0.4,
               "mob_parking": -0.7, "mob_commute": -0.2, "mob_transit": -0.1,
               "appearance_night": 0.3, "appearance_character": 0.1,
               "pride_proud": 0.4, "pride_future": 0.15, "pride_recommend": 0.2}
DONT_KNOW = 0.06
SUGGESTIONS = [
    "多建停车场", "公交车次太少", "希望增加夜间公交", "海边步道很好", "老旧小区需要改造",
    "More bike lanes please", "Better English signs", "Fix the potholes", "More parks for kids",
    "주차 공간이 부족합니다", "버스 노선을 늘려 주세요", "바닷가 산책로가 좋아요",
    "医院排队时间长", "希望多办文化活动", "Cleaner beaches in summer", "외국인 안내가 필요합니다",
    "噪音太大", "Great city, keep it up", "菜市场太远", "도서관을 늘려 주세요",
]


def questions(defn):
    qs = []
    for section in defn["sections"]:
        for q in section.get("questions", []):
            qs.append(q)
    return qs


def scale_values(defn, q):
    scale = defn["scales"][q["scale"]]
    vals = [str(i + 1) for i in range(len(scale["labels"]))]
    return vals, ("dk" if "dont_know" in scale else None)


def scored_options(defn, q):
    """(values, scores) of a scored question, or None when it is not scored."""
    if q["type"] == "likert":
        vals, dk = scale_values(defn, q)
        k = len(vals)
        scores = [100.0 * i / (k - 1) for i in range(k)]
        if q.get("reverse"):
            scores.reverse()
        if dk is not None:
            vals = vals + [dk]
            scores = scores + [None]
        return vals, scores
    if q["type"] == "rating":
        return [str(i) for i in range(11)], [10.0 * i for i in range(11)]
    if q["type"] == "single_choice" and any("score" in o for o in q["options"]):
        return [o["value"] for o in q["options"]], [float(o["score"]) if "score" in o else None for o in q["options"]]
    return None


def write_structure(defn, qs):
    dims = {d["id"]: d for d in defn.get("dimensions", [])}
    with open(HERE / "structure.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["question", "type", "dimension", "item_weight", "dimension_weight", "in_overall", "values", "scores"])
        for q in qs:
            so = scored_options(defn, q)
            if so is None:
                continue
            vals, scores = so
            dim = q.get("dimension")
            d = dims.get(dim) if dim else None
            w.writerow([q["id"], q["type"], dim or "", repr(float(q.get("weight", 1))),
                        repr(float(d["weight"])) if d else "",
                        ("TRUE" if d.get("in_overall", True) else "FALSE") if d else "",
                        ";".join(vals), ";".join("NA" if x is None else repr(x) for x in scores)])


def pick(rng, weighted):
    total = sum(w for _, w in weighted)
    x = rng.random() * total
    for v, w in weighted:
        x -= w
        if x < 0:
            return v
    return weighted[-1][0]


def main():
    defn = tomllib.loads(DEF.read_text(encoding="utf-8"))
    qs = questions(defn)
    ids = [q["id"] for q in qs]
    byid = {q["id"]: q for q in qs}
    districts = [o["value"] for o in byid["district"]["options"]]
    for s, _, _ in STRATA:
        assert s in districts, s
    for (_, _), dist in MOVERS.items():
        assert dist in districts, dist
    rng = random.Random(SEED)
    rows = []
    for stratum, size, _ in STRATA:
        for k in range(size):
            district = MOVERS.get((stratum, k), stratum)
            a = {"stratum": stratum, "district": district}
            a["sex"] = pick(rng, [("male", 0.49), ("female", 0.51)])
            a["age_group"] = pick(rng, [("18-29", 0.2), ("30-44", 0.3), ("45-59", 0.28), ("60+", 0.22)])
            a["years_resident"] = pick(rng, [("lt1", 0.06), ("1-5", 0.17), ("5-10", 0.2), ("10-20", 0.25), ("20+", 0.32)])
            a["resident_type"] = pick(rng, [("local", 0.68), ("domestic", 0.25), ("foreign", 0.09)])
            person = rng.gauss(0.0, 0.6)
            age_shift = {"18-29": -0.15, "30-44": -0.1, "45-59": 0.05, "60+": 0.2}[a["age_group"]]
            base = 3.35 + DISTRICT_EFFECT[district] + age_shift + person
            for q in qs:
                qid = q["id"]
                if qid in a or q["type"] not in ("likert", "rating", "text"):
                    continue
                rule = q.get("show_if")
                if rule is not None:
                    wanted = rule.get("equals")
                    wanted = [wanted] if isinstance(wanted, str) else (rule.get("any_of") or rule.get("in") or wanted)
                    if a.get(rule["question"]) not in wanted:
                        a[qid] = ""
                        continue
                if q["type"] == "likert":
                    vals, dk = scale_values(defn, q)
                    if dk is not None and rng.random() < DONT_KNOW:
                        a[qid] = dk
                        continue
                    x = base + ITEM_EFFECT.get(qid, 0.0) + rng.gauss(0.0, 0.85)
                    a[qid] = vals[min(len(vals), max(1, int(math.floor(x + 0.5)))) - 1]
                elif q["type"] == "rating":
                    if rng.random() < 0.12:
                        a[qid] = ""  # optional, skipped
                        continue
                    x = 2.5 * (base - 1.0) + rng.gauss(0.0, 1.2)
                    a[qid] = str(min(10, max(0, int(math.floor(x + 0.5)))))
                else:  # text: short, often empty
                    a[qid] = rng.choice(SUGGESTIONS) if rng.random() < 0.35 else ""
            rows.append(a)
    # Any question not handled above would make an invalid or incomplete row.
    for a in rows:
        for q in qs:
            assert q["id"] in a, q["id"]
    with open(HERE / "responses.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["stratum"] + ids)
        for a in rows:
            w.writerow([a["stratum"]] + [a[i] for i in ids])
    with open(HERE / "frame.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["stratum", "population"])
        for s, _, pop in STRATA:
            w.writerow([s, pop])
    write_structure(defn, qs)
    print(f"{len(rows)} respondents in {len(STRATA)} strata")


if __name__ == "__main__":
    main()
