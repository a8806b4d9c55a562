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
    let cli = bookstore::config::Cli::parse();
    match bookstore::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bookstore: {e}");
            ExitCode::FAILURE
        }
    }
}
