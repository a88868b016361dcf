//! Formula rules: a SQL condition over the columns of one table, as written in the
//! pipeline (`fails_when = "export_delivery > sales_output"`), compiled by Polars'
//! own SQL expression parser. A row where the condition is true fails; false
//! passes; null (a value missing) is not evaluable.

use polars::prelude::*;

use super::config::RuleConfig;
use super::engine::{month_text, Ctx, RuleOutput};
use super::registry::{Kind, RuleDef, Scope};
use crate::error::{Error, Result};
use crate::load;

fn compile(sql: &str) -> std::result::Result<Expr, String> {
    polars::sql::sql_expr(sql).map_err(|e| format!("the SQL condition does not compile: {e}"))
}

/// Checks that a condition compiles and names only columns of the rule's table.
pub fn check(def: &RuleDef, sql: &str) -> std::result::Result<(), String> {
    let e = compile(sql)?;
    let empty = load::empty_table(def.table);
    let available: Vec<String> = empty
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    empty
        .lazy()
        .select([e.alias("_cond")])
        .collect_schema()
        .map(|_| ())
        .map_err(|err| {
            format!(
                "the condition cannot be evaluated on table {}: {}; its columns are: {}",
                def.table,
                err.to_string().lines().next().unwrap_or(""),
                available.join(", ")
            )
        })
}

/// Evaluates a formula rule.
pub fn eval(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let def = cfg.def;
    let pe = |e| Error::polars("rules", e);
    let Kind::Formula { value, .. } = &def.kind else {
        return Err(Error::Internal {
            stage: "rules",
            message: format!("{} is not a formula rule", def.code),
        });
    };
    let sql = cfg.fails_when.as_deref().unwrap_or("false");
    let cond = compile(&cfg.substitute(sql)).map_err(|m| Error::Internal {
        stage: "rules",
        message: m,
    })?;
    let p = ctx.period.0;
    // A row's result does not depend on the month auditing it: the condition is
    // computed on the rows first (the filters below are pushed before it).
    let mut lf = ctx.table(def.table)?.with_column(cond.alias("_fails"));
    if let Some(v) = value {
        let v = compile(&cfg.substitute(v)).map_err(|m| Error::Internal {
            stage: "rules",
            message: m,
        })?;
        lf = lf.with_column(v.cast(DataType::Float64).alias("value"));
    }
    let annual = def.table == crate::model::Table::Rd;
    // Each row looked at is paired with the month (`at`) whose audit looks at it.
    let lf = if annual {
        // Annual reports: the latest year up to each month audited.
        let years = super::rd::rd_years(ctx)?;
        let mut at = Vec::new();
        let mut year = Vec::new();
        for m in ctx.from.0..=p {
            if let Some(y) = super::rd::audited_year(&years, m) {
                at.push(m);
                year.push(y);
            }
        }
        let pairs = DataFrame::new(
            at.len(),
            vec![
                Column::new("at".into(), at),
                Column::new("_year".into(), year),
            ],
        )
        .map_err(pe)?;
        lf.join(
            pairs.lazy(),
            [col("year")],
            [col("_year")],
            JoinArgs::new(JoinType::Inner),
        )
    } else {
        match cfg.scope {
            Scope::Period => lf
                .filter(ctx.audited(col("period")))
                .with_column(col("period").alias("at")),
            Scope::YearToDate => super::common::ytd_audits(ctx, lf)?,
        }
    };
    let df = lf.collect().map_err(pe)?;
    let fails = df.column("_fails").map_err(pe)?.bool().map_err(pe)?.clone();
    // Over several months, the counts of the last month's audit (every row it
    // looks at is there, paired with it).
    let (evaluated, not_evaluable) = match super::common::last_month_counts(ctx, &df, "_fails")? {
        Some(c) if ctx.from < ctx.period => c,
        _ => (
            (fails.len() - fails.null_count()) as u64,
            fails.null_count() as u64,
        ),
    };
    let mask = fails.fill_null_with_values(false).map_err(pe)?;
    let period = if annual {
        col("year").cast(DataType::String)
    } else {
        month_text(col("period"))
    };
    let failures = df
        .filter(&mask)
        .map_err(pe)?
        .lazy()
        .with_column(period.alias("period"))
        .drop(by_name(["_fails"], true, false))
        .collect()
        .map_err(pe)?;
    Ok(RuleOutput {
        failures,
        evaluated,
        not_evaluable,
        note: None,
        of_last_month: true,
    })
}
