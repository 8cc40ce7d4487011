//! The `outage-drill` binary; everything lives in the library.

fn main() -> std::process::ExitCode {
    outage_drill::cli::main()
}
