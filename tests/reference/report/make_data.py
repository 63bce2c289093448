#!/usr/bin/env python3
"""Synthetic interview data for the built-in `livability` survey (R reference).

Writes, next to this script:
  wave2025.csv, wave2026.csv  two independent stratified cluster samples
        (interview CSVs for `civicpulse import`: `_id,_weight,_stratum,_cluster`
        then one column per question id in definition order; option values as
        the definition lists them, empty = no answer). 5 strata (the districts
        huancui, wendeng, rongcheng, rushan, nanhai), 4-8 clusters each, design
        weights varying about 3-5x within a stratum and summing to the stratum
        population. Respondents answer their stratum's district except a few
        "movers" (some to gaoqu, which is not a stratum). ~6 % "dk" on Likert
        items; satisfaction changes between the years (some items up, some
        down; nanhai up, rushan down).
  lonely.csv  ~300 interviews in 5 strata where nanhai has ONE cluster (a
        lonely PSU) and wendeng has two clusters of which only wendeng-c1 has
        respondents in the `gaoqu` district domain (gaoqu also has members in
        huancui clusters and in the lonely nanhai cluster).
  margins.csv question,value,total: population margins of district, sex and
        age_group for 2026 (equal grand totals), covering exactly the
        categories present in wave2026.csv. They are set from the design-
        weighted sample totals with deliberate adjustments (the sample is too
        old and slightly too female) so that raking factors range outside
        [0.5, 2] and bounded raking has active bounds.
  structure.csv the 30 scored questions: dimension, item weight, dimension
        weight, in_overall, option values and scores (as in
        tests/reference/invited/structure.csv; crosscheck.py checks it
        against `civicpulse survey show`).

Every row is a valid, complete submission: every required question answered
with a valid option value, `foreign_services` answered exactly when
`resident_type = foreign`, `overall_rating` (optional) sometimes skipped,
`suggestions` (optional text) often empty.

Deterministic (fixed seeds), Python 3.11+ standard library only; reads
survey-defs/livability.toml of this checkout.
Usage: python3 tests/reference/report/make_data.py
"""
import csv
import math
import random
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEF = HERE.parents[2] / "survey-defs" / "livability.toml"

STRATA = ["huancui", "wendeng", "rongcheng", "rushan", "nanhai"]
# Stratum populations (adults), the sum of the design weights of a stratum.
POP = {"huancui": 640000, "wendeng": 470000, "rongcheng": 560000, "rushan": 420000, "nanhai": 160000}

# wave: (seed, {stratum: [cluster sizes]}, satisfaction shifts)
WAVES = {
    "2025": (20250611, {
        "huancui": [20, 24, 17, 22, 19, 21, 18, 23],
        "wendeng": [22, 18, 21, 24, 20, 16],
        "rongcheng": [19, 23, 17, 20, 22, 18, 21],
        "rushan": [21, 25, 19, 22, 18],
        "nanhai": [16, 20, 18, 14],
    }),
    "2026": (20260615, {
        "huancui": [24, 22, 27, 21, 25, 23, 26, 20],
        "wendeng": [23, 25, 21, 24, 22, 26, 20],
        "rongcheng": [25, 21, 28, 23, 22, 24],
        "rushan": [27, 23, 25, 21, 24],
        "nanhai": [20, 18, 22, 17],
    }),
}
LONELY = (20260707, {
    "huancui": [17, 14, 16, 15, 18, 13],
    "wendeng": [24, 21],
    "rongcheng": [16, 14, 17, 15, 13],
    "rushan": [18, 16, 15, 17],
    "nanhai": [18],
})

DISTRICT_EFFECT = {"huancui": 0.30, "wendeng": 0.0, "rongcheng": 0.15, "rushan": -0.25,
                   "nanhai": -0.45, "gaoqu": 0.25, "jingqu": 0.1, "lingang": -0.2}
# Change of the district effect from 2025 to 2026.
DISTRICT_DELTA = {"nanhai": 0.30, "rushan": -0.20, "huancui": 0.05}
ITEM_EFFECT = {"safety_night": 0.3, "safety_traffic": -0.25, "safety_food": 0.1,
               "conv_medical": -0.2, "conv_elderly": -0.35, "conv_school": 0.05,
               "nature_air": 0.45, "nature_coast": 0.6, "nature_noise": -0.15,
               "culture_venues": -0.1, "culture_inclusion": 0.05, "foreign_services": -0.4,
               "mob_parking": -0.7, "mob_commute": -0.2, "mob_transit": -0.1,
               "appearance_night": 0.3, "appearance_character": 0.1,
               "pride_proud": 0.4, "pride_future": 0.15, "pride_recommend": 0.2}
# Change of the item effect from 2025 to 2026 (some up, some down).
ITEM_DELTA = {"mob_parking": 0.40, "mob_transit": 0.30, "conv_medical": 0.25, "conv_elderly": 0.20,
              "culture_venues": 0.20, "pride_future": 0.15, "nature_air": -0.25,
              "safety_traffic": -0.20, "appearance_streets": -0.30, "nature_noise": -0.10}
AGE_SHIFT = {"18-29": -0.15, "30-44": -0.1, "45-59": 0.05, "60+": 0.2}
# The samples are too old and slightly too female (raking corrects this).
AGE_P = [("18-29", 0.11), ("30-44", 0.23), ("45-59", 0.31), ("60+", 0.35)]
SEX_P = [("male", 0.45), ("female", 0.55)]
DONT_KNOW = 0.06
SUGGESTIONS = [
    "多建停车场", "公交车次太少", "希望增加夜间公交", "海边步道很好", "老旧小区需要改造",
    "More bike lanes please", "Better English signs", "Fix the potholes", "More parks for kids",
    "주차 공간이 부족합니다", "버스 노선을 늘려 주세요", "바닷가 산책로가 좋아요",
    "医院排队时间长", "希望多办文化活动", "Cleaner beaches in summer", "외국인 안내가 필요합니다",
    "噪音太大", "Great city, keep it up", "菜市场太远", "도서관을 늘려 주세요",
]


def questions(defn):
    return [q for section in defn["sections"] for q in section.get("questions", [])]


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


def answers(defn, qs, rng, district, year, cluster_effect):
    """One complete, valid submission (dict question id -> cell)."""
    a = {"district": district}
    a["sex"] = pick(rng, SEX_P)
    a["age_group"] = pick(rng, AGE_P)
    a["years_resident"] = pick(rng, [("lt1", 0.06), ("1-5", 0.17), ("5-10", 0.2), ("10-20", 0.25), ("20+", 0.32)])
    a["resident_type"] = pick(rng, [("local", 0.66), ("domestic", 0.25), ("foreign", 0.09)])
    person = rng.gauss(0.0, 0.55)
    d_eff = DISTRICT_EFFECT[district] + (DISTRICT_DELTA.get(district, 0.0) if year == "2026" else 0.0)
    base = 3.3 + d_eff + AGE_SHIFT[a["age_group"]] + cluster_effect + person
    for q in qs:
        qid = q["id"]
        if qid in a:
            continue
        if q["type"] not in ("likert", "rating", "text"):
            raise SystemExit(f"question {qid}: type {q['type']} not handled")
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
            eff = ITEM_EFFECT.get(qid, 0.0) + (ITEM_DELTA.get(qid, 0.0) if year == "2026" else 0.0)
            x = base + eff + rng.gauss(0.0, 0.85)
            a[qid] = vals[min(len(vals), max(1, int(math.floor(x + 0.5)))) - 1]
        elif q["type"] == "rating":
            if rng.random() < 0.12:
                a[qid] = ""  # optional, skipped
                continue
            x = 2.5 * (base - 1.0) + rng.gauss(0.0, 1.2)
            a[qid] = str(min(10, max(0, int(math.floor(x + 0.5)))))
        else:  # text: short, often empty
            a[qid] = rng.choice(SUGGESTIONS) if rng.random() < 0.35 else ""
    return a


def sample(defn, qs, seed, sizes, year, movers):
    """Rows of a stratified cluster sample. movers(stratum, cluster index, k, rng) -> district."""
    rng = random.Random(seed)
    rows = []
    for stratum in STRATA:
        block = []
        for c, size in enumerate(sizes[stratum], 1):
            cluster = f"{stratum}-c{c}"
            ceff = rng.gauss(0.0, 0.22)
            cfac = rng.uniform(0.85, 1.15)
            for k in range(size):
                district = movers(stratum, c, k, rng)
                a = answers(defn, qs, rng, district, year, ceff)
                # Design weight before scaling: cluster factor x individual
                # factor in [1, 3.2] (unequal selection within households).
                a["_raw"] = cfac * rng.choice([1.0, 1.0, 1.5, 2.0, 2.5, 3.2]) * rng.uniform(0.95, 1.05)
                a["_stratum"] = stratum
                a["_cluster"] = cluster
                block.append(a)
        scale = POP[stratum] / sum(a["_raw"] for a in block)
        for a in block:
            a["_weight"] = f"{a['_raw'] * scale:.4f}"
        rows.extend(block)
    return rows


def wave_movers(stratum, c, k, rng):
    u = rng.random()
    if u < 0.025:
        return "gaoqu"
    if u < 0.04:
        others = [s for s in STRATA if s != stratum]
        return others[int(rng.random() * len(others))]
    return stratum


def lonely_movers(stratum, c, k, rng):
    # gaoqu members: wendeng-c1 (not wendeng-c2), huancui-c2 and -c5, the
    # lonely nanhai-c1; nobody else moves.
    if (stratum, c) == ("wendeng", 1) and k in (2, 7, 11, 16):
        return "gaoqu"
    if (stratum, c) in (("huancui", 2), ("huancui", 5)) and k in (3, 8):
        return "gaoqu"
    if (stratum, c) == ("nanhai", 1) and k in (5, 12):
        return "gaoqu"
    return stratum


def write_csv(path, rows, prefix, ids):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["_id", "_weight", "_stratum", "_cluster"] + ids)
        for i, a in enumerate(rows, 1):
            w.writerow([f"{prefix}-{i:04d}", a["_weight"], a["_stratum"], a["_cluster"]] + [a[q] for q in ids])


def round_margin(values, total):
    """Round to tens keeping the given grand total (largest remainder)."""
    r = {k: int(round(v / 10.0)) * 10 for k, v in values.items()}
    diff = total - sum(r.values())
    biggest = max(r, key=lambda k: r[k])
    r[biggest] += diff
    return r


def margins(rows):
    def wtot(var):
        t = {}
        for a in rows:
            t[a[var]] = t.get(a[var], 0.0) + float(a["_weight"])
        return t
    dist, sex, age = wtot("district"), wtot("sex"), wtot("age_group")
    total = int(round(sum(dist.values()) * 1.02 / 10000.0)) * 10000
    # Population structure differs from the weighted sample: younger, more
    # male, a little more gaoqu and huancui.
    dist_adj = {"huancui": 1.06, "wendeng": 0.97, "rongcheng": 1.0, "rushan": 0.95, "nanhai": 1.0, "gaoqu": 1.15}
    sex_adj = {"male": 1.12, "female": 0.9}
    age_adj = {"18-29": 1.75, "30-44": 1.15, "45-59": 0.95, "60+": 0.7}

    def adjusted(t, adj):
        x = {k: t[k] * adj.get(k, 1.0) for k in t}
        s = sum(x.values())
        return round_margin({k: v * total / s for k, v in x.items()}, total)
    out = []
    order = {"district": ["huancui", "wendeng", "rongcheng", "rushan", "gaoqu", "nanhai"],
             "sex": ["male", "female"], "age_group": ["18-29", "30-44", "45-59", "60+"]}
    for var, t, adj in (("district", dist, dist_adj), ("sex", sex, sex_adj), ("age_group", age, age_adj)):
        m = adjusted(t, adj)
        for k in order[var]:
            if k in m:
                out.append((var, k, m[k]))
        assert set(m) <= set(order[var]), m
    return out


def main():
    defn = tomllib.loads(DEF.read_text(encoding="utf-8"))
    qs = questions(defn)
    ids = [q["id"] for q in qs]
    districts = [o["value"] for o in next(q for q in qs if q["id"] == "district")["options"]]
    assert all(s in districts for s in STRATA)
    write_structure(defn, qs)
    made = {}
    for year, (seed, sizes) in WAVES.items():
        rows = sample(defn, qs, seed, sizes, year, wave_movers)
        write_csv(HERE / f"wave{year}.csv", rows, f"w{year}", ids)
        made[year] = rows
    seed, sizes = LONELY
    lonely = sample(defn, qs, seed, sizes, "2026", lonely_movers)
    write_csv(HERE / "lonely.csv", lonely, "lp", ids)
    with open(HERE / "margins.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["question", "value", "total"])
        for row in margins(made["2026"]):
            w.writerow(row)
    for name, rows in (("wave2025", made["2025"]), ("wave2026", made["2026"]), ("lonely", lonely)):
        by_d = {}
        for a in rows:
            by_d[a["district"]] = by_d.get(a["district"], 0) + 1
        print(f"{name}: {len(rows)} respondents, {len({a['_cluster'] for a in rows})} clusters; districts {by_d}")


if __name__ == "__main__":
    main()
