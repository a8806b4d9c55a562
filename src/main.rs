//! The `bookstore` binary: parses the command line and hands off to the library.

use std::process::ExitCode;

use clap::Parser;

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
