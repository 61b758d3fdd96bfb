//! The `stsscan` binary: parse arguments, run, map the outcome to an exit code.
//!
//! The global allocator is mimalloc: a scan allocates and frees small buffers on every DNS
//! answer, SMTP reply and TLS record from two runtime threads, and glibc's per-thread arenas
//! spent ≈ 8 % of the scanner's CPU in malloc/free plus an `mprotect` per connection growing
//! and trimming arena heaps (see docs/performance.md).

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    stsscan::cli::main()
}
