"""The DuckDB baseline of the national benchmark: the core of zhibao's audit as a
hand-written SQL script over the same Parquet files.

usage: python duckdb_baseline.py DATA_DIR OUT_DIR [THREADS]

Work done (all of it timed by the caller, reading included):
  - year-to-date taxable sales / gross output per enterprise (< 0.9 flagged) and
    per county, output without a tax record in the period;
  - industrial logic over the year to date: export > sales, negatives, sales ratio
    outside 0.5–1.2;
  - R&D: expenditure < 100, staff < 5 with expenditure > 2,000, no super-deduction
    three years running, low-end industries, first-time reporters;
  - investment: year-to-date falls, year-to-date above the plan;
  - a score per enterprise, a ranking, county aggregates, written as Parquet.
"""
import sys
import duckdb

data, out = sys.argv[1], sys.argv[2]
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
con = duckdb.connect()
con.execute(f"SET threads = {threads}")
con.execute(f"CREATE VIEW enterprises AS SELECT * FROM read_parquet('{data}/enterprises.parquet')")
con.execute(f"CREATE VIEW industrial AS SELECT * FROM read_parquet('{data}/industrial/*/*.parquet', hive_partitioning = true)")
con.execute(f"CREATE VIEW tax AS SELECT * FROM read_parquet('{data}/tax/*/*.parquet', hive_partitioning = true)")
con.execute(f"CREATE VIEW rd AS SELECT * FROM read_parquet('{data}/rd.parquet')")
con.execute(f"CREATE VIEW investment AS SELECT * FROM read_parquet('{data}/investment.parquet')")
p = con.execute("SELECT max(period) FROM industrial").fetchone()[0]
year = p[:4]
ystart = f"{year}-01"
rd_year = int(year) - 1

con.execute(f"""
CREATE TABLE ent AS SELECT uscc, county_code, industry_code, substr(industry_code, 1, 2) AS division, entry_period FROM enterprises;
CREATE TABLE ind_ytd AS SELECT * FROM industrial WHERE period BETWEEN '{ystart}' AND '{p}';
CREATE TABLE tax_ytd AS SELECT * FROM tax WHERE period BETWEEN '{ystart}' AND '{p}';

CREATE TABLE ytd AS
SELECT i.uscc, i.gross, coalesce(t.taxable, 0) AS taxable
FROM (SELECT uscc, sum(gross_output) AS gross FROM ind_ytd GROUP BY uscc) i
LEFT JOIN (SELECT uscc, sum(taxable_sales) AS taxable FROM tax_ytd GROUP BY uscc) t USING (uscc);

CREATE TABLE findings AS
SELECT uscc, 'TX001' AS code, 10.0 * least(5, greatest(0.2, (0.9 - taxable / gross) / 0.1)) AS w
  FROM ytd WHERE gross > 500 AND taxable / gross < 0.9
UNION ALL
SELECT i.uscc, 'TX002', 20.0 FROM ind_ytd i ANTI JOIN tax_ytd t ON i.uscc = t.uscc AND i.period = t.period
  WHERE i.gross_output > 0
UNION ALL
SELECT uscc, 'IN001', 100.0 FROM ind_ytd WHERE export_delivery > sales_output
UNION ALL
SELECT uscc, 'IN002', 100.0 FROM ind_ytd WHERE gross_output < 0 OR sales_output < 0 OR export_delivery < 0
UNION ALL
SELECT uscc, 'IN003', 10.0 FROM ind_ytd
  WHERE gross_output > 100 AND (sales_output / gross_output < 0.5 OR sales_output / gross_output > 1.2)
UNION ALL
SELECT uscc, 'RD002', 10.0 FROM rd WHERE year = {rd_year} AND rd_expenditure > 0 AND rd_expenditure < 100
UNION ALL
SELECT uscc, 'RD003', 10.0 FROM rd WHERE year = {rd_year} AND rd_staff < 5 AND rd_expenditure > 2000
UNION ALL
SELECT uscc, 'RD001', 10.0 FROM rd WHERE year BETWEEN {rd_year - 2} AND {rd_year}
  GROUP BY uscc HAVING count(DISTINCT year) = 3 AND bool_and(rd_expenditure > 0) AND bool_and(coalesce(rd_super_deduction, 0) <= 0)
UNION ALL
SELECT r.uscc, 'RD005', 10.0 FROM rd r JOIN ent e USING (uscc)
  WHERE r.year = {rd_year} AND r.rd_expenditure > 0 AND e.division IN ('13', '14', '20')
UNION ALL
SELECT r.uscc, 'RD004', 10.0 FROM rd r
  WHERE r.year = {rd_year} AND r.rd_expenditure > 0
    AND NOT EXISTS (SELECT 1 FROM rd q WHERE q.uscc = r.uscc AND q.year < {rd_year} AND q.rd_expenditure > 0)
UNION ALL
SELECT uscc, 'IV001', 100.0 FROM (
  SELECT uscc, period, ytd_completed,
         lag(ytd_completed) OVER (PARTITION BY project_id ORDER BY period) AS prev,
         lag(period) OVER (PARTITION BY project_id ORDER BY period) AS prev_period
  FROM investment WHERE period BETWEEN '{ystart}' AND '{p}')
  WHERE prev IS NOT NULL AND ytd_completed < prev
UNION ALL
SELECT uscc, 'IV002', 100.0 FROM investment WHERE period BETWEEN '{ystart}' AND '{p}' AND ytd_completed > planned_total;

CREATE TABLE scores AS
SELECT f.uscc, e.county_code, sum(f.w) AS score, string_agg(DISTINCT f.code, ';' ORDER BY f.code) AS codes
FROM findings f JOIN ent e USING (uscc) GROUP BY f.uscc, e.county_code;

CREATE TABLE query_list AS
SELECT row_number() OVER (ORDER BY score DESC, uscc) AS rank, * FROM scores WHERE score >= 5;

CREATE TABLE counties AS
SELECT e.county_code, count(*) AS enterprises, sum(y.gross) AS gross, sum(y.taxable) AS taxable,
       sum(y.taxable) / sum(y.gross) AS tax_output_ratio,
       count(s.uscc) AS flagged
FROM ent e LEFT JOIN ytd y USING (uscc) LEFT JOIN scores s USING (uscc)
GROUP BY e.county_code;
""")
con.execute(f"COPY query_list TO '{out}_query_list.parquet' (FORMAT parquet)")
con.execute(f"COPY counties TO '{out}_counties.parquet' (FORMAT parquet)")
n = con.execute("SELECT count(*) FROM query_list").fetchone()[0]
print(f"period {p}: {n} enterprises on the list")
