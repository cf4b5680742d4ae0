//! Turn overhead of the whole agent path: N conversations at once, each sending 200 requests through
//! `POST /v1/chat/completions` to a real `chitin run --no-repl` process whose model is a fake that answers at once.
//!
//! Run with `cargo bench --bench agent`. Prints p50/p95/p99 per-turn latency (HTTP in, store, session actor,
//! model call, reply filed, HTTP out), throughput, peak RSS, and the CPU time each process used per turn. Chitin runs
//! as its own process so its peak RSS (`VmHWM` of that process) and CPU time are Chitin's alone; the fake model and
//! the load-generating clients live in this one, on the same cores. CPU per turn is what the throughput at N = 256
//! is bought with, and Chitin's context switches per turn show how often its threads hand work to one another. The
//! fake keeps no request bodies. Set `CHITIN_BENCH_N=1,8` to run some sizes only; other `CHITIN_*` variables
//! are passed to Chitin, to compare settings.
//!
//! The workspace holds only the identity files, as on a new install, so no turn searches memory (see
//! `agent/recall.rs`). `CHITIN_BENCH_NOTES=50` first writes 50 short notes there (some share words with the
//! requests), so every turn also runs the memory search that recalls them.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[allow(dead_code)]
#[path = "../tests/support/fake_llm.rs"]
mod fake_llm;
#[allow(dead_code)]
#[path = "../tests/support/fake_openai.rs"]
mod fake_openai;

use fake_llm::{Answer, Reply};

const REQUESTS_PER_CONVERSATION: usize = 200;
const TOKEN: &str = "bench-token";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// A `kB` field of `/proc/{pid}/status` (`self` for this process), e.g. `VmHWM`; 0 when it cannot be read.
fn status_kib(pid: &str, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Peak resident set (`VmHWM`) of process `pid`, in KiB.
fn peak_rss_kib(pid: &str) -> u64 {
    status_kib(pid, "VmHWM")
}

/// Resident memory of process `pid` now, as (anonymous, file-backed) KiB: the file-backed part is mostly the
/// mapped binary, which the kernel maps in larger or smaller pieces from one machine to the next.
fn rss_split_kib(pid: &str) -> (u64, u64) {
    (status_kib(pid, "RssAnon"), status_kib(pid, "RssFile"))
}

/// CPU time (user + system) process `pid` has used so far. `/proc` counts it in USER_HZ ticks, which Linux
/// fixes at 100 a second for user space.
fn cpu_time(pid: &str) -> Duration {
    const TICKS_PER_SECOND: u64 = 100;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces: state is the first, utime the
    // 12th and stime the 13th.
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default();
    let ticks: u64 = after_name.split_whitespace().skip(11).take(2).filter_map(|field| field.parse::<u64>().ok()).sum();
    Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND)
}

/// Context switches (voluntary and not) of all of process `pid`'s current threads so far. Each one a turn causes is
/// a thread handing work to another, which costs far more CPU on a virtual machine than the work often does.
fn context_switches(pid: &str) -> u64 {
    let Ok(threads) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return 0 };
    threads
        .flatten()
        .filter_map(|thread| std::fs::read_to_string(thread.path().join("status")).ok())
        .map(|status| {
            status
                .lines()
                .filter(|line| {
                    line.starts_with("voluntary_ctxt_switches:") || line.starts_with("nonvoluntary_ctxt_switches:")
                })
                .filter_map(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>()
        })
        .sum()
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `chitin run --no-repl` with a private data dir, the fake model, and the gateway on `port`.
fn spawn_chitin(dir: &std::path::Path, port: u16, base_url: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_chitin"))
        .args(["run", "--no-repl"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir.join("home"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("CHITIN_GATEWAY__BIND", format!("127.0.0.1:{port}"))
        .env("CHITIN_GATEWAY__TOKEN", TOKEN)
        .env("CHITIN_LLM__BASE_URL", base_url)
        .env("CHITIN_LLM__API_KEY", "sk-bench")
        .env("CHITIN_LLM__MODEL", "bench-model")
        .env("CHITIN_AGENT__QUEUE_CAPACITY", "1024")
        .env("CHITIN_MEMORY__WORKSPACE_DIR", dir.join("workspace"))
        // Settings to try (e.g. CHITIN_MEMORY__PROMPT_TOKENS=0) pass through; the bench's own do not.
        .envs(std::env::vars().filter(|(name, _)| name.starts_with("CHITIN_") && !name.starts_with("CHITIN_BENCH")))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        // `CHITIN_BENCH_STDERR=1` shows Chitin's log (e.g. with `CHITIN_LOG=sqlx=debug` to see each turn's statements).
        .stderr(if std::env::var_os("CHITIN_BENCH_STDERR").is_some() { Stdio::inherit() } else { Stdio::null() })
        .spawn()
        .expect("spawn chitin")
}

async fn round(client: &reqwest::Client, url: &str, conversations: usize, chitin_pid: &str) {
    let load_before = load_average();
    let (chitin_cpu_before, bench_cpu_before) = (cpu_time(chitin_pid), cpu_time("self"));
    let switches_before = context_switches(chitin_pid);
    let started = Instant::now();
    let tasks: Vec<_> = (0..conversations)
        .map(|n| {
            let client = client.clone();
            let url = url.to_string();
            tokio::spawn(async move {
                let mut samples = Vec::with_capacity(REQUESTS_PER_CONVERSATION);
                for i in 0..REQUESTS_PER_CONVERSATION {
                    let body = serde_json::json!({
                        "model": "chitin",
                        "user": format!("bench-{conversations}-{n}"),
                        "messages": [{"role": "user", "content": format!("message {i}")}],
                    });
                    let sent = Instant::now();
                    let response = client.post(&url).bearer_auth(TOKEN).json(&body).send().await.expect("request");
                    assert!(response.status().is_success(), "status {}", response.status());
                    let _ = response.bytes().await.expect("body");
                    samples.push(sent.elapsed());
                }
                samples
            })
        })
        .collect();
    let mut samples = Vec::new();
    for task in tasks {
        samples.extend(task.await.expect("conversation"));
    }
    let elapsed = started.elapsed();
    let per_turn = |used: Duration| used.as_secs_f64() * 1e6 / samples.len() as f64;
    let chitin_cpu = per_turn(cpu_time(chitin_pid).saturating_sub(chitin_cpu_before));
    let bench_cpu = per_turn(cpu_time("self").saturating_sub(bench_cpu_before));
    let switches = context_switches(chitin_pid).saturating_sub(switches_before) as f64 / samples.len() as f64;
    let (anon_kib, file_kib) = rss_split_kib(chitin_pid);
    samples.sort();
    println!(
        "N={conversations:>3}: p50 {:>9.2?}  p95 {:>9.2?}  p99 {:>9.2?}  {:>6.0} turns/s  chitin peak RSS {} MiB \
         (now {} anon + {} file)  CPU/turn: chitin {chitin_cpu:.0} µs, bench {bench_cpu:.0} µs  \
         chitin context switches/turn {switches:.1}  (bench process {} MiB)  load {load_before} -> {}",
        percentile(&samples, 0.50),
        percentile(&samples, 0.95),
        percentile(&samples, 0.99),
        samples.len() as f64 / elapsed.as_secs_f64(),
        peak_rss_kib(chitin_pid) / 1024,
        anon_kib / 1024,
        file_kib / 1024,
        peak_rss_kib("self") / 1024,
        load_average(),
    );
}

/// Writes `count` short notes into the workspace Chitin will index; every third one mentions a message, as the
/// requests do, so full-text search finds some of them.
fn write_notes(workspace: &std::path::Path, count: usize) {
    if count == 0 {
        return;
    }
    let notes = workspace.join("notes");
    std::fs::create_dir_all(&notes).expect("notes folder");
    for n in 0..count {
        let topic = if n % 3 == 0 { "a message from the landlord" } else { "the garden and the boiler" };
        let text =
            format!("# Bench note {n}\n\nThis note {n} is about {topic}; benchnote {n} was written for the bench.\n");
        std::fs::write(notes.join(format!("note-{n}.md")), text).expect("note");
    }
}

/// Waits until the memory search over the gateway finds all `count` notes, i.e. the indexer has taken them in.
async fn wait_for_notes(client: &reqwest::Client, port: u16, count: usize) {
    let url = format!("http://127.0.0.1:{port}/api/memory/search?q=benchnote&limit=50");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = match client.get(&url).bearer_auth(TOKEN).send().await {
            Ok(response) => response.text().await.unwrap_or_default().matches("notes/note-").count(),
            Err(_) => 0,
        };
        if found >= count.min(50) {
            return;
        }
        assert!(Instant::now() < deadline, "chitin indexed {found} of {count} notes in 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn main() {
    let sizes: Vec<usize> = std::env::var("CHITIN_BENCH_N")
        .ok()
        .map(|list| list.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 8, 32, 256]);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let fake = fake_openai::start().await;
        fake.answer_all_with(Reply::Answer(Answer::text("ok")));
        let dir = tempfile::tempdir().expect("tempdir");
        let notes: usize = std::env::var("CHITIN_BENCH_NOTES").ok().and_then(|n| n.parse().ok()).unwrap_or(0);
        write_notes(&dir.path().join("workspace"), notes);
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let mut chitin = spawn_chitin(dir.path(), port, &fake.base_url());
        let pid = chitin.id().to_string();
        let client = reqwest::Client::builder().pool_max_idle_per_host(512).build().expect("client");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = client.get(format!("http://127.0.0.1:{port}/v1/models")).bearer_auth(TOKEN).send().await;
            if ready.is_ok_and(|response| response.status().is_success()) {
                break;
            }
            assert!(Instant::now() < deadline, "chitin did not start");
            assert!(chitin.try_wait().expect("wait").is_none(), "chitin exited at start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if notes > 0 {
            wait_for_notes(&client, port, notes).await;
        }
        println!("chitin pid {pid}, RSS after start {} MiB, {notes} notes", peak_rss_kib(&pid) / 1024);
        let url = format!("http://127.0.0.1:{port}/v1/chat/completions");
        for conversations in sizes {
            round(&client, &url, conversations, &pid).await;
        }
        // SIGTERM: Chitin drains its turns and closes the store.
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let _ = chitin.wait();
    });
}
