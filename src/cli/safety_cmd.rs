//! `chitin safety scan`: the detectors on stdin or a JSONL file, with the fixed evaluation format.

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::Path;
use std::process::ExitCode;

use crate::safety::{scan_jsonl, scan_reader};

/// Largest stdin text scanned at once.
const MAX_STDIN_BYTES: u64 = 64 * 1024 * 1024;

pub fn scan(jsonl: Option<&Path>) -> ExitCode {
    match jsonl {
        None => match scan_reader(std::io::stdin().lock(), MAX_STDIN_BYTES) {
            Ok(report) => match serde_json::to_string(&report) {
                Ok(line) => {
                    println!("{line}");
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("error: cannot print the verdict: {error}");
                    ExitCode::FAILURE
                }
            },
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        },
        Some(path) => {
            let file = match File::open(path) {
                Ok(file) => file,
                Err(error) => {
                    eprintln!("error: cannot read {}: {error}", path.display());
                    return ExitCode::from(2);
                }
            };
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let result = scan_jsonl(BufReader::new(file), &mut out);
            let _ = out.flush();
            match result {
                // Bad lines were reported in place, one error object each; say how many, and fail.
                Ok(stats) if stats.errors > 0 => {
                    eprintln!(
                        "{} lines could not be scanned (see their \"error\" fields); {} were",
                        stats.errors, stats.scanned
                    );
                    ExitCode::FAILURE
                }
                Ok(_) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("error: {error}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
