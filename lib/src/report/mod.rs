//! The bulletin (公报): `bulletin/index.html` and one page per region, made
//! from the published datasets with the templates of `templates/` (or a
//! bureau's own directory, `report.template_dir`) and inline SVG charts.
//! Rendered with every run (staged and committed with the reports, listed in
//! the manifest) and again from any published run by `carbonstat report`. The
//! pages hold no time and no run id: the same reports give the same bytes.

pub(crate) mod charts;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::SessionContext;
use serde::Serialize;

use crate::audit::explain::{f64s, strings};
use crate::config::{Language, ReportOptions};
use crate::engine::queries;
use crate::error::{Error, Result};
use charts::{Series, bar_chart, line_chart};

/// The bulletin's directory under the output. A run's pages live in
/// `bulletin/<F>/` (F: 16 hex digits of its fingerprint) so a commit never
/// overwrites a file the published manifest names; `bulletin/index.html`
/// leads to the current run's pages and is written right after
/// `manifest.json`.
pub const BULLETIN_PREFIX: &str = "bulletin";

/// The stable entry page of the bulletin.
pub const BULLETIN_ENTRY: &str = "bulletin/index.html";

/// The entry page: a link (and an immediate refresh) to the run's pages.
pub fn entry_html(fingerprint16: &str) -> Vec<u8> {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"0; url={f}/index.html\"><title>carbonstat</title></head>\n<body><p><a href=\"{f}/index.html\">{f}/index.html</a></p></body></html>\n",
        f = fingerprint16
    )
    .into_bytes()
}

const DEFAULT_TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("index.html", include_str!("templates/index.html")),
    ("region.html", include_str!("templates/region.html")),
];
const STYLE: &str = include_str!("templates/style.css");

/// One file of the bulletin: its path below `bulletin/` and its bytes.
pub type BulletinFile = (String, Vec<u8>);

#[derive(Debug, Clone)]
struct RegionYear {
    code: String,
    name: String,
    level: String,
    parent: String,
    year: i32,
    v: Numbers,
}

/// The numeric columns of a region's year: the names once per batch (shared
/// by its rows), the values in their order. (A map per row cost 170 MB at
/// 23 904 region-years.)
#[derive(Debug, Clone)]
struct Numbers {
    names: std::sync::Arc<[String]>,
    values: Vec<Option<f64>>,
}

impl Numbers {
    fn get(&self, name: &str) -> Option<f64> {
        let i = self.names.iter().position(|n| n == name)?;
        self.values[i]
    }
}

#[derive(Debug, Clone, Serialize)]
struct TargetRow {
    region: String,
    year: i32,
    plan: String,
    indicator: String,
    base_year: i32,
    target_year: i32,
    target: Option<f64>,
    achieved: Option<f64>,
    required: Option<f64>,
    warning_level: Option<i32>,
    status: String,
    projected_achieved: Option<f64>,
}

fn f64_col(b: &RecordBatch, name: &str) -> Result<Vec<Option<f64>>> {
    f64s(b, b.schema().index_of(name)?)
}

fn i64_col(b: &RecordBatch, name: &str) -> Result<Vec<Option<i64>>> {
    Ok(f64_col(b, name)?
        .into_iter()
        .map(|v| v.map(|v| v as i64))
        .collect())
}

fn text_col(b: &RecordBatch, name: &str) -> Result<Vec<String>> {
    strings(b, b.schema().index_of(name)?)
}

/// The words of the pages in one language.
fn labels(lang: Language) -> BTreeMap<&'static str, &'static str> {
    let zh = lang == Language::Zh;
    let pick = |z: &'static str, e: &'static str| if zh { z } else { e };
    BTreeMap::from([
        ("lang", pick("zh-CN", "en")),
        (
            "title",
            pick("能源消费与碳排放统计公报", "Energy and carbon bulletin"),
        ),
        ("run", pick("本期数据", "This run")),
        ("factor_set", pick("因子集", "Factor set")),
        ("fingerprint", pick("运行指纹", "Run fingerprint")),
        ("inputs", pick("输入数据", "Inputs")),
        ("input", pick("数据", "input")),
        ("rows_read", pick("读入行数", "rows read")),
        ("rows_accepted", pick("接受", "accepted")),
        ("rows_rejected", pick("拒收", "rejected")),
        ("rejects", pick("拒收规则", "Rejects by rule")),
        ("rule", pick("规则", "rule")),
        ("regions", pick("地区", "Regions")),
        (
            "legend",
            pick(
                "色块：能耗强度 / 碳排放强度目标预警（红、黄、绿；空白：该年无此目标，或缺地区生产总值无法评价）",
                "Tiles: warning levels of the energy / CO2 intensity targets (red, yellow, green; blank: no such target that year, or no GDP to judge it by)",
            ),
        ),
        (
            "energy_intensity",
            pick("单位地区生产总值能耗", "Energy intensity"),
        ),
        (
            "co2_intensity",
            pick("单位地区生产总值二氧化碳排放", "CO2 intensity"),
        ),
        ("actual", pick("实际", "actual")),
        ("path", pick("目标路径", "plan's path")),
        ("mix", pick("能源消费结构", "Energy mix")),
        (
            "sectors",
            pick(
                "分部门二氧化碳排放（含工业过程，碳汇为负）",
                "CO2 by sector (process CO2 included, sinks negative)",
            ),
        ),
        (
            "sectors_note",
            pick(
                "电力、热力生产和供应业的外送电量按所在地区电网排放因子扣减（区域净调入法），故可为负；工业过程排放计入其产品所属行业；碳汇为负值。",
                "Electricity the power sector supplies is deducted at the region's grid factor (the net-import method), so it can be negative; process CO2 counts in the product's industry; sinks are negative.",
            ),
        ),
        ("targets", pick("目标完成情况", "Targets")),
        ("plan", pick("规划", "plan")),
        ("indicator", pick("指标", "indicator")),
        ("target", pick("目标", "target")),
        ("achieved", pick("完成", "achieved")),
        ("required", pick("进度要求", "required")),
        ("status", pick("预警 / 完成", "status")),
        ("projected", pick("按趋势预计", "projected")),
        ("children", pick("下级地区", "Regions below")),
        ("sources", pick("数据来源", "Where the numbers come from")),
        ("number", pick("数字", "number")),
        ("dataset", pick("数据集.字段", "dataset.column")),
        ("sql", pick("计算 SQL", "SQL")),
        ("explain", pick("查看计算过程", "how it was made")),
        ("back", pick("返回总览", "back to the overview")),
        ("tce", pick("吨标准煤", "tce")),
        ("tco2", pick("吨二氧化碳", "t CO2")),
        ("per_gdp", pick("每万元", "per 10^4 yuan")),
        ("no_data", pick("无数据", "no data")),
        ("year", pick("年份", "year")),
        (
            "groups",
            pick("重点管理对象（最新年份）", "Groups (latest year)"),
        ),
        (
            "groups_note",
            pick(
                "成员：有数据/在册；综合能耗按当量值计（地区能源消费总量按等价值计，已扣除调出电力的发电用煤，不宜与之直接比较）；单位能耗碳排放：能源活动二氧化碳/综合能耗（当量值），绿证绿电按零排放计（发改环资〔2025〕910号）；清洁能源消费占比按消费计。",
                "members: reporting/in force; energy at equivalent value (当量值; the regions' totals are at equal value, 等价值, with the coal of exported power taken out: not to be compared directly); t CO2/tce: energy CO2 per tce at equivalent value, certified green power at zero (发改环资〔2025〕910号); the clean share is of consumption.",
            ),
        ),
        ("group", pick("名称", "group")),
        ("kind", pick("类别", "kind")),
        ("members", pick("成员", "members")),
        (
            "energy_wan_tce",
            pick(
                "综合能耗（当量值，万吨标准煤）",
                "energy (10^4 tce, equivalent value)",
            ),
        ),
        (
            "co2_per_tce",
            pick("单位能耗碳排放（吨CO2/吨标准煤）", "t CO2 / tce"),
        ),
        (
            "clean_share",
            pick("清洁能源消费占比", "clean energy share"),
        ),
        ("green_share", pick("绿电占比", "green power share")),
        ("pass", pick("达标", "met")),
        ("fail", pick("未达标", "not met")),
    ])
}

/// A row of a region page's target table, in the page's language: the
/// indicator's name, shares and reductions in per cent, caps in 10^4 tce or
/// t CO2, the peak's years, and the status in words.
#[derive(Debug, Serialize)]
struct TargetCells {
    plan: String,
    indicator: String,
    target: String,
    achieved: String,
    required: String,
    warning_level: Option<i32>,
    status: String,
    projected: String,
}

impl TargetCells {
    fn of(t: &TargetRow, lang: Language) -> TargetCells {
        let zh = lang == Language::Zh;
        let pick = |z: &str, e: &str| if zh { z } else { e }.to_string();
        let indicator = match t.indicator.as_str() {
            "energy_intensity_reduction" => {
                pick("单位地区生产总值能耗降低", "energy intensity reduction")
            }
            "co2_intensity_reduction" => pick(
                "单位地区生产总值二氧化碳排放降低",
                "CO2 intensity reduction",
            ),
            "non_fossil_share_min" => pick(
                "非化石能源消费比重（不低于）",
                "non-fossil share (at least)",
            ),
            "coal_share_max" => pick("煤炭消费比重（不高于）", "coal share (at most)"),
            "energy_total_max" => pick(
                "能源消费总量（双控口径，不高于）",
                "energy consumption, controlled (at most)",
            ),
            "co2_total_max" => pick("二氧化碳排放总量（不高于）", "CO2 emissions (at most)"),
            "co2_peak_by" => pick("碳排放达峰（不晚于）", "CO2 peak (by)"),
            other => other.to_string(),
        };
        let value = |v: Option<f64>| -> String {
            let Some(v) = v else {
                return String::new();
            };
            match t.indicator.as_str() {
                "energy_total_max" => format!("{}{}", wan(v), pick("万吨标准煤", " 10^4 tce")),
                "co2_total_max" => format!("{}{}", wan(v), pick("万吨", " 10^4 t")),
                "co2_peak_by" => format!("{}{}", v.round(), pick("年", "")),
                // reductions and shares: fractions, shown in per cent
                // (a reduction below zero is a rise: the sign is kept)
                _ => format!("{:.2}%", v * 100.0),
            }
        };
        let status = match t.status.as_str() {
            "red" => pick("一级预警（红色）", "red"),
            "yellow" => pick("二级预警（黄色）", "yellow"),
            "green" => pick("三级（绿色）", "green"),
            "met" => pick("已完成", "met"),
            "not_met" => pick("未完成", "not met"),
            "peaked" => pick("已达峰", "peaked"),
            "not_yet" => pick("尚未达峰", "not yet"),
            "at_risk" => pick("达峰存在风险", "at risk"),
            "base_year" => pick("基期", "base year"),
            other => other.to_string(),
        };
        // a plan's base year: nothing achieved or required yet (0.00 % each)
        let base = t.status == "base_year";
        TargetCells {
            plan: t.plan.clone(),
            indicator,
            target: value(t.target),
            achieved: if base {
                String::new()
            } else {
                value(t.achieved)
            },
            required: if base {
                String::new()
            } else {
                value(t.required)
            },
            warning_level: t.warning_level,
            status,
            projected: value(t.projected_achieved),
        }
    }
}

fn pct(v: f64) -> String {
    format!("{:.2}", v.abs() * 100.0)
}

fn wan(v: f64) -> String {
    format!("{:.2}", v / 10_000.0)
}

/// The headline sentences of a region in its latest year, in the bureau's register.
fn headline(lang: Language, r: &RegionYear, base_year: Option<i32>) -> Vec<String> {
    let g = |k: &str| r.v.get(k);
    let zh = lang == Language::Zh;
    let mut out = Vec::new();
    let change = |v: f64| {
        if zh {
            if v <= 0.0 {
                format!("下降{}%", pct(v))
            } else {
                format!("上升{}%", pct(v))
            }
        } else if v <= 0.0 {
            format!("fell {} %", pct(v))
        } else {
            format!("rose {} %", pct(v))
        }
    };
    if let (Some(e), Some(c)) = (g("energy_tce"), g("co2_t")) {
        out.push(if zh {
            format!(
                "{}年，{}能源消费总量{}万吨标准煤（等价值），能源活动二氧化碳排放{}万吨。",
                r.year, r.name, wan(e), wan(c)
            )
        } else {
            format!(
                "In {}, {} consumed {} 10^4 tce of energy (equal value) and emitted {} 10^4 t of energy CO2.",
                r.year, r.name, wan(e), wan(c)
            )
        });
    }
    if let (Some(ey), Some(cy)) = (
        g("energy_intensity_controlled_change_yoy"),
        g("co2_intensity_change_yoy"),
    ) {
        out.push(if zh {
            format!(
                "单位地区生产总值能耗比上年{}，单位地区生产总值二氧化碳排放比上年{}。",
                change(ey),
                change(cy)
            )
        } else {
            format!(
                "Energy use per unit of GDP {} on the previous year, CO2 per unit of GDP {}.",
                change(ey),
                change(cy)
            )
        });
    }
    if let (Some(b), Some(eb), Some(cb)) = (
        base_year,
        g("energy_intensity_controlled_change_base"),
        g("co2_intensity_change_base"),
    ) && b < r.year
    {
        out.push(if zh {
            format!(
                "与{b}年相比，单位地区生产总值能耗{}，单位地区生产总值二氧化碳排放{}。",
                change(eb),
                change(cb)
            )
        } else {
            format!(
                "Against {b}, energy use per unit of GDP {} and CO2 per unit of GDP {}.",
                change(eb),
                change(cb)
            )
        });
    }
    if let (Some(nf), Some(coal)) = (g("non_fossil_share"), g("coal_share")) {
        out.push(if zh {
            format!(
                "非化石能源消费比重{}%，煤炭消费比重{}%。",
                pct(nf),
                pct(coal)
            )
        } else {
            format!(
                "Non-fossil energy was {} % of consumption, coal {} %.",
                pct(nf),
                pct(coal)
            )
        });
    }
    if let (Some(p), Some(s), Some(n)) = (g("co2_process_t"), g("sink_t"), g("co2_net_t"))
        && (p != 0.0 || s != 0.0)
    {
        out.push(if zh {
            format!("工业生产过程排放二氧化碳{}万吨，碳汇{}万吨，净排放{}万吨。", wan(p), wan(s), wan(n))
        } else {
            format!("Industrial processes emitted {} 10^4 t CO2, sinks removed {} 10^4 t: net {} 10^4 t.", wan(p), wan(s), wan(n))
        });
    }
    out
}

/// A region's sector in a year: (region, year, sector name, net CO2 in t).
type SectorRow = (String, i32, String, f64);

/// Everything the pages are made from, read with the bulletin queries from a
/// session that has the datasets (a run's views or a published run's files).
struct Data {
    regions: Vec<RegionYear>,
    targets: Vec<TargetRow>,
    sectors: Vec<SectorRow>,
    inputs: Vec<(String, i64, i64, i64)>,
    rejects: Vec<(String, String, i64)>,
    factor_set: String,
    groups: Vec<crate::pipeline::GroupSummaryRow>,
}

/// A group in its latest year, as the overview shows it (text already
/// formatted for the language).
#[derive(Debug, Serialize)]
struct GroupTile {
    id: String,
    name: String,
    kind: String,
    year: i32,
    members: String,
    energy: String,
    co2_per_tce: String,
    co2_limit: String,
    co2_check: String,
    clean_share: String,
    clean_min: String,
    clean_check: String,
    green_share: String,
}

fn group_tile(lang: Language, g: &crate::pipeline::GroupSummaryRow) -> GroupTile {
    let zh = lang == Language::Zh;
    let percent = |v: f64| format!("{:.1} %", v * 100.0);
    let share = |v: Option<f64>| v.map_or(String::new(), percent);
    GroupTile {
        id: g.group_id.clone(),
        name: g.group_name.clone(),
        kind: match (g.kind.as_str(), zh) {
            ("zero_carbon_park", true) => "零碳园区".into(),
            ("zero_carbon_park", false) => "zero-carbon park".into(),
            ("key_units", true) => "重点用能单位名录".into(),
            ("key_units", false) => "key energy-using units".into(),
            ("custom", true) => "自定义".into(),
            (other, _) => other.to_string(),
        },
        year: g.year,
        members: format!("{}/{}", g.members_reporting, g.members),
        energy: wan(g.energy_tce_equivalent),
        co2_per_tce: g.co2_per_tce.map_or(String::new(), |v| format!("{v:.3}")),
        co2_limit: g
            .co2_per_tce_limit
            .map_or(String::new(), |v| format!("≤ {v}")),
        co2_check: g.co2_per_tce_check.clone(),
        clean_share: share(g.clean_energy_share),
        clean_min: g
            .clean_energy_share_min
            .map_or(String::new(), |v| format!("≥ {}", percent(v))),
        clean_check: g.clean_energy_share_check.clone(),
        green_share: share(g.green_power_share),
    }
}

async fn load(ctx: &SessionContext) -> Result<Data> {
    let mut regions = Vec::new();
    for b in queries::BULLETIN_REGIONS.collect(ctx, &[]).await? {
        let (code, name, level, parent) = (
            text_col(&b, "region_code")?,
            text_col(&b, "region_name")?,
            text_col(&b, "level")?,
            text_col(&b, "parent_code")?,
        );
        let years = i64_col(&b, "year")?;
        let numeric: Vec<(String, Vec<Option<f64>>)> = b
            .schema()
            .fields()
            .iter()
            .filter(|f| f.data_type().is_numeric() && f.name() != "year")
            .map(|f| Ok((f.name().clone(), f64_col(&b, f.name())?)))
            .collect::<Result<_>>()?;
        let names: std::sync::Arc<[String]> = numeric.iter().map(|(n, _)| n.clone()).collect();
        for r in 0..b.num_rows() {
            regions.push(RegionYear {
                code: code[r].clone(),
                name: name[r].clone(),
                level: level[r].clone(),
                parent: parent[r].clone(),
                year: years[r].unwrap_or_default() as i32,
                v: Numbers {
                    names: names.clone(),
                    values: numeric.iter().map(|(_, v)| v[r]).collect(),
                },
            });
        }
    }
    let mut targets = Vec::new();
    for b in queries::BULLETIN_TARGETS.collect(ctx, &[]).await? {
        let (region, plan, indicator, status) = (
            text_col(&b, "region_code")?,
            text_col(&b, "plan")?,
            text_col(&b, "indicator")?,
            text_col(&b, "status")?,
        );
        let (year, by, ty, wl) = (
            i64_col(&b, "year")?,
            i64_col(&b, "base_year")?,
            i64_col(&b, "target_year")?,
            i64_col(&b, "warning_level")?,
        );
        let (target, achieved, required, projected) = (
            f64_col(&b, "target")?,
            f64_col(&b, "achieved")?,
            f64_col(&b, "required")?,
            f64_col(&b, "projected_achieved")?,
        );
        for r in 0..b.num_rows() {
            targets.push(TargetRow {
                region: region[r].clone(),
                year: year[r].unwrap_or_default() as i32,
                plan: plan[r].clone(),
                indicator: indicator[r].clone(),
                base_year: by[r].unwrap_or_default() as i32,
                target_year: ty[r].unwrap_or_default() as i32,
                target: target[r],
                achieved: achieved[r],
                required: required[r],
                warning_level: wl[r].map(|l| l as i32),
                status: status[r].clone(),
                projected_achieved: projected[r],
            });
        }
    }
    let mut sectors = Vec::new();
    for b in queries::BULLETIN_SECTORS.collect(ctx, &[]).await? {
        let (code, name) = (text_col(&b, "region_code")?, text_col(&b, "sector_name")?);
        let year = i64_col(&b, "year")?;
        let (co2, process, sink) = (
            f64_col(&b, "co2_t")?,
            f64_col(&b, "co2_process_t")?,
            f64_col(&b, "sink_t")?,
        );
        for r in 0..b.num_rows() {
            let v = co2[r].unwrap_or_default() + process[r].unwrap_or_default()
                - sink[r].unwrap_or_default();
            sectors.push((
                code[r].clone(),
                year[r].unwrap_or_default() as i32,
                name[r].clone(),
                v,
            ));
        }
    }
    let mut inputs = Vec::new();
    let mut factor_set = String::new();
    for b in queries::BULLETIN_META.collect(ctx, &[]).await? {
        let (input, fs) = (text_col(&b, "input")?, text_col(&b, "factor_set")?);
        let (read, acc, rej) = (
            i64_col(&b, "rows_read")?,
            i64_col(&b, "rows_accepted")?,
            i64_col(&b, "rows_rejected")?,
        );
        for r in 0..b.num_rows() {
            inputs.push((
                input[r].clone(),
                read[r].unwrap_or_default(),
                acc[r].unwrap_or_default(),
                rej[r].unwrap_or_default(),
            ));
            factor_set = fs[r].clone();
        }
    }
    let mut rejects = Vec::new();
    for b in queries::BULLETIN_REJECTS.collect(ctx, &[]).await? {
        let (input, rule) = (text_col(&b, "input")?, text_col(&b, "rule_id")?);
        let n = i64_col(&b, "rows_rejected")?;
        for r in 0..b.num_rows() {
            rejects.push((input[r].clone(), rule[r].clone(), n[r].unwrap_or_default()));
        }
    }
    let groups = crate::pipeline::readback::group_summary(ctx).await?;
    Ok(Data {
        regions,
        targets,
        sectors,
        inputs,
        rejects,
        factor_set,
        groups,
    })
}

/// Why `dir` cannot be a bureau's template directory, if it cannot: it is
/// not a directory, or it holds none of the templates' files (a typo in the
/// path would otherwise render the built-in pages without a word).
pub fn template_dir_problem(dir: &std::path::Path) -> Option<String> {
    let names: Vec<&str> = DEFAULT_TEMPLATES
        .iter()
        .map(|(n, _)| *n)
        .chain(["style.css"])
        .collect();
    if !dir.is_dir() {
        return Some(format!(
            "'{}' is not a directory; give the directory with the bureau's templates ({}), or leave it out for \
             the built-in ones",
            dir.display(),
            names.join(", ")
        ));
    }
    if !names.iter().any(|n| dir.join(n).is_file()) {
        return Some(format!(
            "'{}' holds none of the templates {}: a template replaces the built-in one of its name",
            dir.display(),
            names.join(", ")
        ));
    }
    None
}

fn environment(opts: &ReportOptions) -> Result<minijinja::Environment<'static>> {
    if let Some(problem) = opts.template_dir.as_deref().and_then(template_dir_problem) {
        return Err(Error::Usage(format!("template directory {problem}")));
    }
    let mut env = minijinja::Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    for (name, text) in DEFAULT_TEMPLATES {
        let text = match &opts.template_dir {
            Some(dir) if dir.join(name).is_file() => std::fs::read_to_string(dir.join(name))
                .map_err(|e| Error::io(dir.join(name).display().to_string(), e))?,
            _ => (*text).to_string(),
        };
        env.add_template_owned(name.to_string(), text)
            .map_err(|e| Error::Config {
                file: opts.template_dir.clone().unwrap_or_default().join(name),
                message: format!("template {name}: {e}"),
            })?;
    }
    Ok(env)
}

fn render_err(name: &str, e: minijinja::Error) -> Error {
    Error::Internal(format!("bulletin template {name}: {e:#}"))
}

/// The loaded rows by region, in their loaded order: a page looks up its own
/// rows instead of scanning every region's (which made the bulletin
/// quadratic in the number of regions: 4.7 s for 3 984 regions).
struct ByRegion<'a> {
    years: HashMap<&'a str, Vec<&'a RegionYear>>,
    targets: HashMap<&'a str, Vec<&'a TargetRow>>,
    /// (region, year) → its sector rows
    sectors: HashMap<(&'a str, i32), Vec<&'a SectorRow>>,
    /// (parent, year) → the regions below it in that year
    children: HashMap<(&'a str, i32), Vec<&'a RegionYear>>,
}

impl<'a> ByRegion<'a> {
    fn new(data: &'a Data) -> Self {
        let mut ix = ByRegion {
            years: HashMap::new(),
            targets: HashMap::new(),
            sectors: HashMap::new(),
            children: HashMap::new(),
        };
        for r in &data.regions {
            ix.years.entry(r.code.as_str()).or_default().push(r);
            ix.children
                .entry((r.parent.as_str(), r.year))
                .or_default()
                .push(r);
        }
        for t in &data.targets {
            ix.targets.entry(t.region.as_str()).or_default().push(t);
        }
        for s in &data.sectors {
            ix.sectors.entry((s.0.as_str(), s.1)).or_default().push(s);
        }
        ix
    }

    fn targets(&self, region: &str) -> &[&'a TargetRow] {
        self.targets.get(region).map_or(&[], Vec::as_slice)
    }

    /// The warning level of a region's energy or CO2 intensity target in a
    /// year: the worst (lowest) over its plans (base-year rows carry none).
    fn level(&self, region: &str, year: i32, indicator: &str) -> Option<i32> {
        self.targets(region)
            .iter()
            .filter(|t| t.year == year && t.indicator == indicator)
            .filter_map(|t| t.warning_level)
            .min()
    }
}

#[derive(Serialize)]
struct Tile {
    code: String,
    name: String,
    level: String,
    depth: usize,
    year: i32,
    energy_level: Option<i32>,
    co2_level: Option<i32>,
}

/// Render every page of the bulletin from a session holding the datasets.
pub async fn render(
    ctx: &SessionContext,
    fingerprint: &str,
    opts: &ReportOptions,
) -> Result<Vec<BulletinFile>> {
    let data = load(ctx).await?;
    let ix = ByRegion::new(&data);
    let env = environment(opts)?;
    let l = labels(opts.language);
    let mut files: Vec<BulletinFile> = Vec::new();
    let style = match &opts.template_dir {
        Some(dir) if dir.join("style.css").is_file() => std::fs::read(dir.join("style.css"))
            .map_err(|e| Error::io(dir.join("style.css").display().to_string(), e))?,
        _ => STYLE.as_bytes().to_vec(),
    };
    files.push(("style.css".into(), style));

    // the region tree, depth first from the top
    let latest: BTreeMap<&str, &RegionYear> =
        data.regions.iter().map(|r| (r.code.as_str(), r)).collect();
    let mut children: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in latest.values() {
        children
            .entry(r.parent.as_str())
            .or_default()
            .push(r.code.as_str());
    }
    let roots: Vec<&str> = latest
        .values()
        .filter(|r| r.parent.is_empty() || !latest.contains_key(r.parent.as_str()))
        .map(|r| r.code.as_str())
        .collect();
    let mut tiles = Vec::new();
    let mut stack: Vec<(&str, usize)> = roots.iter().rev().map(|c| (*c, 0)).collect();
    while let Some((code, depth)) = stack.pop() {
        let Some(r) = latest.get(code) else { continue };
        tiles.push(Tile {
            code: r.code.clone(),
            name: r.name.clone(),
            level: r.level.clone(),
            depth,
            year: r.year,
            energy_level: ix.level(code, r.year, "energy_intensity_reduction"),
            co2_level: ix.level(code, r.year, "co2_intensity_reduction"),
        });
        if depth < 16
            && let Some(kids) = children.get(code)
        {
            for k in kids.iter().rev() {
                if *k != code {
                    stack.push((k, depth + 1));
                }
            }
        }
    }
    let index = env
        .get_template("index.html")
        .and_then(|t| {
            t.render(minijinja::context! {
                l => &l,
                factor_set => &data.factor_set,
                fingerprint => fingerprint,
                inputs => &data.inputs,
                rejects => &data.rejects,
                tiles => &tiles,
                groups => &data.groups.iter().map(|g| group_tile(opts.language, g)).collect::<Vec<_>>(),
            })
        })
        .map_err(|e| render_err("index.html", e))?;
    files.push(("index.html".into(), index.into_bytes()));

    // a page per region, rendered on as many threads as the engine uses
    // (pages are independent; the sort below fixes their order)
    let threads = ctx.copied_config().target_partitions().max(1);
    let per_thread = tiles.len().div_ceil(threads).max(1);
    let pages: Vec<Result<Vec<BulletinFile>>> = std::thread::scope(|s| {
        let (env, l, ix) = (&env, &l, &ix);
        let workers: Vec<_> = tiles
            .chunks(per_thread)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|tile| {
                            let page = region_page(env, l, opts.language, ix, tile)?;
                            Ok((format!("regions/{}.html", tile.code), page.into_bytes()))
                        })
                        .collect()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join().unwrap_or_else(|_| {
                    Err(Error::Internal("rendering a region page panicked".into()))
                })
            })
            .collect()
    });
    for part in pages {
        files.extend(part?);
    }
    // the SQL the pages link to
    for s in crate::engine::steps::STEPS {
        files.push((format!("sql/{}", s.name), s.sql.as_bytes().to_vec()));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}

fn region_page(
    env: &minijinja::Environment<'static>,
    l: &BTreeMap<&'static str, &'static str>,
    lang: Language,
    ix: &ByRegion,
    tile: &Tile,
) -> Result<String> {
    let years: &[&RegionYear] = ix.years.get(tile.code.as_str()).map_or(&[], Vec::as_slice);
    let Some(cur) = years.last().copied() else {
        return Err(Error::Internal(format!("region {} has no rows", tile.code)));
    };
    let targets = ix.targets(&tile.code);
    let base_year = targets
        .iter()
        .filter(|t| t.indicator == "energy_intensity_reduction" && t.base_year < cur.year)
        .map(|t| t.base_year)
        .min();
    // intensity charts: the region's values and each plan's path I_B × (1 − required)
    let chart = |col: &str, indicator: &str, title: &str| {
        let actual: Vec<(i32, f64)> = years
            .iter()
            .filter_map(|r| r.v.get(col).map(|v| (r.year, v)))
            .collect();
        let mut series = vec![Series {
            name: l["actual"],
            colour: "#1f5fa8",
            dashed: false,
            points: actual.clone(),
        }];
        let mut plans: Vec<&str> = targets
            .iter()
            .filter(|t| t.indicator == indicator && t.status != "base_year")
            .map(|t| t.plan.as_str())
            .collect();
        plans.dedup();
        if let Some(plan) = plans.first() {
            let rows: Vec<&&TargetRow> = targets
                .iter()
                .filter(|t| t.indicator == indicator && t.plan == *plan)
                .collect();
            if let Some(first) = rows.first()
                && let Some(ib) = actual.iter().find(|p| p.0 == first.base_year).map(|p| p.1)
            {
                let mut pts = vec![(first.base_year, ib)];
                pts.extend(
                    rows.iter()
                        .filter_map(|t| t.required.map(|q| (t.year, ib * (1.0 - q)))),
                );
                // the target itself in the target year
                if let Some(tv) = first.target
                    && pts.last().is_some_and(|p| p.0 < first.target_year)
                {
                    pts.push((first.target_year, ib * (1.0 - tv)));
                }
                series.push(Series {
                    name: l["path"],
                    colour: "#c0392b",
                    dashed: true,
                    points: pts,
                });
            }
        }
        line_chart(
            title,
            &format!(
                "{} / {}",
                if col.starts_with("co2") {
                    l["tco2"]
                } else {
                    l["tce"]
                },
                l["per_gdp"]
            ),
            &series,
        )
    };
    let ei_chart = chart(
        "energy_intensity_controlled",
        "energy_intensity_reduction",
        l["energy_intensity"],
    );
    let ci_chart = chart(
        "co2_intensity",
        "co2_intensity_reduction",
        l["co2_intensity"],
    );
    let g = |k: &str| cur.v.get(k);
    let zh = lang == Language::Zh;
    let mix: Vec<(String, f64, &str)> = [
        (
            if zh { "煤炭" } else { "coal" },
            "coal_consumed_tce",
            "#5d4037",
        ),
        (if zh { "石油" } else { "oil" }, "oil_tce", "#8d6e63"),
        (
            if zh { "天然气" } else { "natural gas" },
            "gas_tce",
            "#f39c12",
        ),
        (
            if zh { "非化石能源" } else { "non-fossil" },
            "non_fossil_tce",
            "#27ae60",
        ),
    ]
    .iter()
    .filter_map(|(n, k, c)| g(k).map(|v| (n.to_string(), v, *c)))
    .collect();
    let mix_chart = bar_chart(&format!("{} {}", l["mix"], cur.year), l["tce"], &mix);
    // the bars sum to energy_mix_tce, the shares' base; energy_tce also
    // deducts the heat a region sends out (beyond the electricity it brings
    // in: 50_indicators.sql), so the two differ for a region that sends out
    // heat, and the page says why
    let mix_note = match (g("energy_mix_tce"), g("energy_tce")) {
        (Some(mix), Some(total)) if mix - total >= 1.0 => {
            if zh {
                format!(
                    "煤炭和非化石能源占比以各品种合计{}万吨标准煤为分母（煤炭替代法）；能源消费总量{}万吨标准煤另扣减了调出的热力（{}万吨标准煤）。",
                    wan(mix),
                    wan(total),
                    wan(mix - total)
                )
            } else {
                format!(
                    "The coal and non-fossil shares are of the energies' sum, {} 10^4 tce (coal substitution); total energy consumption, {} 10^4 tce, also deducts the heat sent out ({} 10^4 tce).",
                    wan(mix),
                    wan(total),
                    wan(mix - total)
                )
            }
        }
        _ => String::new(),
    };
    let sector_bars: Vec<(String, f64, &str)> = ix
        .sectors
        .get(&(tile.code.as_str(), cur.year))
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .filter(|s| s.3 != 0.0)
        .map(|s| {
            (
                s.2.clone(),
                s.3,
                if s.3 < 0.0 { "#27ae60" } else { "#7f8c8d" },
            )
        })
        .collect();
    let sector_chart = bar_chart(
        &format!("{} {}", l["sectors"], cur.year),
        l["tco2"],
        &sector_bars,
    );
    let table: Vec<TargetCells> = targets
        .iter()
        .filter(|t| t.year == cur.year)
        .map(|t| TargetCells::of(t, lang))
        .collect();
    let kids: Vec<Tile> = ix
        .children
        .get(&(tile.code.as_str(), cur.year))
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .map(|r| Tile {
            code: r.code.clone(),
            name: r.name.clone(),
            level: r.level.clone(),
            depth: 0,
            year: r.year,
            energy_level: ix.level(&r.code, r.year, "energy_intensity_reduction"),
            co2_level: ix.level(&r.code, r.year, "co2_intensity_reduction"),
        })
        .collect();
    let sources: Vec<[String; 3]> = [
        ("energy_tce", "50_indicators.sql"),
        ("co2_t", "50_indicators.sql"),
        ("energy_intensity_controlled_change_yoy", "50_indicators.sql"),
        ("co2_intensity_change_yoy", "50_indicators.sql"),
        ("non_fossil_share", "50_indicators.sql"),
        ("co2_process_t", "45_budget.sql"),
        ("sink_t", "45_budget.sql"),
        ("co2_net_t", "50_indicators.sql"),
    ]
    .iter()
    .map(|(col, sql)| {
        [
            format!("region_indicators.{col}"),
            (*sql).to_string(),
            format!(
                "carbonstat explain --manifest <output>/manifest.json --region {} --year {} --indicator {col}",
                tile.code, cur.year
            ),
        ]
    })
    .collect();
    let svg = |s: String| minijinja::Value::from_safe_string(s);
    env.get_template("region.html")
        .and_then(|t| {
            t.render(minijinja::context! {
                l => l,
                region => tile,
                headline => headline(lang, cur, base_year),
                ei_chart => svg(ei_chart),
                ci_chart => svg(ci_chart),
                mix_chart => svg(mix_chart),
                mix_note => mix_note,
                sector_chart => svg(sector_chart),
                targets => table,
                children => kids,
                sources => sources,
            })
        })
        .map_err(|e| render_err("region.html", e))
}

/// Register a published run's datasets (and its input counts from the
/// manifest) in a new session under the names the bulletin queries read.
pub async fn register_published(ctx: &SessionContext, p: &crate::audit::Published) -> Result<()> {
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::datasource::MemTable;
    use std::sync::Arc;
    // the datasets published for explain only are not read by the bulletin
    for d in crate::publish::DATASETS
        .iter()
        .filter(|d| !crate::publish::schema::EXPLAIN_DATASETS.contains(&d.name))
    {
        crate::audit::published::register(ctx, p, d, None).await?;
    }
    // input_counts as the manifest records them
    let recs = &p.manifest.inputs;
    let schema = Arc::new(Schema::new(vec![
        Field::new("input", DataType::Utf8, false),
        Field::new("source_file", DataType::Utf8, false),
        Field::new("rows_read", DataType::Int64, false),
        Field::new("rows_accepted", DataType::Int64, false),
        Field::new("rows_rejected", DataType::Int64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(
                recs.iter().map(|r| r.input.clone()).collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                recs.iter().map(|r| r.file.path.clone()).collect::<Vec<_>>(),
            )),
            Arc::new(Int64Array::from(
                recs.iter().map(|r| r.rows_read as i64).collect::<Vec<_>>(),
            )),
            Arc::new(Int64Array::from(
                recs.iter()
                    .map(|r| r.rows_accepted as i64)
                    .collect::<Vec<_>>(),
            )),
            Arc::new(Int64Array::from(
                recs.iter()
                    .map(|r| r.rows_rejected as i64)
                    .collect::<Vec<_>>(),
            )),
        ],
    )?;
    ctx.register_table(
        "input_counts",
        Arc::new(MemTable::try_new(schema, vec![vec![batch]])?),
    )?;
    Ok(())
}

/// Write the bulletin's files into a local directory (`carbonstat report --out`).
pub fn write_dir(dir: &Path, files: &[BulletinFile]) -> Result<()> {
    for (path, bytes) in files {
        let p = dir.join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::io(parent.display().to_string(), e))?;
        }
        std::fs::write(&p, bytes).map_err(|e| Error::io(p.display().to_string(), e))?;
    }
    Ok(())
}
