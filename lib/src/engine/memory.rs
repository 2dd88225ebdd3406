//! The heap allocator's settings for a run.
//!
//! Freed memory is not handed back to the operating system between the
//! stages of a run (`malloc_trim` after every SQL step and dataset, session
//! 10 to 21). Once the large blocks had their own mappings (below), the
//! trims no longer lowered the peak: at 10^7 input rows it was 423-441 MiB
//! without them against 431-444 MiB with them, at 10^8 1080 against 1113
//! MiB, and each stage then faulted back in the ~90 MiB of free heap pages
//! the trim had given away (0.5 s of system time at 10^7;
//! docs/benchmarks.md, session 22).

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
