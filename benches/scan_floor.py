"""The scan floor of the national benchmark: reading just the columns the audit
uses, from the same Parquet files, with pyarrow (multi-threaded), and nothing else.

usage: python scan_floor.py DATA_DIR
"""
import sys
import pyarrow.dataset as ds

data = sys.argv[1]
tables = {
    "enterprises.parquet": None,
    "industrial": ["uscc", "period", "gross_output", "sales_output", "export_delivery", "submitted_at", "revisions"],
    "tax": ["uscc", "period", "taxable_sales"],
    "energy": ["uscc", "period", "energy_consumption", "electricity"],
    "rd.parquet": None,
    "investment.parquet": None,
    "labor.parquet": None,
    "services.parquet": None,
    "verifications.parquet": None,
}
rows = 0
for name, cols in tables.items():
    path = f"{data}/{name}"
    try:
        d = ds.dataset(path, format="parquet", partitioning="hive")
    except FileNotFoundError:
        continue
    t = d.to_table(columns=cols)
    rows += t.num_rows
print(f"{rows} rows read")
