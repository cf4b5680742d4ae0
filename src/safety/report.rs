//! `chitin safety scan`'s engine: one verdict per text, as JSON, for stdin or a jsonl file of requests.

use std::io::{BufRead, Read, Write};

use serde::{Deserialize, Serialize};

use super::error::SafetyError;
use super::injection::{ContentSource, InjectionDetector};
use super::leak::{LeakFinding, LeakScanner, StoredSecret};

/// Source assumed for texts scanned from the command line: tool output, the commonest external content.
const CLI_SOURCE: ContentSource = ContentSource::ToolOutput;
/// Longest jsonl line `scan_jsonl` accepts; longer lines get an error object.
const MAX_LINE_BYTES: u64 = 16 << 20;

/// The verdict for one text, serialised exactly as outside evaluations expect.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanReport {
    pub injection: InjectionReport,
    pub leaks: Vec<LeakFinding>,
}

/// The injection half of a [`ScanReport`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InjectionReport {
    pub detected: bool,
    pub score: f32,
    pub severity: &'static str,
    pub action: &'static str,
}

/// Counts from one `scan_jsonl` run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Lines scanned and answered with a verdict.
    pub scanned: u64,
    /// Lines answered with an error object instead.
    pub errors: u64,
    pub injections: u64,
    pub leaks: u64,
}

/// Scans `text` with the default detectors plus `stored` secrets, judging injection as tool output.
pub fn scan_text(text: &str, stored: &[StoredSecret]) -> ScanReport {
    match default_scanners(stored) {
        Ok((leak, injection)) => scan_with(text, &leak, &injection, CLI_SOURCE),
        Err(error) => {
            // Unreachable with the built-in tables (a test builds them); report nothing rather than crash.
            tracing::error!(%error, "safety scanners unavailable");
            ScanReport {
                injection: InjectionReport { detected: false, score: 0.0, severity: "none", action: "allow" },
                leaks: Vec::new(),
            }
        }
    }
}

/// Scans `text` with the given detectors, judging injection for `source`.
pub fn scan_with(text: &str, leak: &LeakScanner, injection: &InjectionDetector, source: ContentSource) -> ScanReport {
    let verdict = injection.assess(text, source);
    ScanReport {
        injection: InjectionReport {
            detected: verdict.detected,
            score: (verdict.score * 10_000.0).round() / 10_000.0,
            severity: verdict.severity.as_str(),
            action: verdict.action.as_str(),
        },
        leaks: leak.scan(text),
    }
}

/// Reads all of `input` (at most `max_bytes`) as UTF-8 and scans it, for `chitin safety scan` on stdin.
pub fn scan_reader(input: impl Read, max_bytes: u64) -> Result<ScanReport, SafetyError> {
    let mut bytes = Vec::new();
    input.take(max_bytes.saturating_add(1)).read_to_end(&mut bytes).map_err(|source| SafetyError::Read { source })?;
    if bytes.len() as u64 > max_bytes {
        return Err(SafetyError::InputTooLarge { limit: max_bytes });
    }
    let text = String::from_utf8(bytes)
        .map_err(|error| SafetyError::InvalidUtf8 { offset: error.utf8_error().valid_up_to() })?;
    Ok(scan_text(&text, &[]))
}

/// One request line: `{"id", "text", "stored"?: [{"name", "value"}]}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScanRequest {
    id: RequestId,
    text: String,
    #[serde(default)]
    stored: Vec<StoredSecret>,
}

/// The caller's id, echoed back as given (string or number).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
enum RequestId {
    Text(String),
    Number(serde_json::Number),
}

#[derive(Serialize)]
struct ScanLine<'a> {
    id: &'a RequestId,
    #[serde(flatten)]
    report: ScanReport,
}

/// Answer for a line that could not be scanned; `id` is null when the line had none readable.
#[derive(Serialize)]
struct ErrorLine {
    id: Option<RequestId>,
    line: u64,
    error: String,
}

/// Scans every jsonl request in `input` and writes one JSON line per non-blank input line to `output`.
///
/// A bad line (not JSON, wrong fields, invalid UTF-8, longer than 16 MiB) does not stop the run: its output
/// line is `{"id": <id or null>, "line": N, "error": "..."}` and it is counted in [`ScanStats::errors`].
/// Only failing to read the input or write the output is an `Err`.
pub fn scan_jsonl(mut input: impl BufRead, mut output: impl Write) -> Result<ScanStats, SafetyError> {
    let (leak, injection) = default_scanners(&[])?;
    let mut stats = ScanStats::default();
    let mut line_number = 0u64;
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        let read = (&mut input)
            .take(MAX_LINE_BYTES + 1)
            .read_until(b'\n', &mut buffer)
            .map_err(|source| SafetyError::Read { source })?;
        if read == 0 {
            break;
        }
        line_number += 1;
        let answer = if buffer.len() as u64 > MAX_LINE_BYTES && buffer.last() != Some(&b'\n') {
            skip_rest_of_line(&mut input)?;
            Err(SafetyError::LineTooLarge { line: line_number, limit: MAX_LINE_BYTES })
        } else if buffer.iter().all(u8::is_ascii_whitespace) {
            continue;
        } else {
            scan_line(&buffer, line_number, &leak, &injection)
        };
        let serialized = match answer {
            Ok((id, report)) => {
                stats.scanned += 1;
                stats.injections += u64::from(report.injection.detected);
                stats.leaks += report.leaks.len() as u64;
                serde_json::to_string(&ScanLine { id: &id, report })
            }
            Err(error) => {
                stats.errors += 1;
                tracing::warn!(line = line_number, %error, "safety scan skipped a jsonl line");
                serde_json::to_string(&ErrorLine {
                    id: salvage_id(&buffer),
                    line: line_number,
                    error: error.to_string(),
                })
            }
        };
        let serialized = serialized.map_err(|source| SafetyError::Write { source: source.into() })?;
        writeln!(output, "{serialized}").map_err(|source| SafetyError::Write { source })?;
    }
    output.flush().map_err(|source| SafetyError::Write { source })?;
    Ok(stats)
}

fn scan_line(
    bytes: &[u8],
    line: u64,
    leak: &LeakScanner,
    injection: &InjectionDetector,
) -> Result<(RequestId, ScanReport), SafetyError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|error| SafetyError::LineInvalidUtf8 { line, offset: error.valid_up_to() })?;
    let request: ScanRequest = serde_json::from_str(text).map_err(|source| SafetyError::BadLine { line, source })?;
    let leak = if request.stored.is_empty() { leak.clone() } else { leak.with_stored(&request.stored)? };
    Ok((request.id, scan_with(&request.text, &leak, injection, CLI_SOURCE)))
}

/// The id of a line that failed for another reason, so the error can still be matched to its input.
fn salvage_id(bytes: &[u8]) -> Option<RequestId> {
    #[derive(Deserialize)]
    struct IdOnly {
        id: RequestId,
    }
    serde_json::from_slice::<IdOnly>(bytes).ok().map(|line| line.id)
}

fn skip_rest_of_line(input: &mut impl BufRead) -> Result<(), SafetyError> {
    loop {
        let available = input.fill_buf().map_err(|source| SafetyError::Read { source })?;
        if available.is_empty() {
            return Ok(());
        }
        match available.iter().position(|&byte| byte == b'\n') {
            Some(newline) => {
                input.consume(newline + 1);
                return Ok(());
            }
            None => {
                let length = available.len();
                input.consume(length);
            }
        }
    }
}

fn default_scanners(stored: &[StoredSecret]) -> Result<(LeakScanner, InjectionDetector), SafetyError> {
    let leak = LeakScanner::shared_default()?;
    let leak = if stored.is_empty() { leak } else { leak.with_stored(stored)? };
    Ok((leak, InjectionDetector::shared_default()?))
}
