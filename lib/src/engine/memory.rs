//! The heap allocator's settings for a run, and handing freed heap memory
//! back to the operating system between its stages when the process holds
//! much of it.
//!
//! A stage's operators (an aggregation's hash table, a sort's buffers, the
//! Parquet encoders) free their memory when the stage ends, but glibc's
//! allocator keeps the small blocks' pages: the next stage starts from the
//! previous one's high-water mark instead of from what is live.
//! `malloc_trim(0)` returns every free page of every arena, and the next
//! stage faults back in those it uses. Both cost: at 10^7 input rows the
//! trims after each of the 28 steps and datasets took 0.5 s of system time
//! (~90 MiB given back and faulted in again each time) without lowering the
//! peak (423-447 MiB without them, 413-444 with), while at 10^9 the peak
//! was 1734 MiB without them and 1621 MiB with them (docs/benchmarks.md,
//! session 22). So the trim is made only when the process holds more than
//! half of `engine.memory_limit` (768 MiB without one): never in a run
//! that stays small, after the large stages of a large one. At 10^9 the
//! peaks of single runs vary by ~170 MiB (1699 and 1865 MiB with the same
//! trims), more than the variants differed by.

use datafusion::execution::memory_pool::MemoryLimit;
use datafusion::prelude::SessionContext;

/// Resident memory above which freed memory is given back when the
/// session's pool has no limit: half of the 1536MiB the samples use.
const TRIM_ABOVE_WITHOUT_LIMIT: u64 = 768 << 20;

/// The resident memory above which a stage's end gives freed memory back:
/// half the pool's limit.
fn trim_threshold(limit: MemoryLimit) -> u64 {
    match limit {
        MemoryLimit::Finite(bytes) => bytes as u64 / 2,
        MemoryLimit::Infinite | MemoryLimit::Unknown => TRIM_ABOVE_WITHOUT_LIMIT,
    }
}

/// After a stage: give the allocator's free pages back to the operating
/// system if the process holds more than half the session's memory limit
/// ([`trim_threshold`]).
pub(crate) fn give_back_if_large(ctx: &SessionContext) {
    give_back_free_memory_above(trim_threshold(ctx.runtime_env().memory_pool.memory_limit()));
}

/// Give the allocator's free pages back when the resident memory is over
/// `above` bytes (glibc on Linux; nothing elsewhere). Returns whether it
/// did.
fn give_back_free_memory_above(above: u64) -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if let Some(resident) = resident_bytes()
        && resident > above
    {
        // SAFETY: malloc_trim only walks the allocator's own free lists; it
        // has no preconditions and is thread-safe (it takes each arena's
        // lock).
        unsafe {
            libc::malloc_trim(0);
        }
        tracing::debug!(
            resident_mib = resident >> 20,
            after_mib = resident_bytes().unwrap_or(0) >> 20,
            "freed memory given back"
        );
        return true;
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = above;
    false
}

/// The process's resident memory in bytes (`/proc/self/statm`), if known.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf only reads a constant of the system.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(page).ok().map(|p| pages * p)
}

/// Set glibc's allocator for a run's pattern of allocations; call it first
/// thing, before any other thread exists.
///
/// * One heap arena per core instead of eight per core. Each thread that
///   allocates gets an arena of its own while there are fewer than the
///   maximum, and freed memory stays in the arena it came from: the
///   engine's worker threads, the Parquet encoder threads and the blocking
///   pool left a dozen half-empty arenas resident. With one per core the
///   peak at 10^7 rows was 618-655 MiB against 676-742 MiB, in the same
///   time (three alternating runs each).
/// * Blocks of 1 MiB and more (an operator's arrays, a Parquet page buffer)
///   each in their own mapping, returned to the system when freed. glibc
///   otherwise raises that threshold up to 32 MiB as large blocks are
///   freed, and the next large blocks come from the heap, where the space
///   they leave is reused only in part: peak 483-493 MiB against
///   528-573 MiB at 10^7 rows, in the same time (three alternating runs).
///
/// docs/benchmarks.md, session 10.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let arenas = libc::c_int::try_from(cores).unwrap_or(libc::c_int::MAX);
        // SAFETY: mallopt only sets parameters of the allocator; it is
        // called before any other thread allocates. A refusal (0) leaves
        // glibc's default, which is correct, only larger.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
            libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_is_half_the_limit_or_768_mib_without_one() {
        // 1536MiB = 1,610,612,736 bytes; half is 805,306,368 = 768 MiB
        assert_eq!(
            trim_threshold(MemoryLimit::Finite(1_610_612_736)),
            805_306_368
        );
        // 150MiB = 157,286,400 bytes; half is 78,643,200
        assert_eq!(trim_threshold(MemoryLimit::Finite(157_286_400)), 78_643_200);
        assert_eq!(trim_threshold(MemoryLimit::Infinite), 768 * 1024 * 1024);
        assert_eq!(trim_threshold(MemoryLimit::Unknown), 768 * 1024 * 1024);
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn memory_is_given_back_only_above_the_threshold() {
        // a test process holds some MiB resident: more than 0 bytes, less
        // than the whole address space
        let resident = resident_bytes().expect("/proc/self/statm is readable");
        assert!(resident > 1 << 20, "resident {resident}");
        assert!(!give_back_free_memory_above(u64::MAX));
        assert!(give_back_free_memory_above(0));
    }
}
