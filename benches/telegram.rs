//! The Telegram channel of a real `chitin run` process against a fake Bot API on 127.0.0.1 (real HTTP long
//! polling), in three parts:
//!
//! 1. inbound: updates per second recorded durably (the polling offset moves past an update only once it is
//!    stored), with the model held so no turn competes for the CPU;
//! 2. end to end: replies per second, each message answered by the agent through a fake model that answers at
//!    once, outbound limits off;
//! 3. at the limits: Telegram's default limits (30/s overall, 1/s per chat, 20/min per group) with a fake that
//!    enforces them and answers 429 to any send over them; prints the rate reached and the 429s received.
//!
//! Run with `cargo bench --bench telegram`. Every part starts its own process with its own SQLite database.

use std::collections::HashMap;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[allow(dead_code)]
#[path = "../tests/support/fake_llm.rs"]
mod fake_llm;
#[allow(dead_code)]
#[path = "../tests/support/fake_openai.rs"]
mod fake_openai;
#[allow(dead_code)]
#[path = "../channels/tests/support/fake_telegram.rs"]
mod fake_telegram;

use fake_llm::{Answer, Reply};
use fake_telegram::{EnforcedLimits, FakeTelegram};

const BOT_TOKEN: &str = "777:bench";

fn load_average() -> String {
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    loadavg.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// A `chitin run --no-repl` with its own data dir, talking to the fake Bot API and the fake model.
struct Chitin {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Chitin {
    fn start(telegram: &FakeTelegram, llm_base_url: &str, users: u64, extra_env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let allowed: Vec<String> = (1..=users).map(|user| user.to_string()).collect();
        let child = Command::new(env!("CARGO_BIN_EXE_chitin"))
            .args(["run", "--no-repl"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", dir.path().join("home"))
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .env("CHITIN_GATEWAY__BIND", format!("127.0.0.1:{port}"))
            .env("CHITIN_CHANNELS__TELEGRAM__ENABLED", "true")
            .env("CHITIN_CHANNELS__TELEGRAM__BOT_TOKEN", BOT_TOKEN)
            .env("CHITIN_CHANNELS__TELEGRAM__API_URL", &telegram.url)
            .env("CHITIN_CHANNELS__TELEGRAM__ALLOWED_USERS", allowed.join(","))
            .env("CHITIN_LLM__BASE_URL", llm_base_url)
            .env("CHITIN_LLM__API_KEY", "sk-bench")
            .env("CHITIN_LLM__MODEL", "bench-model")
            .env("CHITIN_AGENT__QUEUE_CAPACITY", "1024")
            .env("CHITIN_LOG", "warn")
            .envs(extra_env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn chitin");
        Self { child, _dir: dir }
    }
}

impl Drop for Chitin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends one message and waits until Chitin has stored it: the process is up and polling. Returns the offset
/// the next update gets.
async fn warm_up(telegram: &FakeTelegram) -> i64 {
    telegram.push_text(1, 1, "warm-up");
    wait_for("the warm-up update stored", Duration::from_secs(60), || telegram.confirmed_offset() > 1).await;
    2
}

async fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    started.elapsed()
}

/// Inbound only: updates/s from `getUpdates` into the store, the model never answering.
async fn inbound(updates: usize, users: u64) {
    let telegram = FakeTelegram::start(BOT_TOKEN).await;
    let llm = fake_openai::start().await;
    llm.answer_all_with(Reply::Slow { delay: Duration::from_secs(3_600), then: Box::new(Reply::Status(503)) });
    let _chitin = Chitin::start(&telegram, &llm.base_url(), users, &[]);
    let first_update = warm_up(&telegram).await;
    let load = load_average();
    for n in 0..updates {
        let user = (n as u64 % users) + 1;
        telegram.push_text(user as i64, user, &format!("inbound message {n}"));
    }
    let last_update = first_update + updates as i64 - 1;
    let elapsed =
        wait_for("every update stored", Duration::from_secs(600), || telegram.confirmed_offset() > last_update).await;
    println!(
        "inbound: {updates} updates from {users} chats stored in {elapsed:.2?}: {:.0} updates/s  (load {load} -> {})",
        updates as f64 / elapsed.as_secs_f64(),
        load_average()
    );
}

/// Each message answered through the agent and the fake model; limits off, so the figure is Chitin's own.
async fn end_to_end(chats: u64, per_chat: usize) {
    let telegram = FakeTelegram::start(BOT_TOKEN).await;
    let llm = fake_openai::start().await;
    llm.answer_all_with(Reply::Answer(Answer::text("noted, thank you")));
    let limits_off = [
        ("CHITIN_CHANNELS__TELEGRAM__RATE_LIMITS__GLOBAL_PER_SECOND", "0"),
        ("CHITIN_CHANNELS__TELEGRAM__RATE_LIMITS__PER_CHAT_PER_SECOND", "0"),
        ("CHITIN_CHANNELS__TELEGRAM__RATE_LIMITS__PER_GROUP_PER_MINUTE", "0"),
    ];
    let _chitin = Chitin::start(&telegram, &llm.base_url(), chats, &limits_off);
    warm_up(&telegram).await;
    wait_for("the warm-up answered", Duration::from_secs(60), || !telegram.sent().is_empty()).await;
    let load = load_average();
    let total = chats as usize * per_chat;
    for round in 0..per_chat {
        for chat in 1..=chats {
            telegram.push_text(chat as i64, chat, &format!("message {round}"));
        }
    }
    let elapsed = wait_for("every reply", Duration::from_secs(600), || telegram.sent().len() > total).await;
    println!(
        "end to end: {total} messages in {chats} chats answered in {elapsed:.2?}: {:.0} replies/s  (load {load} -> {})",
        total as f64 / elapsed.as_secs_f64(),
        load_average()
    );
}

/// Default limits against a fake that enforces Telegram's: the rate reached, the 429s, the tightest spacing.
async fn at_the_limits(chats: u64, per_chat: usize, group_messages: usize) {
    let telegram = FakeTelegram::start(BOT_TOKEN).await;
    telegram.enforce_limits(EnforcedLimits::TELEGRAM);
    let llm = fake_openai::start().await;
    llm.answer_all_with(Reply::Answer(Answer::text("ok")));
    let _chitin = Chitin::start(&telegram, &llm.base_url(), chats, &[]);
    warm_up(&telegram).await;
    wait_for("the warm-up answered", Duration::from_secs(60), || !telegram.sent().is_empty()).await;
    // Past the per-chat spacing of the warm-up's reply.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let load = load_average();
    const GROUP: i64 = -500;
    for round in 0..per_chat {
        for chat in 1..=chats {
            telegram.push_text(chat as i64, chat, &format!("message {round}"));
        }
    }
    for n in 0..group_messages {
        telegram.push_text(GROUP, 1, &format!("@{} question {n}", fake_telegram::BOT_USERNAME));
    }
    let total = chats as usize * per_chat + group_messages;
    let elapsed = wait_for("every reply", Duration::from_secs(900), || telegram.sent().len() > total).await;

    let mut sent = telegram.sent();
    sent.remove(0); // the warm-up's reply
    let times: Vec<Instant> = sent.iter().map(|message| message.at.into_std()).collect();
    let busiest_second = times
        .iter()
        .enumerate()
        .map(|(i, start)| times[i..].iter().take_while(|at| at.duration_since(*start) < Duration::from_secs(1)).count())
        .max()
        .unwrap_or(0);
    let mut by_chat: HashMap<i64, Vec<Instant>> = HashMap::new();
    for message in &sent {
        by_chat.entry(message.chat_id).or_default().push(message.at.into_std());
    }
    let tightest = |chat_filter: &dyn Fn(i64) -> bool| {
        by_chat
            .iter()
            .filter(|(chat, _)| chat_filter(**chat))
            .flat_map(|(_, times)| times.windows(2).map(|pair| pair[1].duration_since(pair[0])))
            .min()
    };
    println!(
        "at the limits: {total} replies ({chats} chats x {per_chat}, {group_messages} in one group) in {elapsed:.2?}: \
         {:.1} replies/s, busiest second {busiest_second} sends, tightest spacing in a chat {:.2?}, in the group \
         {:.2?}, 429s received {}  (load {load} -> {})",
        total as f64 / elapsed.as_secs_f64(),
        tightest(&|chat| chat > 0).unwrap_or_default(),
        tightest(&|chat| chat < 0).unwrap_or_default(),
        telegram.rejected_with_429(),
        load_average()
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        inbound(10_000, 64).await;
        end_to_end(64, 16).await;
        at_the_limits(150, 2, 6).await;
    });
}
