//! The `chitin` binary.

fn main() -> std::process::ExitCode {
    chitin::cli::main()
}
