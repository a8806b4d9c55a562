//! The `bookstore` binary: parses the command line and hands off to the library.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of glibc's malloc: the request path allocates and frees many small, short-lived
/// buffers across threads, where glibc's allocator cost a quarter of the service's CPU and grew one
/// arena per thread (measured in BENCHMARKS.md, "Profiles").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    #[cfg(target_os = "linux")]
    disable_transparent_huge_pages();
    let cli = bookstore::cli::args::Cli::parse();
    match bookstore::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The one place a command's failure is reported: the error and its sources (for a
            // DynamoDB call, the SDK's own error) on one line.
            eprintln!("bookstore: {}", bookstore::telemetry::ErrorChain(&e));
            ExitCode::FAILURE
        }
    }
}

/// Turns transparent huge pages off for this process, on hosts whose THP mode is `always`: there
/// the kernel backs each touched 2 MiB stretch of mimalloc's arenas with a whole huge page, about
/// 8 MiB more peak RSS at 64 connections for no CPU gain measurable here. (Where the mode is
/// `madvise`, mimalloc's `no_thp` feature, in Cargo.toml, already keeps it from asking for them;
/// this call comes after its first arena exists, so it alone would not be enough.) It fails only
/// on kernels older than 3.15, where it merely costs that memory.
#[cfg(target_os = "linux")]
#[allow(
    unsafe_code,
    reason = "prctl is only reachable through libc's FFI; see SAFETY below"
)]
fn disable_transparent_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and touches no memory of this process.
    let _ = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}
