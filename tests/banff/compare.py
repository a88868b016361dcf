"""Compares `zhibao outlier` with Statistics Canada's Banff OUTLIER procedure.

usage: python compare.py ZHIBAO_BINARY WORK_DIR [N_PANELS]

Builds random panels — several sizes, by-groups below and above min_obs, ties,
zeros, negatives and missing values, exponents, mii / mei / both, sides, RATIO and
HISTORIC — runs both, and compares the flagged units and their FTI/FTE status.
Exits 1 on the first difference, printing it. Needs the `banff` package.
"""
import logging
import os
import subprocess
import sys

import numpy as np
import pandas as pd

logging.disable(logging.CRITICAL)
import banff  # noqa: E402

zhibao, work = sys.argv[1], sys.argv[2]
n_panels = int(sys.argv[3]) if len(sys.argv) > 3 else 60
os.makedirs(work, exist_ok=True)
rng = np.random.default_rng(20261121)


def panel(k):
    n_groups = int(rng.integers(1, 5))
    rows = []
    for g in range(n_groups):
        size = int(rng.choice([4, 9, 10, 11, 15, 30, 80]))
        base = rng.lognormal(6, 1.0, size)
        growth = rng.lognormal(0, rng.choice([0.02, 0.1, 0.3]), size)
        cur = base * growth
        if rng.random() < 0.4:  # ties: many identical ratios
            cur[: size // 2] = base[: size // 2] * 1.25
        for i in range(size):
            x, y = round(float(cur[i]), int(rng.choice([0, 1, 2]))), round(float(base[i]), 1)
            r = rng.random()
            if r < 0.04:
                x = 0.0
            elif r < 0.06:
                y = 0.0
            elif r < 0.08:
                x = -x
            elif r < 0.10:
                x = np.nan
            elif r < 0.12:
                y = np.nan
            elif r < 0.16:
                x = x * float(rng.choice([4, 8, 0.1]))
            rows.append((f"g{g}u{i:03d}", f"A{g}", x, y))
    df = pd.DataFrame(rows, columns=["ident", "area", "x", "y"])
    return df


def params():
    p = {}
    choice = rng.integers(0, 3)
    if choice in (0, 2):
        p["mii"] = float(rng.choice([2.0, 3.0, 4.0, 7.0]))
    if choice in (1, 2):
        p["mei"] = float(rng.choice([1.0, 1.5, 1.9]))
    if "mii" in p and "mei" in p and p["mei"] >= p["mii"]:
        p["mei"] = p["mii"] / 2
    p["exponent"] = float(rng.choice([0.0, 0.3, 0.5, 1.0]))
    if rng.random() < 0.3:
        p["mdm"] = float(rng.choice([0.01, 0.05, 0.2]))
    if rng.random() < 0.4:
        p["min_obs"] = int(rng.choice([3, 5, 10, 20]))
    if rng.random() < 0.3:
        p["side"] = str(rng.choice(["LEFT", "RIGHT", "BOTH"]))
    return p


def run_banff(df, p, method, by, accept_negative=False):
    kw = dict(p)
    if method == "HISTORIC":
        cur = df[["ident", "area", "x"]].copy()
        hist = df[["ident", "area", "y"]].rename(columns={"y": "x"})
        kw.update(indata=cur, indata_hist=hist, var="x", with_var="x")
    elif method == "CURRENT":
        kw.update(indata=df[["ident", "area", "x"]].copy(), var="x")
        kw.pop("exponent", None)
        if accept_negative:
            kw["accept_negative"] = True
    else:
        kw.update(indata=df, var="x", with_var="y")
    if by:
        kw["by"] = "area"
    # Banff's C library prints its log to file descriptor 1: silence it.
    sys.stdout.flush()
    saved = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    try:
        res = banff.outlier(unit_id="ident", method=method, trace=False, capture=True, **kw)
    finally:
        os.dup2(saved, 1)
        os.close(null)
        os.close(saved)
    st = res.outstatus.to_pandas()
    return {(r.ident, r.STATUS) for r in st.itertuples()}


def run_zhibao(df, p, method, by, k, accept_negative=False):
    inp = os.path.join(work, f"p{k}.csv")
    out = os.path.join(work, f"p{k}_out.csv")
    args = [zhibao, "-q", "outlier", "--id", "ident", "--var", "x", "--out", out]
    if method == "HISTORIC":
        df[["ident", "area", "x"]].to_csv(inp, index=False)
        hist = os.path.join(work, f"p{k}_hist.csv")
        df[["ident", "area", "y"]].rename(columns={"y": "x"}).to_csv(hist, index=False)
        args += ["--input", inp, "--hist", hist, "--with-var", "x"]
    elif method == "CURRENT":
        df[["ident", "area", "x"]].to_csv(inp, index=False)
        args += ["--input", inp]
        if accept_negative:
            args += ["--accept-negative"]
    else:
        df.to_csv(inp, index=False)
        args += ["--input", inp, "--with-var", "y"]
    if by:
        args += ["--by", "area"]
    for key, flag in [("mii", "--mii"), ("mei", "--mei"), ("exponent", "--exponent"), ("mdm", "--mdm"), ("min_obs", "--min-obs")]:
        if key in p:
            args += [flag, str(p[key])]
    if "side" in p:
        args += ["--side", p["side"].lower()]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    z = pd.read_csv(out, dtype=str, encoding="utf-8-sig")
    return {(r.unit_id, r.status) for r in z.itertuples()}


total_flags = 0
for k in range(n_panels):
    df = panel(k)
    p = params()
    method = ["RATIO", "HISTORIC", "CURRENT"][k % 3]
    by = bool(rng.random() < 0.7) or df.area.nunique() > 1
    neg = method == "CURRENT" and bool(rng.random() < 0.5)
    b = run_banff(df, p, method, by, neg)
    z = run_zhibao(df, p, method, by, k, neg)
    total_flags += len(b)
    if b != z:
        print(f"panel {k} ({method}, by={by}, params={p}): banff only {sorted(b - z)}, zhibao only {sorted(z - b)}")
        df.to_csv(os.path.join(work, f"diff_{k}.csv"), index=False)
        sys.exit(1)
print(f"{n_panels} panels, {total_flags} flags: zhibao and Banff agree on every unit and status")
