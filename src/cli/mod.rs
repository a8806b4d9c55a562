//! The command line: [`args`] says what may be given (clap, with each value validated as it is
//! parsed) and `run` carries out the parsed subcommand.

pub mod args;
mod run;

pub use run::{CliError, run};
