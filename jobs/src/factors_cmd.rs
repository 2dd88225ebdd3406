//! `carbonstat factors check|list <dir>`.

use std::path::{Path, PathBuf};

use carbonstat::factors::FactorSet;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum FactorsCommand {
    /// Self-check a factor set: coverage, units, coefficient vs calorific value,
    /// CO2 factor vs NCV × carbon × oxidation × 44/12, duplicates, sources.
    Check {
        /// The factor set directory.
        dir: PathBuf,
    },
    /// Print a factor set's tables.
    List {
        /// The factor set directory.
        dir: PathBuf,
    },
    /// Write every table the SQL steps join (energy_catalog with tce and CO2
    /// per base unit, unit_catalog, the aliases, grid, heat and generation
    /// factors, …) as CSV: the factor set as other tools can use it.
    Export {
        dir: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Factor rows changed, added and removed from set A to set B; with
    /// --impact, how each region's indicators move when the config's inputs
    /// are computed with each set.
    Diff {
        a: PathBuf,
        b: PathBuf,
        /// Also compute the config's inputs with both sets.
        #[arg(long, requires = "config")]
        impact: bool,
        /// The pipeline config whose inputs --impact computes.
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = crate::OutputFormat::Text)]
        format: crate::OutputFormat,
    },
}

pub fn run(cmd: FactorsCommand) -> carbonstat::Result<()> {
    match cmd {
        FactorsCommand::Export { dir, out } => export(&dir, &out),
        FactorsCommand::Diff {
            a,
            b,
            impact,
            config,
            format,
        } => diff(
            &a,
            &b,
            impact.then_some(config).flatten().as_deref(),
            format,
        ),
        FactorsCommand::Check { dir } => {
            let set = FactorSet::load(&dir)?;
            let findings = set.check();
            if findings.is_empty() {
                println!(
                    "factor set {} ok: {} energies, {} units, {} grid factors, {} files, sha256 {}",
                    set.meta.id,
                    set.energy.len(),
                    set.units.len(),
                    set.grid_factors.len(),
                    set.files.len(),
                    set.hash
                );
                Ok(())
            } else {
                for f in &findings {
                    println!("{f}");
                }
                Err(carbonstat::Error::FactorSet {
                    dir: dir.display().to_string(),
                    message: format!("{} problems found", findings.len()),
                })
            }
        }
        FactorsCommand::List { dir } => {
            let set = FactorSet::load(&dir)?;
            println!(
                "{} — {}\nsha256 {}\n",
                set.meta.id, set.meta.title, set.hash
            );
            println!(
                "{:<18} {:<12} {:<11} {:<5} {:>12} {:>14}  aliases",
                "energy", "category", "tce method", "unit", "tce/unit", "tCO2/unit"
            );
            for e in &set.energy {
                let tce = set
                    .tce_per_base_unit(&e.energy_code)
                    .map_or_else(|| "(valuation)".to_string(), |v| format!("{v:.7}"));
                let co2 = set
                    .co2_per_base_unit(&e.energy_code)
                    .map_or_else(|| e.co2_method.to_string(), |v| format!("{v:.7}"));
                println!(
                    "{:<18} {:<12} {:<11} {:<5} {:>12} {:>14}  {}; {}",
                    e.energy_code,
                    e.category,
                    e.tce_method,
                    e.base_unit,
                    tce,
                    co2,
                    e.name_zh,
                    e.aliases
                );
            }
            println!(
                "\n{:<10} {:<12} {:>8}  aliases",
                "unit", "dimension", "to_base"
            );
            for u in &set.units {
                println!(
                    "{:<10} {:<12} {:>8}  {}",
                    u.unit, u.dimension, u.to_base, u.aliases
                );
            }
            println!(
                "\n{:<11} {:<10} {:>5} {:>12}  quality   source",
                "grid scope", "area", "year", "tCO2/MWh"
            );
            for g in &set.grid_factors {
                println!(
                    "{:<11} {:<10} {:>5} {:>12}  {:<9} {}",
                    g.scope, g.area_code, g.data_year, g.tco2_per_mwh, g.quality, g.source_id
                );
            }
            if !set.sector_combustion.is_empty() {
                println!(
                    "\n{:<18} {:<8} {:>9} {:>14}  quality   source",
                    "sector's own", "GB/T4754", "oxidation", "tCO2/unit"
                );
                for r in &set.sector_combustion {
                    let co2 = set
                        .sector_co2_per_base_unit(&r.energy_code)
                        .map_or_else(String::new, |(_, v)| format!("{v:.7}"));
                    println!(
                        "{:<18} {:<8} {:>9} {:>14}  {:<9} {}",
                        r.energy_code, r.sector_prefix, r.oxidation, co2, r.quality, r.source_id
                    );
                }
            }
            println!("\nheat factors (tCO2/GJ)");
            for h in &set.heat_factors {
                println!(
                    "  {} {} {} {}",
                    h.data_year, h.tco2_per_gj, h.quality, h.source_id
                );
            }
            println!("generation coal rate (kgce/kWh, equal-value electricity)");
            for g in &set.generation_rate {
                println!(
                    "  {} {} {} {}",
                    g.data_year, g.kgce_per_kwh, g.quality, g.source_id
                );
            }
            if !set.process_factors.is_empty() {
                println!(
                    "\n{:<16} {:<8} {:>10}  {:<11} {:<9} {:<28} aliases",
                    "product", "division", "tCO2/t", "composition", "quality", "source"
                );
                for p in &set.process_factors {
                    println!(
                        "{:<16} {:<8} {:>10}  {:<11} {:<9} {:<28} {}; {}",
                        p.product_code,
                        p.division,
                        p.tco2_per_t,
                        if p.composition { "CaO/MgO" } else { "" },
                        p.quality,
                        p.source_id,
                        p.name_zh,
                        p.aliases
                    );
                }
            }
            if !set.sink_factors.is_empty() {
                println!(
                    "\nsink defaults (growing stock): BEF × wood density × (1 + root-shoot) × carbon fraction × 44/12"
                );
                for f in &set.sink_factors {
                    println!(
                        "  {:<10} {} × {} × (1 + {}) × {} × 44/12 = {} tCO2/m3  {} {}",
                        f.ecosystem,
                        f.bef,
                        f.wood_density,
                        f.root_shoot_ratio,
                        f.carbon_fraction,
                        f.tco2_per_m3,
                        f.quality,
                        f.source_id
                    );
                }
            }
            if !set.sector_groups.is_empty() {
                println!("\nsector groups (GB/T 4754 divisions)");
                for g in &set.sector_groups {
                    println!(
                        "  {}-{} {:<13} {}",
                        g.division_from, g.division_to, g.sector_group, g.name_zh
                    );
                }
            }
            println!("\nsources");
            for s in &set.sources {
                println!("  {:<22} {}", s.source_id, s.citation);
            }
            Ok(())
        }
    }
}

fn diff(
    a: &Path,
    b: &Path,
    config: Option<&Path>,
    format: crate::OutputFormat,
) -> carbonstat::Result<()> {
    use carbonstat::factors::diff_dirs;
    use carbonstat::pipeline::impact;
    let d = diff_dirs(a, b)?;
    let impacts = match config {
        None => None,
        Some(c) => {
            let cfg = carbonstat::config::LoadedConfig::load(c)?;
            let rt = crate::runtime(None)?;
            // the sets are named on the command line: relative to the working directory
            let abs = |p: &Path| {
                std::path::absolute(p)
                    .unwrap_or_else(|_| p.to_path_buf())
                    .display()
                    .to_string()
            };
            let (sa, sb) = (abs(a), abs(b));
            Some(rt.block_on(impact(&cfg, &sa, &sb))?)
        }
    };
    if format == crate::OutputFormat::Json {
        let v = serde_json::json!({"diff": d, "impact": impacts});
        println!(
            "{}",
            serde_json::to_string_pretty(&v)
                .map_err(|e| carbonstat::Error::Internal(e.to_string()))?
        );
        return Ok(());
    }
    println!("factor set {} ({}) -> {} ({})", d.a_id, d.a, d.b_id, d.b);
    if d.is_empty() {
        println!("no factor row differs");
    }
    for t in &d.tables {
        println!(
            "\n{}: {} changed, {} added, {} removed",
            t.table,
            t.changed.len(),
            t.added.len(),
            t.removed.len()
        );
        for c in &t.changed {
            let fields: Vec<String> = c
                .fields
                .iter()
                .map(|(k, (o, n))| format!("{k} {o} -> {n}"))
                .collect();
            println!("  ~ {}: {}", c.key, fields.join(", "));
        }
        for r in &t.added {
            println!(
                "  + {}",
                r.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }
        for r in &t.removed {
            println!(
                "  - {}",
                r.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }
    }
    if let Some(impacts) = impacts {
        println!(
            "\nimpact on the config's regions ({} values move):",
            impacts.len()
        );
        println!(
            "  {:<10} {:<12} {:>4} {:<28} {:>18} {:>18} {:>9}",
            "region", "name", "year", "indicator", "a", "b", "change"
        );
        for i in &impacts {
            let name: String = i.region_name.chars().take(6).collect();
            println!(
                "  {:<10} {:<w$} {:>4} {:<28} {:>18} {:>18} {:>9}",
                i.region_code,
                name,
                i.year,
                i.indicator,
                i.a.map_or("NULL".into(), |x| format!("{x:.6}")),
                i.b.map_or("NULL".into(), |x| format!("{x:.6}")),
                i.change
                    .map_or("".into(), |x| format!("{:+.3}%", x * 100.0)),
                w = 12 - name.chars().filter(|c| !c.is_ascii()).count(),
            );
        }
    }
    Ok(())
}

fn export(dir: &Path, out: &Path) -> carbonstat::Result<()> {
    use carbonstat::datafusion::arrow::csv::Writer;
    let set = FactorSet::load_checked(dir)?;
    let ctx = carbonstat::datafusion::prelude::SessionContext::new();
    set.register(&ctx)?;
    std::fs::create_dir_all(out)
        .map_err(|e| carbonstat::Error::io(out.display().to_string(), e))?;
    let rt = crate::runtime(Some(1))?;
    // every table the set registers for the SQL steps
    let mut tables = ctx
        .catalog("datafusion")
        .and_then(|c| c.schema("public"))
        .map(|s| s.table_names())
        .unwrap_or_default();
    tables.sort();
    for table in tables {
        let batches = rt.block_on(async {
            ctx.sql(&format!("SELECT * FROM {table}"))
                .await?
                .collect()
                .await
        })?;
        let path = out.join(format!("{table}.csv"));
        let f = std::fs::File::create(&path)
            .map_err(|e| carbonstat::Error::io(path.display().to_string(), e))?;
        let mut w = Writer::new(f);
        for b in &batches {
            w.write(b)?;
        }
    }
    println!(
        "factor set {} ({}) exported to {}",
        set.meta.id,
        &set.hash[..12],
        out.display()
    );
    Ok(())
}
