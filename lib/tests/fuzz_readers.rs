//! Robustness of the input readers: mutated CSV (UTF-8 and GB18030), XLSX and
//! XLS files and random bytes must end in rows (and reject rows later) or a
//! file error — never a panic. A seeded, time-bounded mutation fuzzer
//! (bit flips, byte overwrites, truncations, insertions, splices); it prints
//! how many cases of each kind it ran and for how long.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use carbonstat::config::{InputOptions, SheetRef};
use carbonstat::input::{ENERGY, TextEncoding, read_local_file};

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..1 + rng.below(8) {
        if b.is_empty() {
            b.push(rng.next() as u8);
            continue;
        }
        let at = rng.below(b.len());
        match rng.below(6) {
            0 => b[at] ^= 1 << rng.below(8),
            1 => b[at] = rng.next() as u8,
            2 => b.truncate(at),
            3 => b.insert(at, rng.next() as u8),
            4 => {
                // duplicate a chunk somewhere else
                let len = rng.below(64).min(b.len() - at);
                let chunk = b[at..at + len].to_vec();
                let to = rng.below(b.len());
                b.splice(to..to, chunk);
            }
            _ => {
                let special = [b',', b'"', b'\n', b'\r', 0xff, 0x80, 0xe2, 0xa1, 0x00];
                b[at] = special[rng.below(special.len())];
            }
        }
    }
    b
}

fn samples() -> Vec<(&'static str, PathBuf, InputOptions)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let bureau = InputOptions {
        sheet: Some(SheetRef::Name("能源消费".into())),
        columns: [("实物消费量".to_string(), "quantity".to_string())].into(),
        ..InputOptions::default()
    };
    vec![
        (
            "csv-utf8",
            root.join("data-samples/data/energy/energy_2023-2025.csv"),
            InputOptions::default(),
        ),
        (
            "csv-gb18030",
            root.join("data-samples/bureau/能源消费_2020-2022.csv"),
            bureau.clone(),
        ),
        (
            "xlsx",
            root.join("data-samples/bureau/能源消费_2023-2025.xlsx"),
            bureau,
        ),
        (
            "xls",
            root.join("lib/tests/fixtures/energy.xls"),
            InputOptions::default(),
        ),
    ]
}

#[test]
fn the_samples_read() {
    for (kind, path, options) in samples() {
        let (file, batches) =
            read_local_file(ENERGY, &path, options).unwrap_or_else(|e| panic!("{kind}: {e}"));
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        assert!(rows >= 2, "{kind}: {rows} rows");
        if kind == "csv-gb18030" {
            assert_eq!(file.encoding, Some(TextEncoding::Gb18030));
        }
    }
}

#[test]
fn mutated_files_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let budget = Duration::from_secs(
        std::env::var("CARBONSTAT_FUZZ_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(24),
    );
    let mut rng = Rng(0x1506_2220_2500_0001);
    let kinds = samples();
    let per_kind = budget / (kinds.len() as u32 + 1);
    let mut report = Vec::new();
    for (kind, path, options) in &kinds {
        let seed = std::fs::read(path).unwrap();
        // keep the mutated files small enough for many cases (a CSV's first 60 lines)
        let seed = if kind.starts_with("csv") {
            let cut = seed
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .nth(60)
                .map_or(seed.len(), |(i, _)| i + 1);
            seed[..cut].to_vec()
        } else {
            seed
        };
        let ext = path.extension().unwrap().to_str().unwrap();
        let started = Instant::now();
        let (mut cases, mut ok, mut file_errors) = (0u32, 0u32, 0u32);
        while started.elapsed() < per_kind {
            let bytes = mutate(&mut rng, &seed);
            if std::env::var("FUZZ_TRACE").is_ok() {
                eprintln!("{kind} case {cases}");
            }
            let case = dir.path().join(format!("case.{ext}"));
            std::fs::write(&case, &bytes).unwrap();
            let opts = options.clone();
            let result = std::panic::catch_unwind(|| read_local_file(ENERGY, &case, opts));
            match result {
                Ok(Ok(_)) => ok += 1,
                Ok(Err(_)) => file_errors += 1,
                Err(_) => {
                    let keep = dir.path().join(format!("panic-{kind}-{cases}.{ext}"));
                    std::fs::write(&keep, &bytes).unwrap();
                    panic!(
                        "{kind}: case {cases} panicked; input kept at {}",
                        keep.display()
                    );
                }
            }
            cases += 1;
        }
        report.push(format!(
            "{kind}: {cases} cases in {:.1} s ({ok} read, {file_errors} file errors)",
            started.elapsed().as_secs_f64()
        ));
    }
    // random bytes under every extension
    let started = Instant::now();
    let mut cases = 0;
    while started.elapsed() < per_kind {
        let len = rng.below(4096);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        for ext in ["csv", "xlsx", "xls", "parquet"] {
            let case = dir.path().join(format!("random.{ext}"));
            std::fs::write(&case, &bytes).unwrap();
            let r = std::panic::catch_unwind(|| {
                read_local_file(ENERGY, &case, InputOptions::default())
            });
            assert!(r.is_ok(), "random bytes as .{ext} panicked");
            cases += 1;
        }
    }
    report.push(format!(
        "random bytes: {cases} cases in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    for line in &report {
        println!("fuzz {line}");
    }
}
