//! Handing freed heap memory back to the operating system between the
//! stages of a run.
//!
//! A stage's operators (an aggregation's hash table, a sort's buffers, the
//! Parquet encoders) free their memory when the stage ends, but glibc's
//! allocator keeps most of it: freed chunks inside its arenas stay resident
//! until the top of a heap is free. The next stage then starts from the
//! previous one's high-water mark instead of from what is live, and the
//! peaks stack up (at 10^7 rows: 356 MiB resident between the SQL steps
//! after the records' aggregation, 140 MiB once trimmed; docs/benchmarks.md,
//! session 10). `malloc_trim(0)` returns every free page of every arena; it
//! takes a few milliseconds, once per step and per dataset.

/// Give the allocator's free pages back to the operating system (glibc;
/// nothing elsewhere).
pub fn give_back_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it has
    // no preconditions and is thread-safe (it takes each arena's lock).
    unsafe {
        libc::malloc_trim(0);
    }
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
