//! The tables of the data contract (docs/data-contract.md): their columns, types,
//! Chinese headings and keys. The loader, the generator and the docs all read this
//! one description.

use std::fmt;

/// One table of the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    /// 统计基本单位名录 — the enterprise register.
    Enterprises,
    /// 工业产销总值, monthly.
    Industrial,
    /// 增值税申报 from the tax authority, monthly.
    Tax,
    /// 研究开发活动情况, annual.
    Rd,
    /// 固定资产投资项目, monthly per project.
    Investment,
    /// 劳动工资, quarterly.
    Labor,
    /// 能源消费, monthly.
    Energy,
    /// 规上服务业, monthly.
    Services,
    /// Results of earlier queries.
    Verifications,
}

impl Table {
    /// Every table, in load order (the register first: the others are checked against it).
    pub const ALL: [Table; 9] = [
        Table::Enterprises,
        Table::Industrial,
        Table::Tax,
        Table::Rd,
        Table::Investment,
        Table::Labor,
        Table::Energy,
        Table::Services,
        Table::Verifications,
    ];

    /// The file stem of the table (`industrial` for `industrial.csv`).
    pub fn name(self) -> &'static str {
        match self {
            Table::Enterprises => "enterprises",
            Table::Industrial => "industrial",
            Table::Tax => "tax",
            Table::Rd => "rd",
            Table::Investment => "investment",
            Table::Labor => "labor",
            Table::Energy => "energy",
            Table::Services => "services",
            Table::Verifications => "verifications",
        }
    }

    /// The table's Chinese name.
    pub fn zh(self) -> &'static str {
        match self {
            Table::Enterprises => "统计基本单位名录",
            Table::Industrial => "工业产销总值",
            Table::Tax => "增值税申报",
            Table::Rd => "研究开发活动情况",
            Table::Investment => "固定资产投资项目",
            Table::Labor => "劳动工资",
            Table::Energy => "能源消费",
            Table::Services => "规上服务业",
            Table::Verifications => "核查结果",
        }
    }

    /// Whether an audit cannot run without the table.
    pub fn required(self) -> bool {
        matches!(self, Table::Enterprises | Table::Industrial | Table::Tax)
    }

    /// Looks a table up by its file stem.
    pub fn from_name(s: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == s)
    }

    /// The table's columns and key.
    pub fn spec(self) -> &'static TableSpec {
        match self {
            Table::Enterprises => &ENTERPRISES,
            Table::Industrial => &INDUSTRIAL,
            Table::Tax => &TAX,
            Table::Rd => &RD,
            Table::Investment => &INVESTMENT,
            Table::Labor => &LABOR,
            Table::Energy => &ENERGY,
            Table::Services => &SERVICES,
            Table::Verifications => &VERIFICATIONS,
        }
    }

    /// Whether rows carry a monthly `period` (all but the register and R&D).
    pub fn has_period(self) -> bool {
        !matches!(self, Table::Enterprises | Table::Rd)
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The type of a column, with the validation that comes with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// 统一社会信用代码: 18 characters with a GB 32100-2015 check character.
    Uscc,
    /// Free text, at most `max_chars` characters.
    Text {
        /// Longest accepted value; longer values are quarantined.
        max_chars: usize,
    },
    /// An identifier (project code): trimmed, upper-cased, at most 64 characters.
    Id,
    /// 行政区划代码: 6 digits, a real province prefix.
    County,
    /// GB/T 4754-2017 class: 4 digits, division 01–97.
    Industry,
    /// Whole number.
    Int,
    /// Decimal number (money in thousand yuan).
    Num,
    /// Month `YYYY-MM`.
    Month,
    /// Calendar year.
    Year,
    /// ISO-8601 date-time.
    Ts,
    /// `large` `medium` `small` `micro` (大型 中型 小型 微型).
    SizeClass,
    /// `confirmed_error` `explained` `no_issue` (核实有误 说明合理 无问题).
    Outcome,
}

impl Kind {
    /// What the contract calls the type, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Uscc => "a USCC (18 characters)",
            Kind::Text { .. } => "text",
            Kind::Id => "an identifier",
            Kind::County => "a 6-digit division code",
            Kind::Industry => "a 4-digit GB/T 4754-2017 code",
            Kind::Int => "a whole number",
            Kind::Num => "a number",
            Kind::Month => "a month YYYY-MM",
            Kind::Year => "a year",
            Kind::Ts => "a date-time (ISO 8601)",
            Kind::SizeClass => "large/medium/small/micro",
            Kind::Outcome => "confirmed_error/explained/no_issue",
        }
    }
}

/// One column of a contract table.
#[derive(Debug)]
pub struct ColumnSpec {
    /// Canonical (English) name.
    pub name: &'static str,
    /// Chinese headings accepted for the column (the first is the contract's).
    pub zh: &'static [&'static str],
    /// Type.
    pub kind: Kind,
    /// Whether the file must have the column.
    pub required: bool,
    /// Whether a row may leave it empty (keys may not).
    pub nullable: bool,
}

/// One contract table.
#[derive(Debug)]
pub struct TableSpec {
    /// Columns in contract order.
    pub columns: &'static [ColumnSpec],
    /// Key columns (unique per row).
    pub key: &'static [&'static str],
}

impl TableSpec {
    /// A column by canonical name.
    pub fn column(&self, name: &str) -> Option<&ColumnSpec> {
        self.columns.iter().find(|c| c.name == name)
    }
}

const fn key(name: &'static str, zh: &'static [&'static str], kind: Kind) -> ColumnSpec {
    ColumnSpec {
        name,
        zh,
        kind,
        required: true,
        nullable: false,
    }
}
const fn val(name: &'static str, zh: &'static [&'static str], kind: Kind) -> ColumnSpec {
    ColumnSpec {
        name,
        zh,
        kind,
        required: true,
        nullable: true,
    }
}
const fn opt(name: &'static str, zh: &'static [&'static str], kind: Kind) -> ColumnSpec {
    ColumnSpec {
        name,
        zh,
        kind,
        required: false,
        nullable: true,
    }
}

const USCC_ZH: &[&str] = &["统一社会信用代码", "社会信用代码", "信用代码"];
const PERIOD_ZH: &[&str] = &["报告期", "所属期", "期别"];

static ENTERPRISES: TableSpec = TableSpec {
    columns: &[
        key("uscc", USCC_ZH, Kind::Uscc),
        val(
            "name",
            &["单位详细名称", "单位名称", "企业名称"],
            Kind::Text { max_chars: 300 },
        ),
        key("county_code", &["行政区划代码", "区划代码"], Kind::County),
        key(
            "industry_code",
            &["行业代码", "国民经济行业代码"],
            Kind::Industry,
        ),
        key("entry_period", &["入库时间", "入库年月"], Kind::Month),
        opt("size_class", &["企业规模", "规模"], Kind::SizeClass),
    ],
    key: &["uscc"],
};

static INDUSTRIAL: TableSpec = TableSpec {
    columns: &[
        key("uscc", USCC_ZH, Kind::Uscc),
        key("period", PERIOD_ZH, Kind::Month),
        val(
            "gross_output",
            &["工业总产值(当月)", "工业总产值", "工业总产值当月"],
            Kind::Num,
        ),
        val(
            "sales_output",
            &["工业销售产值(当月)", "工业销售产值", "工业销售产值当月"],
            Kind::Num,
        ),
        val(
            "export_delivery",
            &["出口交货值(当月)", "出口交货值", "出口交货值当月"],
            Kind::Num,
        ),
        opt("submitted_at", &["上报时间", "报送时间"], Kind::Ts),
        opt("revisions", &["修改次数"], Kind::Int),
    ],
    key: &["uscc", "period"],
};

static TAX: TableSpec = TableSpec {
    columns: &[
        // The tax authority's own name for the code (the USCC since 2015).
        key(
            "uscc",
            &[
                "统一社会信用代码",
                "社会信用代码",
                "信用代码",
                "纳税人识别号",
                "纳税人识别码",
            ],
            Kind::Uscc,
        ),
        key("period", &["所属期", "报告期", "税款所属期"], Kind::Month),
        val("taxable_sales", &["应税销售额"], Kind::Num),
    ],
    key: &["uscc", "period"],
};

static RD: TableSpec = TableSpec {
    columns: &[
        key("uscc", USCC_ZH, Kind::Uscc),
        key("year", &["年份", "年度"], Kind::Year),
        val(
            "rd_staff",
            &["研究开发人员合计", "研发人员合计", "研究开发人员"],
            Kind::Int,
        ),
        val(
            "rd_expenditure",
            &["研究开发费用合计", "研发费用合计", "研究开发费用"],
            Kind::Num,
        ),
        val(
            "rd_super_deduction",
            &[
                "研究开发费用加计扣除减免税",
                "研发费用加计扣除减免税",
                "加计扣除减免税",
            ],
            Kind::Num,
        ),
    ],
    key: &["uscc", "year"],
};

static INVESTMENT: TableSpec = TableSpec {
    columns: &[
        key("project_id", &["项目代码", "项目编码"], Kind::Id),
        key(
            "uscc",
            &["项目法人统一社会信用代码", "统一社会信用代码"],
            Kind::Uscc,
        ),
        key(
            "county_code",
            &["项目所在地行政区划代码", "行政区划代码"],
            Kind::County,
        ),
        key("period", PERIOD_ZH, Kind::Month),
        val("planned_total", &["计划总投资"], Kind::Num),
        val(
            "ytd_completed",
            &["本年累计完成投资", "本年完成投资"],
            Kind::Num,
        ),
        opt("start_period", &["开工时间", "开工年月"], Kind::Month),
    ],
    key: &["project_id", "period"],
};

static LABOR: TableSpec = TableSpec {
    columns: &[
        key("uscc", USCC_ZH, Kind::Uscc),
        key("period", PERIOD_ZH, Kind::Month),
        val(
            "employees",
            &["从业人员期末人数", "期末从业人员"],
            Kind::Int,
        ),
        val("wage_total", &["工资总额"], Kind::Num),
    ],
    key: &["uscc", "period"],
};

static ENERGY: TableSpec = TableSpec {
    columns: &[
        key("uscc", USCC_ZH, Kind::Uscc),
        key("period", PERIOD_ZH, Kind::Month),
        val("energy_consumption", &["综合能源消费量"], Kind::Num),
        val("electricity", &["电力消费量"], Kind::Num),
    ],
    key: &["uscc", "period"],
};

static SERVICES: TableSpec = TableSpec {
    columns: &[
        key("uscc", USCC_ZH, Kind::Uscc),
        key("period", PERIOD_ZH, Kind::Month),
        val("revenue", &["营业收入", "营业收入(当月)"], Kind::Num),
        val(
            "employees",
            &["从业人员期末人数", "期末从业人员"],
            Kind::Int,
        ),
    ],
    key: &["uscc", "period"],
};

static VERIFICATIONS: TableSpec = TableSpec {
    columns: &[
        key("uscc", USCC_ZH, Kind::Uscc),
        key("period", &["核查期", "报告期", "所属期"], Kind::Month),
        key("outcome", &["核查结果", "核实结果"], Kind::Outcome),
        opt("verified_at", &["核查时间", "核实时间"], Kind::Ts),
    ],
    key: &["uscc", "period"],
};

/// Normal form of a column heading for matching: whitespace removed, half-width,
/// lower case, bracketed parts dropped (`工业总产值（当月）(千元)` → `工业总产值`).
pub fn heading_key(h: &str) -> String {
    let hw = super::text::half_width(super::text::trim(h));
    let mut out = String::with_capacity(hw.len());
    let mut depth = 0usize;
    for c in hw.chars() {
        match c {
            '(' | '[' | '【' => depth += 1,
            ')' | ']' | '】' => depth = depth.saturating_sub(1),
            c if depth > 0 => {
                let _ = c;
            }
            c if c.is_whitespace() || c == '\u{FEFF}' || c == '"' || c == '*' => {}
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// The canonical column a heading names, if any.
pub fn match_heading(spec: &'static TableSpec, heading: &str) -> Option<&'static ColumnSpec> {
    let k = heading_key(heading);
    if k.is_empty() {
        return None;
    }
    spec.columns
        .iter()
        .find(|c| heading_key(c.name) == k || c.zh.iter().any(|z| heading_key(z) == k))
}

/// Valid first two digits of a 行政区划代码 (the 34 provincial-level divisions).
pub const PROVINCES: [&str; 34] = [
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41",
    "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71",
    "81", "82",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_match_english_and_chinese() {
        let s = Table::Industrial.spec();
        assert_eq!(
            match_heading(s, "gross_output").unwrap().name,
            "gross_output"
        );
        assert_eq!(
            match_heading(s, " Gross_Output ").unwrap().name,
            "gross_output"
        );
        assert_eq!(
            match_heading(s, "工业总产值（当月）").unwrap().name,
            "gross_output"
        );
        assert_eq!(
            match_heading(s, "工业总产值 (当月)(千元)").unwrap().name,
            "gross_output"
        );
        assert_eq!(
            match_heading(s, "\u{FEFF}统一社会信用代码").unwrap().name,
            "uscc"
        );
        assert!(match_heading(s, "备注").is_none());
        assert!(match_heading(s, "").is_none());
    }

    #[test]
    fn every_table_has_its_key_columns() {
        for t in Table::ALL {
            let s = t.spec();
            for k in s.key {
                let c = s.column(k).unwrap_or_else(|| panic!("{t}: key {k}"));
                assert!(c.required && !c.nullable, "{t}.{k}");
            }
        }
    }
}
