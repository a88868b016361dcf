"""Scores an audit against the labels of a generated batch.

usage: python scripts/evaluate.py LABELS.csv OUT_DIR

Prints, per planted kind, the share found under its expected rule codes; per rule,
the enterprises flagged that were not planted; and for the query list:

- precision over the first K lines (K = enterprises with a planted error), overall,
  and for each group of kinds: the documents' patterns and the subtle kinds (K =
  the enterprises of the group; a line counts when it is any planted enterprise);
- recall (planted enterprises anywhere on the list), per group;
- legitimately unusual enterprises (label level `legit`: seasonal, milestone
  output, new lines, fast growth, decline, exporters — no error) in the top K and
  anywhere on the list;
- enterprises with a hard finding that are not red.

Needs pandas and pyarrow.
"""
import sys
import pandas as pd

SUBTLE = {"inv_quarter_padding", "unit_slip", "slow_inflation", "too_smooth", "identical_series", "wage_jump",
          "county_ratio_step_down"}

labels = pd.read_csv(sys.argv[1], dtype=str, encoding="utf-8-sig").fillna("")
out = sys.argv[2]
f = pd.read_parquet(f"{out}/findings.parquet")
ql = pd.read_csv(f"{out}/query_list.csv", dtype=str, encoding="utf-8-sig")
grades = pd.read_parquet(f"{out}/grades.parquet")

legit = labels[labels.level == "legit"]
errors = labels[labels.level != "legit"]
# Enterprises of a county whose output was inflated across the board are wrong
# too, though labelled at the county: they count neither as planted nor as clean.
stepped = set(labels[labels.kind == "county_ratio_step_down"].county_code)


def found(row):
    rules = row.expected_rules.split(";")
    if row.level == "county":
        hit = f[(f.county_code == row.county_code) & f.rule_code.isin(rules) & (f.level == "county")]
    elif row.level == "project":
        hit = f[(f.project_id == row.project_id) & f.rule_code.isin(rules)]
    else:
        hit = f[(f.uscc == row.uscc) & f.rule_code.isin(rules)]
    return len(hit) > 0


errors = errors.assign(found=errors.apply(found, axis=1))
print("detection by kind (found / planted):")
for kind, g in errors.groupby("kind"):
    print(f"  {kind:<32} {g.found.sum():>4} / {len(g):<4} {100*g.found.mean():6.1f}%")
planted = set(errors[errors.level != "county"].uscc)
subtle = set(errors[errors.kind.isin(SUBTLE)].uscc)
documents = planted - subtle
legit_set = set(legit.uscc) - planted
ql = ql[~(ql.county_code.isin(stepped) & ~ql.uscc.isin(planted))]
warn = f[f.uscc.notna() & f.severity.isin(["hard", "soft"])]
clean = warn[~warn.uscc.isin(planted) & ~warn.county_code.isin(stepped)]
n_ent = len(grades)
print(f"\nenterprises {n_ent}, planted {len(planted)} "
      f"(documents' patterns {len(documents)}, subtle {len(subtle)}), legitimately unusual {len(legit_set)}")
print("hard or soft findings on enterprises not planted, by rule (legitimately unusual among them):")
for code, g in clean.groupby("rule_code"):
    u = set(g.uscc)
    print(f"  {code} {len(u):>5}  {100*len(u)/max(1,n_ent-len(planted)):5.2f}%   legit {len(u & legit_set)}")

ranked = ql[ql.sampled.str.lower() != "true"] if "sampled" in ql else ql


def precision_at(k, pool):
    top = ranked.head(k)
    return top.uscc.isin(pool).mean() if k else float("nan")


k = len(planted)
top = ranked.head(k)
print(f"\nquery list: {len(ql)} lines ({len(ranked)} ranked, {len(ql) - len(ranked)} sampled)")
print(f"precision@K={k}: {100*precision_at(k, planted):.1f}%; recall: {100*len(planted & set(ql.uscc))/max(1,k):.1f}%")
# Per group: the group's enterprises ranked among themselves and the clean ones.
for name, group in [("documents' patterns", documents), ("subtle kinds", subtle)]:
    other = planted - group
    sub = ranked[~ranked.uscc.isin(other)]
    kk = len(group)
    p = sub.head(kk).uscc.isin(group).mean() if kk else float("nan")
    r = len(group & set(ql.uscc)) / max(1, kk)
    print(f"  {name:<20} precision@K={kk}: {100*p:5.1f}%   recall {100*r:5.1f}%")
lt = top.uscc.isin(legit_set).sum()
print(f"legitimately unusual in the top {k}: {lt} ({100*lt/max(1,k):.1f}%); on the list: "
      f"{ql.uscc.isin(legit_set).sum()} of {len(legit_set)}")
if lt:
    print("  by kind:", legit[legit.uscc.isin(set(top.uscc))].kind.value_counts().to_dict())
hard = set(f[f.severity == "hard"].uscc.dropna())
g = grades.set_index("uscc")
print(f"hard-finding enterprises not red: {sum(g.loc[u, 'grade'] != 'red' for u in hard if u in g.index)} of {len(hard)}")
print("grades:", grades.grade.value_counts().to_dict())
