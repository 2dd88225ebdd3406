//! The header of an input file mapped to its contract columns — by the
//! contract name, by the standard Chinese headers of the enterprise energy
//! report (统一社会信用代码, 能源名称, 消费量 …) or by the config's `columns:` —
//! and the reporting period (报告期) split into year and month.

use std::collections::BTreeMap;

use crate::config::InputOptions;
use crate::engine::text::{half_width_digits, is_digits};
use crate::error::{Error, Result};
use crate::input::InputSpec;

/// A pseudo-column: a reporting period such as `2025年3月`, split into year and month.
pub(crate) const PERIOD: &str = "period";

pub(crate) fn file_error(spec: InputSpec, file: &str, message: String) -> Error {
    Error::InputFile {
        input: spec.name.to_string(),
        file: file.to_string(),
        message,
    }
}

/// The standard Chinese (and a few English) headers of each contract column.
pub(crate) fn builtin_aliases(spec: InputSpec, column: &str) -> &'static [&'static str] {
    match (spec.name, column) {
        (_, "enterprise_id") => &["统一社会信用代码", "社会信用代码", "信用代码", "uscc"],
        (_, "enterprise_name") => &["单位名称", "企业名称", "单位详细名称", "法人单位名称"],
        ("regions", "region_code") => &["区划代码", "行政区划代码", "地区代码", "代码"],
        (_, "region_code") => &["行政区划代码", "区划代码", "地区代码", "所在地区代码"],
        (_, "sector_code") => &["行业代码", "国民经济行业代码", "行业分类代码"],
        (_, "year") => &["年份", "年度", "年"],
        (_, "month") => &["月份", "月"],
        (_, PERIOD) => &["报告期", "统计期", "时期", "期别"],
        (_, "group_id") => &["园区代码", "分组代码", "组代码", "组别代码"],
        (_, "group_name") => &["园区名称", "分组名称", "组名称"],
        ("groups", "kind") => &["类型", "分组类型", "园区类型"],
        (_, "kind") => &["类型", "绿电类型", "交易类型"],
        (_, "from_year") => &["起始年份", "开始年份", "纳入年份"],
        (_, "to_year") => &["终止年份", "结束年份", "退出年份"],
        ("green_power", "quantity") => &["电量", "绿电量", "绿电电量", "数量"],
        (_, "product_code") => &["产品名称", "产品", "产品代码", "产品品种"],
        (_, "cao") => &["氧化钙含量", "熟料氧化钙含量", "cao含量"],
        (_, "mgo") => &["氧化镁含量", "熟料氧化镁含量", "mgo含量"],
        (_, "ecosystem") => &["生态系统", "生态系统类型", "碳汇类型"],
        (_, "method") => &["核算方法", "方法"],
        ("production", "quantity") => &["产量", "产品产量", "本年产量", "数量"],
        ("sinks", "quantity") => &["数量", "碳汇量", "蓄积量变化", "蓄积增量"],
        (_, "energy_code") => &["能源名称", "能源品种", "能源代码", "品种名称", "能源"],
        (_, "use") => &["用途", "用能方式", "能源用途"],
        (_, "flow") => &["流向", "消费或输出"],
        (_, "quantity") => &[
            "消费量",
            "实物量",
            "数量",
            "本期消费量",
            "本年消费量",
            "消费实物量",
        ],
        (_, "unit") => &["计量单位", "单位"],
        (_, "gdp") => &["地区生产总值", "生产总值", "gdp"],
        (_, "gdp_index") => &["地区生产总值指数", "生产总值指数", "gdp指数", "指数"],
        (_, "name") => &["名称", "区划名称", "地区名称"],
        (_, "parent_code") => &["上级代码", "上级区划代码", "上级"],
        (_, "level") => &["级别", "层级", "区划级别"],
        (_, "plan") => &["规划", "规划名称"],
        (_, "base_year") => &["基期", "基准年", "基期年份"],
        (_, "target_year") => &["目标年", "目标年份"],
        (_, "indicator") => &["指标", "指标名称"],
        (_, "value") => &["目标值", "数值"],
        _ => &[],
    }
}

/// A header cell as compared: lower case, no blanks, no BOM, without a
/// trailing unit in brackets (`消费量（吨）` is `消费量`).
pub(crate) fn normalize_header(h: &str) -> String {
    let mut s: String = h
        .trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_lowercase();
    for (open, close) in [('（', '）'), ('(', ')'), ('【', '】'), ('[', ']')] {
        if s.ends_with(close)
            && let Some(i) = s.rfind(open)
            && i > 0
        {
            s.truncate(i);
        }
    }
    s
}

/// Where each contract column is in the file.
#[derive(Debug, Clone)]
pub(crate) struct Mapping {
    /// per contract column (InputSpec::columns order): the file column
    pub columns: Vec<Option<usize>>,
    /// a period column to split into year and month
    pub period: Option<usize>,
    /// the header's columns outside the contract, as written: read past
    /// (the run warns of them once, when it checks the file)
    pub ignored: Vec<String>,
}

impl Mapping {
    /// Forget the file columns of the contract columns a query does not read
    /// (`projection`: indices of the raw schema, whose first columns are the
    /// contract's), and the period column when neither year nor month is read.
    pub(crate) fn narrow_to(&mut self, spec: InputSpec, projection: &[usize]) {
        let mut period_read = false;
        for (i, (column, name)) in self.columns.iter_mut().zip(spec.columns()).enumerate() {
            if projection.contains(&i) {
                period_read |= name == "year" || name == "month";
            } else {
                *column = None;
            }
        }
        if !period_read {
            self.period = None;
        }
    }
}

/// Map a file's header to the contract. `shown` names the file in messages.
pub(crate) fn map_header(
    spec: InputSpec,
    header: &[String],
    options: &InputOptions,
    shown: &str,
) -> Result<Mapping> {
    let norm: Vec<String> = header.iter().map(|h| normalize_header(h)).collect();
    let contract: Vec<&str> = spec.columns().collect();
    let mut configured: BTreeMap<String, String> = BTreeMap::new();
    for (from, to) in &options.columns {
        if !(contract.contains(&to.as_str()) || (to == PERIOD && contract.contains(&"year"))) {
            return Err(file_error(
                spec,
                shown,
                format!(
                    "columns: '{from}' is mapped to '{to}', which is not a column of the {} input ({})",
                    spec.name,
                    contract.join(", ")
                ),
            ));
        }
        configured.insert(normalize_header(from), to.clone());
    }
    let target_of = |i: usize| -> Option<String> {
        let h = &norm[i];
        if h.is_empty() {
            return None;
        }
        if let Some(t) = configured.get(h) {
            return Some(t.clone());
        }
        if contract.contains(&h.as_str()) || (h == PERIOD && contract.contains(&"year")) {
            return Some(h.clone());
        }
        contract
            .iter()
            .copied()
            .chain(contract.contains(&"month").then_some(PERIOD))
            .find(|c| {
                builtin_aliases(spec, c)
                    .iter()
                    .any(|a| normalize_header(a) == *h)
            })
            .map(str::to_string)
    };
    let mut found: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..norm.len() {
        if let Some(t) = target_of(i)
            && let Some(prev) = found.insert(t.clone(), i)
        {
            return Err(file_error(
                spec,
                shown,
                format!(
                    "columns '{}' and '{}' both read as {t}; map one of them elsewhere in the config (inputs.{}.columns)",
                    header[prev], header[i], spec.name
                ),
            ));
        }
    }
    let period = found.get(PERIOD).copied();
    let missing: Vec<&str> = spec
        .required
        .iter()
        .copied()
        .filter(|c| !(found.contains_key(*c) || (*c == "year" && period.is_some())))
        .collect();
    if !missing.is_empty() && norm.iter().all(|h| h.is_empty()) {
        // an empty file, or a first line without any name
        return Err(file_error(
            spec,
            shown,
            format!(
                "the file has no header line (it is empty, or its first line is blank): the {} input needs a \
                 header with {} and a row per record; remove the file from the config if there is nothing to read",
                spec.name,
                spec.required.join(", ")
            ),
        ));
    }
    if !missing.is_empty() {
        let unmapped: Vec<&String> = (0..header.len())
            .filter(|i| target_of(*i).is_none() && !norm[*i].is_empty())
            .map(|i| &header[i])
            .collect();
        let suggestion = missing
            .iter()
            .zip(unmapped.iter())
            .map(|(c, h)| format!("{h}: {c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let hint = if suggestion.is_empty() {
            String::new()
        } else {
            format!(
                "; if a column has another name, map it in the config, e.g. inputs.{}.columns: {{{suggestion}}}",
                spec.name
            )
        };
        return Err(file_error(
            spec,
            shown,
            format!(
                "required column(s) {} missing; the header has: {}. The {} input needs: {}{hint}",
                missing.join(", "),
                header
                    .iter()
                    .map(|h| h.trim())
                    .collect::<Vec<_>>()
                    .join(", "),
                spec.name,
                spec.required.join(", ")
            ),
        ));
    }
    let ignored: Vec<String> = (0..header.len())
        .filter(|i| target_of(*i).is_none() && !norm[*i].is_empty())
        .map(|i| header[i].trim().to_string())
        .collect();
    Ok(Mapping {
        columns: contract.iter().map(|c| found.get(*c).copied()).collect(),
        period,
        ignored,
    })
}

/// `2025年3月`, `2025-03`, `2025/3`, `2025.03`, `202503`, `2025年`, `2025年度`,
/// `2025` → (year, month); full-width digits (`２０２５年３月`) as ASCII ones.
pub(crate) fn parse_period(s: &str) -> Option<(i32, Option<u32>)> {
    let folded = half_width_digits(s.trim());
    let (year, m) = period_parts(&folded)?;
    let month = match m {
        None => None,
        Some(m) if is_digits(m) && m.len() <= 2 => {
            Some(m.parse::<u32>().ok().filter(|m| (1..=12).contains(m))?)
        }
        Some(_) => return None,
    };
    Some((year, month))
}

/// A period's year (four digits) and the text where its month is, if the
/// cell (trimmed, full-width digits as ASCII) has the shape of one of the
/// forms `parse_period` reads.
fn period_parts(t: &str) -> Option<(i32, Option<&str>)> {
    let t = t.trim_end_matches('份');
    let (y, m) = if let Some(rest) = t.strip_suffix('月') {
        let (y, m) = rest.split_once('年')?;
        (y, Some(m))
    } else if let Some(y) = t.strip_suffix("年度").or_else(|| t.strip_suffix('年')) {
        (y, None)
    } else if let Some((y, m)) = t.split_once(['-', '/', '.']) {
        (y, Some(m))
    } else if t.len() == 6 && is_digits(t) {
        (&t[..4], Some(&t[4..]))
    } else {
        (t, None)
    };
    if !(is_digits(y) && y.len() == 4) {
        return None;
    }
    Some((y.parse().ok()?, m))
}

/// For a period cell `parse_period` cannot read but whose year it can, what
/// is wrong with its month: `2023年13月` is year 2023 and month 13, and the
/// rejects say the month is at fault, not the year (the year column holds
/// the cell's text). None when the year is not readable either.
pub(crate) fn period_month_problem(s: &str) -> Option<String> {
    if parse_period(s).is_some() {
        return None;
    }
    let folded = half_width_digits(s.trim());
    let (year, month) = period_parts(&folded)?;
    let month = month?;
    Some(format!(
        "read as a period, its year is {year} and its month '{month}' is not 1-12: correct the month"
    ))
}

/// What a period cell gives the year and month columns (when the file has a
/// period column instead of them): the year, or the cell's own text when it
/// is not a period (the year rule then rejects it); and the month, if any.
pub(crate) fn split_period(raw: &str) -> (std::result::Result<i32, &str>, Option<u32>) {
    match parse_period(raw) {
        Some((year, month)) => (Ok(year), month),
        None => (Err(raw), None),
    }
}
