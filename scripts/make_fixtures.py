"""Writes the small hand-built fixtures under fixtures/ (standard library only).

    python3 scripts/make_fixtures.py

fixtures/rules/<family>/ are data directories, each with `expect.toml`: for every
rule of the family, the enterprises (or projects, counties) that must fail, that
must pass, and whose missing values make them not evaluable. The values are
deterministic: a clean panel with small, fixed wiggles, and one enterprise per case.

fixtures/formats/ holds one batch in several formats and encodings (GB18030 with
Chinese headings, UTF-8 with a BOM, semicolons, a Hive folder).
"""
import csv
import math
import os

ALPHA = "0123456789ABCDEFGHJKLMNPQRTUWXY"
W = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
ROOT = os.path.join(os.path.dirname(__file__), "..", "fixtures")


def uscc(county, serial):
    # The serial in base 31: distinct serials give distinct codes.
    digits, n = [], serial * 7919 + 12345
    for _ in range(6):
        digits.append(ALPHA[n % 31])
        n //= 31
    body = "MA" + "".join(digits)
    w8 = [3, 7, 9, 10, 5, 8, 4, 2]
    s = sum(ALPHA.index(c) * w for c, w in zip(body, w8))
    d = 11 - s % 11
    check = "X" if d == 10 else "0" if d == 11 else str(d)
    first = f"91{county}{body}{check}"
    total = sum(ALPHA.index(c) * w for c, w in zip(first, W))
    return first + ALPHA[(31 - total % 31) % 31]


def months(a, b):
    y, m = a
    out = []
    while (y, m) <= b:
        out.append(f"{y:04d}-{m:02d}")
        m += 1
        if m == 13:
            y, m = y + 1, 1
    return out


def wiggle(i, t):
    """A fixed pseudo-random factor near 1 (±3%)."""
    return 1 + 0.03 * math.sin(i * 12.9898 + t * 78.233)


def write(path, header, rows, encoding="utf-8-sig", delimiter=","):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", newline="", encoding=encoding) as f:
        w = csv.writer(f, delimiter=delimiter)
        w.writerow(header)
        w.writerows(rows)


def write_expect(path, rules):
    lines = ["# For each rule: who must fail, who must pass, who is not evaluable.\n"]
    for code, cases in rules.items():
        lines.append(f"\n[{code}]\n")
        for k in ("fail", "pass", "missing"):
            vals = ", ".join(f'"{v}"' for v in cases.get(k, []))
            lines.append(f"{k} = [{vals}]\n")
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(lines)


PERIOD = (2026, 9)
MONTHS = months((2025, 1), PERIOD)


def industrial_fixture():
    d = os.path.join(ROOT, "rules", "industrial")
    n = 17
    ids = [uscc("340102", i + 1) for i in range(n)]
    roles = {
        "clean": ids[:9],
        "F_export": ids[9],
        "F_negative": ids[10],
        "F_ratio": ids[11],
        "F_jump": ids[12],
        "F_copied": ids[13],
        "F_round": ids[14],
        "M_missing": ids[15],
        # Round figures all along (a small reporter estimating): a habit, not a switch.
        "F_round_habit": ids[16],
    }
    ents = [[u, f"测试企业{i:02d}有限公司", "340102", "3670", "2020-01", "medium"] for i, u in enumerate(ids)]
    write(os.path.join(d, "enterprises.csv"), ["uscc", "name", "county_code", "industry_code", "entry_period", "size_class"], ents)
    ind, tax = [], []
    for i, u in enumerate(ids):
        base = 2000 + 150 * i
        for t, m in enumerate(MONTHS):
            g = round(base * (1 + 0.004 * t) * wiggle(i, t))
            s = round(g * 0.97)
            e = round(s * 0.2)
            rev = 0
            if m == "2026-09":
                if u == roles["F_export"]:
                    e = round(s * 1.3)
                if u == roles["F_negative"]:
                    s = -500
                    e = 0
                if u == roles["F_ratio"]:
                    s = round(g * 0.3)
                    e = 0
                if u == roles["F_jump"]:
                    g, s, e = g * 3, s * 3, e * 3
                if u == roles["F_round"]:
                    rev = 5
            if u == roles["F_copied"] and m >= "2026-07":
                g, s, e = 2600, 2522, 504
            if u == roles["F_round"] and m >= "2026-04":
                g = round(g / 100) * 100
            if u == roles["F_round_habit"]:
                g = round(g / 100) * 100
            row = [u, m, g, s, e, f"{m}-28T10:00:00", rev]
            if u == roles["M_missing"] and m == "2026-09":
                row = [u, m, "", "", "", "", ""]
            ind.append(row)
            tax.append([u, m, round(s * 1.12) if s > 0 else 0])
    write(os.path.join(d, "industrial.csv"), ["uscc", "period", "gross_output", "sales_output", "export_delivery", "submitted_at", "revisions"], ind)
    write(os.path.join(d, "tax.csv"), ["uscc", "period", "taxable_sales"], tax)
    clean = roles["clean"]
    write_expect(
        os.path.join(d, "expect.toml"),
        {
            "IN001": {"fail": [roles["F_export"]], "pass": clean, "missing": [roles["M_missing"]]},
            "IN002": {"fail": [roles["F_negative"]], "pass": clean, "missing": [roles["M_missing"]]},
            "IN003": {"fail": [roles["F_ratio"]], "pass": clean, "missing": [roles["M_missing"]]},
            "IN004": {"fail": [roles["F_jump"]], "pass": clean, "missing": [roles["M_missing"]]},
            "IN005": {"fail": [roles["F_jump"]], "pass": clean, "missing": [roles["M_missing"]]},
            "IN006": {"fail": [roles["F_copied"]], "pass": clean, "missing": [roles["M_missing"]]},
            # F_copied's value copied forward is round three months of twelve: as
            # likely by chance as 2 enterprises in 10,000, left to IN006.
            "IN007": {"fail": [roles["F_round"], roles["F_round_habit"]], "pass": clean + [roles["F_copied"]], "missing": []},
            "IN008": {"fail": [roles["F_jump"]], "pass": clean, "missing": [roles["M_missing"]]},
            "IN009": {"fail": [roles["F_jump"]], "pass": clean, "missing": [roles["M_missing"]]},
            "IN010": {"fail": [roles["F_round"]], "pass": clean, "missing": [roles["M_missing"]]},
        },
    )


def tax_fixture():
    d = os.path.join(ROOT, "rules", "tax")
    # County 340102: clean; county 340103: output not backed by tax records.
    ids_a = [uscc("340102", 100 + i) for i in range(8)]
    ids_b = [uscc("340103", 200 + i) for i in range(4)]
    f_low, f_none, m_missing = ids_a[5], ids_a[6], ids_a[7]
    ents = [[u, f"税务测试{i:02d}", u[2:8], "1711" if u == f_low else "3670", "2020-01", ""] for i, u in enumerate(ids_a + ids_b)]
    write(os.path.join(d, "enterprises.csv"), ["uscc", "name", "county_code", "industry_code", "entry_period", "size_class"], ents)
    ind, tax = [], []
    for i, u in enumerate(ids_a + ids_b):
        for t, m in enumerate(MONTHS):
            g = round((3000 + 100 * i) * wiggle(i, t))
            s = round(g * 0.97)
            ind.append([u, m, g if not (u == m_missing and m >= "2026-01") else "", s, 0])
            factor = 1.1
            if u == f_low or u in ids_b:
                factor = 0.5
            if u == f_none and m == "2026-09":
                continue
            tax.append([u, m, round(s * factor)])
    write(os.path.join(d, "industrial.csv"), ["uscc", "period", "gross_output", "sales_output", "export_delivery"], ind)
    write(os.path.join(d, "tax.csv"), ["uscc", "period", "taxable_sales"], tax)
    clean = ids_a[:5]
    write_expect(
        os.path.join(d, "expect.toml"),
        {
            "TX001": {"fail": [f_low] + ids_b, "pass": clean + [f_none], "missing": [m_missing]},
            "TX002": {"fail": [f_none], "pass": clean + [f_low], "missing": [m_missing]},
            "TX003": {"fail": ["340103"], "pass": ["340102"], "missing": []},
        },
    )


def rd_fixture():
    d = os.path.join(ROOT, "rules", "rd")
    n = 17
    ids = [uscc("340104", 300 + i) for i in range(n)]
    clean = ids[:10]
    F = dict(no_deduction=ids[10], small=ids[11], few_staff=ids[12], first=ids[13], low_end=ids[14], m_missing=ids[15], jump=ids[16])
    ents = []
    for i, u in enumerate(ids):
        ind_code = "1311" if u == F["low_end"] else "2720"
        ents.append([u, f"研发测试{i:02d}", "340104", ind_code, "2018-06", "medium"])
    write(os.path.join(d, "enterprises.csv"), ["uscc", "name", "county_code", "industry_code", "entry_period", "size_class"], ents)
    ind, tax, rd = [], [], []
    for i, u in enumerate(ids):
        for t, m in enumerate(MONTHS):
            g = round((4000 + 200 * i) * wiggle(i, t))
            ind.append([u, m, g, round(g * 0.97), 0])
            tax.append([u, m, round(g * 1.05)])
        for y in (2023, 2024, 2025):
            staff = 10 + i
            # Spend per staff spread like real reporters' (±25%).
            exp = round(staff * 180 * (1 + 0.25 * math.sin(i * 2.3 + y)))
            ded = round(exp * 0.22)
            if u == F["no_deduction"]:
                ded = 0
            if u == F["small"] and y == 2025:
                staff, exp = 2, 60
            if u == F["few_staff"] and y == 2025:
                staff, exp = 3, 4500
            if u == F["first"] and y < 2025:
                continue
            # The same staff, three times the spend of last year.
            if u == F["jump"] and y == 2025:
                exp = exp * 3
            row = [u, y, staff, exp, ded]
            if u == F["m_missing"] and y == 2025:
                row = [u, y, "", "", ""]
            rd.append(row)
    # R&D above the county and city lines (routing).
    big = uscc("340104", 399)
    ents.append([big, "大额研发企业", "340104", "2720", "2018-06", "large"])
    write(os.path.join(d, "enterprises.csv"), ["uscc", "name", "county_code", "industry_code", "entry_period", "size_class"], ents)
    for t, m in enumerate(MONTHS):
        ind.append([big, m, 60000, 58000, 0])
        tax.append([big, m, 63000])
    for y in (2023, 2024, 2025):
        rd.append([big, y, 80, 12000, 2600])
    write(os.path.join(d, "industrial.csv"), ["uscc", "period", "gross_output", "sales_output", "export_delivery"], ind)
    write(os.path.join(d, "tax.csv"), ["uscc", "period", "taxable_sales"], tax)
    write(os.path.join(d, "rd.csv"), ["uscc", "year", "rd_staff", "rd_expenditure", "rd_super_deduction"], rd)
    write_expect(
        os.path.join(d, "expect.toml"),
        {
            "RD001": {"fail": [F["no_deduction"]], "pass": clean, "missing": [F["m_missing"]]},
            "RD002": {"fail": [F["small"]], "pass": clean, "missing": [F["m_missing"]]},
            "RD003": {"fail": [F["few_staff"]], "pass": clean, "missing": [F["m_missing"]]},
            "RD004": {"fail": [F["first"]], "pass": clean, "missing": [F["m_missing"]]},
            "RD005": {"fail": [F["low_end"]], "pass": clean, "missing": [F["m_missing"]]},
            "RD006": {"fail": [F["few_staff"]], "pass": clean, "missing": [F["m_missing"]]},
            "RD009": {"fail": [big], "pass": clean, "missing": [F["m_missing"]]},
            "RD010": {"fail": [F["jump"], F["few_staff"]], "pass": clean + [big], "missing": [F["m_missing"], F["first"]]},
        },
    )


def investment_fixture():
    d = os.path.join(ROOT, "rules", "investment")
    owner = uscc("340105", 500)
    write(os.path.join(d, "enterprises.csv"), ["uscc", "name", "county_code", "industry_code", "entry_period"], [[owner, "投资测试", "340105", "3311", "2019-01"]])
    ind = [[owner, m, 5000, 4900, 0] for m in MONTHS]
    tax = [[owner, m, 5200] for m in MONTHS]
    write(os.path.join(d, "industrial.csv"), ["uscc", "period", "gross_output", "sales_output", "export_delivery"], ind)
    write(os.path.join(d, "tax.csv"), ["uscc", "period", "taxable_sales"], tax)
    rows = []

    def project(pid, planned, monthly, start="2024-06", tweak=None, seed=None, qe=1.3, pad=None):
        ytd = 0
        for t, m in enumerate(MONTHS):
            if m.endswith("-01"):
                ytd = 0
            at_qe = m[5:] in ("03", "06", "09", "12")
            inc = round(monthly * (qe if at_qe else 0.95) * wiggle(len(pid) if seed is None else seed, t))
            if pad and at_qe and m >= pad:
                inc *= 3
            ytd += inc
            value = ytd
            if tweak:
                value = tweak(m, value)
            if value is None:
                continue
            rows.append([pid, owner, "340105", m, planned, value, start])

    # Twenty ordinary projects (IV008 compares a project with 20 others at least),
    # each with its own quarter-end bunching.
    clean = [f"P-CLEAN-{i}" for i in range(20)]
    for i, p in enumerate(clean):
        project(p, 200000, 1000 + 150 * i, seed=100 + i, qe=1.25 + 0.03 * (i % 5))
    # Every quarter end of the last twelve months padded threefold.
    project("P-PAD", 200000, 1500, seed=7, pad="2025-12")
    project("P-FALLS", 200000, 1500, tweak=lambda m, v: round(v * 0.5) if m == "2026-08" else v)
    project("P-ABOVE", 30000, 1500, tweak=lambda m, v: 45000 if m == "2026-09" else v)
    project("P-SPIKE", 200000, 1500, tweak=lambda m, v: v + 20000 if m == "2026-09" else v)
    project("P-MISSING", 200000, 1500, tweak=lambda m, v: "" if m >= "2026-08" else v)
    # A new project booking 80% of its plan in its first month.
    for m, v in [("2026-08", 40000), ("2026-09", 41000)]:
        rows.append(["P-FIRST", owner, "340105", m, 50000, v, "2026-08"])
    # A project of the city supervision tier.
    project("P-CITY", 3_000_000, 40000)
    write(os.path.join(d, "investment.csv"), ["project_id", "uscc", "county_code", "period", "planned_total", "ytd_completed", "start_period"], rows)
    write_expect(
        os.path.join(d, "expect.toml"),
        {
            "IV001": {"fail": ["P-FALLS"], "pass": clean, "missing": ["P-MISSING"]},
            "IV002": {"fail": ["P-ABOVE"], "pass": clean, "missing": ["P-MISSING"]},
            "IV003": {"fail": ["P-FIRST"], "pass": clean, "missing": []},
            "IV004": {"fail": ["P-SPIKE", "P-CITY"], "pass": clean, "missing": ["P-MISSING"]},
            "IV005": {"fail": ["P-CITY"], "pass": clean, "missing": []},
            "IV006": {"fail": ["P-SPIKE"], "pass": clean, "missing": []},
            "IV008": {"fail": ["P-PAD"], "pass": clean + ["P-SPIKE"], "missing": ["P-MISSING"]},
        },
    )


def other_fixture():
    """Labour (quarterly), energy and services, with one case per rule."""
    d = os.path.join(ROOT, "rules", "other")
    n = 24
    ids = [uscc("340106", 700 + i) for i in range(n)]
    clean = ids[:18]
    F = dict(wage=ids[18], inconsistent=ids[19], intensity=ids[20], divergence=ids[21], missing=ids[22], key=ids[23])
    svc = [uscc("340106", 800 + i) for i in range(24)]
    S = dict(jump=svc[20], per_employee=svc[21], errors=svc[22], missing=svc[23], jump_vat=svc[19])
    ents = [[u, f"其他测试{i:02d}", "340106", "3670", "2019-01", ""] for i, u in enumerate(ids)]
    ents += [[u, f"服务测试{i:02d}", "340106", "6513", "2019-01", ""] for i, u in enumerate(svc)]
    write(os.path.join(d, "enterprises.csv"), ["uscc", "name", "county_code", "industry_code", "entry_period", "size_class"], ents)
    ind, tax, energy, labor, services, ver = [], [], [], [], [], []
    for i, u in enumerate(ids):
        for t, m in enumerate(MONTHS):
            g = round(3000 * wiggle(i, t) * (20 if u == F["key"] else 1))
            el = round(g * 0.004 * wiggle(i + 50, t), 1)
            e = round(g * 0.03 * wiggle(i + 90, t), 1)
            if u == F["intensity"] and m >= "2026-01":
                e = round(e * 10, 1)
            if u == F["divergence"] and m == "2026-09":
                g = g * 2
                el = round(el * 0.5, 1)
            row_e = [u, m, e, el]
            if u == F["missing"] and m >= "2026-01":
                row_e = [u, m, "", ""]
            ind.append([u, m, g, round(g * 0.97), 0])
            tax.append([u, m, round(g * 1.05)])
            energy.append(row_e)
            if m[5:] in ("03", "06", "09", "12"):
                staff = 100 + i
                wage = round(staff * 21 * wiggle(i, t))
                if u == F["wage"] and m == "2026-09":
                    wage = wage * 6
                if u == F["inconsistent"] and m == "2026-09":
                    staff, wage = staff * 2, round(wage * 0.6)
                row_l = [u, m, staff, wage]
                if u == F["missing"] and m >= "2026-01":
                    row_l = [u, m, "", ""]
                labor.append(row_l)
    for i, u in enumerate(svc):
        for t, m in enumerate(MONTHS):
            staff = 80 + i
            rev = round(staff * 15 * wiggle(i, t))
            # The VAT records move with the revenue, except for the plain jump.
            vat = round(rev * 1.06 * wiggle(i + 30, t) ** 0.3)
            if u in (S["jump"], S["jump_vat"]) and m == "2026-09":
                rev = rev * 4
            if u == S["jump_vat"] and m == "2026-09":
                vat = vat * 4
            if u == S["per_employee"] and m == "2026-09":
                staff = 8
            tax.append([u, m, vat])
            row = [u, m, rev, staff]
            if u == S["missing"] and m == "2026-09":
                row = [u, m, "", ""]
            services.append(row)
    for m in ("2026-05", "2026-07"):
        ver.append([S["errors"], m, "confirmed_error", f"{m}-20T10:00:00"])
    ver.append([svc[0], "2026-06", "no_issue", "2026-07-20T10:00:00"])
    write(os.path.join(d, "industrial.csv"), ["uscc", "period", "gross_output", "sales_output", "export_delivery"], ind)
    write(os.path.join(d, "tax.csv"), ["uscc", "period", "taxable_sales"], tax)
    write(os.path.join(d, "energy.csv"), ["uscc", "period", "energy_consumption", "electricity"], energy)
    write(os.path.join(d, "labor.csv"), ["uscc", "period", "employees", "wage_total"], labor)
    write(os.path.join(d, "services.csv"), ["uscc", "period", "revenue", "employees"], services)
    write(os.path.join(d, "verifications.csv"), ["uscc", "period", "outcome", "verified_at"], ver)
    sclean = svc[:18]
    write_expect(
        os.path.join(d, "expect.toml"),
        {
            "LB001": {"fail": [F["wage"]], "pass": clean, "missing": [F["missing"]]},
            "LB002": {"fail": [F["inconsistent"]], "pass": clean, "missing": [F["missing"]]},
            "EN001": {"fail": [F["intensity"]], "pass": clean, "missing": [F["missing"]]},
            "EN002": {"fail": [F["divergence"]], "pass": clean, "missing": [F["missing"]]},
            "EN003": {"fail": [F["key"]], "pass": clean, "missing": []},
            # The jump with VAT in step is found too, as information (explained).
            "SV001": {"fail": [S["jump"], S["jump_vat"]], "pass": sclean, "missing": [S["missing"]]},
            "SV002": {"fail": [S["per_employee"]], "pass": sclean, "missing": [S["missing"]]},
            "SV003": {"fail": [S["errors"]], "pass": [svc[0]], "missing": []},
            # The wage sixfold, and the wage per head of twice the staff for 0.6 of
            # the bill, both jump against the same quarter last year.
            "LB003": {"fail": [F["wage"], F["inconsistent"]], "pass": clean, "missing": [F["missing"]]},
            # The wage bill sixfold is the wage bill; twice the staff for 0.6 of the
            # bill is the headcount (AV004 names the field). A missing figure is
            # not anticipated, so not flagged.
            "AV004": {"fail": [F["wage"], F["inconsistent"]], "pass": clean + [F["missing"]], "missing": []},
            # The revenue jump VAT did not move with is far from its sources; the
            # one VAT moved with is not.
            "AV006": {"fail": [S["jump"]], "pass": sclean + [S["jump_vat"]], "missing": []},
        },
    )


def anticipate_fixture():
    """Anticipated values (AV001-AV003) and the figures not taken from the books
    (IN011, IN012, TX004): county 340102 holds one enterprise per case among clean
    ones; county 340104 inflates every enterprise's output by 15% this year while
    VAT stays put; 340103, 340105 and 340106 are clean."""
    d = os.path.join(ROOT, "rules", "anticipate")
    ids = [uscc("340102", 900 + i) for i in range(16)]
    clean = ids[:8]
    F = dict(slip=ids[8], jump=ids[9], jump_vat=ids[10], drift=ids[11], smooth=ids[12],
             pair_a=ids[13], pair_b=ids[14], notax=ids[15])
    others = {c: [uscc(c, 950 + 10 * k + i) for i in range(6)] for k, c in enumerate(["340103", "340104", "340105", "340106"])}
    # A steady grower (output doubling in a year, VAT in step) whose VAT runs a
    # tenth ahead of its output in the last month: its history anticipates the
    # growth, and its year-on-year jump is still the VAT's.
    F["grower"] = uscc("340102", 916)
    every = ids + [u for c in others for u in others[c]] + [F["grower"]]
    ents = [[u, f"预期测试{i:02d}", u[2:8], "3670", "2019-01", ""] for i, u in enumerate(every)]
    write(os.path.join(d, "enterprises.csv"), ["uscc", "name", "county_code", "industry_code", "entry_period", "size_class"], ents)
    ind, tax = [], []
    pair_base = {}
    for i, u in enumerate(every):
        base = 2500 + 120 * i
        for t, m in enumerate(MONTHS):
            g = base * (1 + 0.004 * t) * (1 if u == F["smooth"] and m >= "2025-10" else wiggle(i, t))
            if u == F["grower"]:
                g = base * 1.06 ** t * wiggle(i, t)
            if u == F["pair_a"]:
                pair_base[m] = g
            if u == F["pair_b"] and m >= "2025-10":
                g = pair_base[m] * 1.5
            g = round(g)
            s = round(g * 0.97)
            vat = round(s * 1.12 * (1 + 0.015 * math.sin(i * 3.1 + t * 1.7)))
            month = int(m[5:])
            if m == "2026-09":
                if u == F["slip"]:
                    g, s = g * 1000, s * 1000
                if u in (F["jump"], F["jump_vat"]):
                    g, s = g * 3, s * 3
                    if u == F["jump_vat"]:
                        vat = vat * 3
                if u == F["grower"]:
                    vat = round(vat * 1.10)
            if u == F["drift"] and m >= "2026-01":
                g, s = round(g * (1 + 0.03 * month)), round(s * (1 + 0.03 * month))
            if u in others["340104"] and m >= "2026-01":
                g, s = round(g * 1.15), round(s * 1.15)
            ind.append([u, m, g, s, 0])
            if u != F["notax"]:
                tax.append([u, m, vat])
    write(os.path.join(d, "industrial.csv"), ["uscc", "period", "gross_output", "sales_output", "export_delivery"], ind)
    write(os.path.join(d, "tax.csv"), ["uscc", "period", "taxable_sales"], tax)
    write_expect(
        os.path.join(d, "expect.toml"),
        {
            "AV001": {"fail": [F["slip"], F["jump"]], "pass": clean + [F["jump_vat"], F["grower"]], "missing": [F["notax"]]},
            # Found (any severity): the jumps and the grower; see the test of
            # explained changes for which are information.
            "IN004": {"fail": [F["jump"], F["jump_vat"], F["grower"]], "pass": clean, "missing": []},
            "AV002": {"fail": [F["slip"]], "pass": clean + [F["jump"], F["jump_vat"]], "missing": []},
            "AV003": {"fail": [F["drift"]], "pass": clean + [F["jump_vat"], F["pair_a"]], "missing": []},
            "IN011": {"fail": [F["smooth"]], "pass": clean + [F["pair_a"]], "missing": []},
            "IN012": {"fail": [F["pair_a"], F["pair_b"]], "pass": clean + [F["smooth"]], "missing": []},
            "TX004": {"fail": ["340104"], "pass": ["340103", "340105", "340106"], "missing": []},
        },
    )


def formats_fixture():
    """One small batch in mixed formats: GB18030 with Chinese headings, BOM UTF-8,
    semicolons, a Hive folder, and one bad row of each kind."""
    d = os.path.join(ROOT, "formats")
    ids = [uscc("341002", 600 + i) for i in range(6)]
    ents = [[u, f"格式测试{i}有限公司", "341002", "3670", "2020-01", "中型"] for i, u in enumerate(ids)]
    write(os.path.join(d, "enterprises.csv"), ["统一社会信用代码", "单位详细名称", "行政区划代码", "行业代码", "入库时间", "企业规模"], ents, encoding="gb18030")
    for m in months((2026, 7), (2026, 9)):
        rows = [[u, 1000 + i, 950 + i, 10] for i, u in enumerate(ids)]
        write(os.path.join(d, "industrial", f"period={m}", "data.csv"), ["uscc", "gross_output", "sales_output", "export_delivery"], rows)
    bad_check = ids[0][:-1] + ("1" if ids[0][-1] != "1" else "2")
    tax = [[u, m, "1,200"] for u in ids for m in months((2026, 7), (2026, 9))]
    tax += [
        [bad_check, "2026-09", 100],
        [ids[1], "2026/13", 100],
        [ids[1], "2026-09", "abc"],
    ]
    write(os.path.join(d, "tax.csv"), ["统一社会信用代码", "所属期", "应税销售额"], tax, delimiter=";")


if __name__ == "__main__":
    industrial_fixture()
    tax_fixture()
    rd_fixture()
    investment_fixture()
    other_fixture()
    anticipate_fixture()
    formats_fixture()
    print("fixtures written under", os.path.normpath(ROOT))
