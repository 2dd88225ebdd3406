//! `carbonstat factors check|list <dir>`.

use std::path::PathBuf;

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
}

pub fn run(cmd: FactorsCommand) -> carbonstat::Result<()> {
    match cmd {
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
                    .map_or_else(|| e.co2_method.clone(), |v| format!("{v:.7}"));
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
            println!("\nsources");
            for s in &set.sources {
                println!("  {:<22} {}", s.source_id, s.citation);
            }
            Ok(())
        }
    }
}
