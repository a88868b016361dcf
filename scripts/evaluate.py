"""Scores an audit against the labels of a generated batch.

usage: python scripts/evaluate.py LABELS.csv OUT_DIR

Prints, per planted kind, the share found under its expected rule codes; per rule,
the enterprises flagged that were not planted; and the query list's precision at K
(K = planted enterprises) and recall. Needs pandas and pyarrow.
"""
import sys
import pandas as pd

labels = pd.read_csv(sys.argv[1], dtype=str, encoding="utf-8-sig").fillna("")
out = sys.argv[2]
f = pd.read_parquet(f"{out}/findings.parquet")
ql = pd.read_csv(f"{out}/query_list.csv", dtype=str, encoding="utf-8-sig")
grades = pd.read_parquet(f"{out}/grades.parquet")

def found(row):
    rules = row.expected_rules.split(";")
    if row.level == "county":
        hit = f[(f.county_code == row.county_code) & f.rule_code.isin(rules) & (f.level == "county")]
    elif row.level == "project":
        hit = f[(f.project_id == row.project_id) & f.rule_code.isin(rules)]
    else:
        hit = f[(f.uscc == row.uscc) & f.rule_code.isin(rules)]
    return len(hit) > 0

labels["found"] = labels.apply(found, axis=1)
print("detection by kind (found / planted):")
for kind, g in labels.groupby("kind"):
    print(f"  {kind:<32} {g.found.sum():>4} / {len(g):<4} {100*g.found.mean():6.1f}%")
planted = set(labels[labels.level != "county"].uscc)
ent = f[f.uscc.notna()]
clean = ent[~ent.uscc.isin(planted)]
n_ent = len(grades)
print(f"\nenterprises {n_ent}, planted {len(planted)}")
print("flagged enterprises not planted, by rule (rate among the clean):")
for code, g in clean.groupby("rule_code"):
    print(f"  {code} {g.uscc.nunique():>5}  {100*g.uscc.nunique()/max(1,n_ent-len(planted)):5.2f}%")
k = len(planted)
top = ql.head(k)
prec = top.uscc.isin(planted).mean() if k else float("nan")
recall = len(planted & set(ql.uscc)) / max(1, k)
print(f"\nquery list: {len(ql)} lines; precision@K={k}: {100*prec:.1f}%; recall: {100*recall:.1f}%")
hard = set(f[f.severity == "hard"].uscc.dropna())
g = grades.set_index("uscc")
print(f"hard-finding enterprises not red: {sum(g.loc[u, 'grade'] != 'red' for u in hard if u in g.index)} of {len(hard)}")
print("grades:", grades.grade.value_counts().to_dict())
