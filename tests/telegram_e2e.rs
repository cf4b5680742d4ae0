//! Telegram end to end through the real binary: 200 messages from 8 users, the process SIGKILLed a third of the
//! way through and started again, every message answered; a slow answer streamed into a draft.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::support::fake_llm::{Answer, Reply};
use crate::support::fake_openai;
use crate::support::fake_telegram::FakeTelegram;
use crate::support::process::Sandbox;

const USERS: u64 = 8;
const MESSAGES: usize = 200;
const BOT_TOKEN: &str = "424242:e2e-test-token";

fn sandbox(telegram: &FakeTelegram, llm_base_url: &str) -> Sandbox {
    let allowed: Vec<String> = (1..=USERS).map(|user| user.to_string()).collect();
    Sandbox::new()
        .env("CHITIN_CHANNELS__TELEGRAM__ENABLED", "true")
        .env("CHITIN_CHANNELS__TELEGRAM__BOT_TOKEN", BOT_TOKEN)
        .env("CHITIN_CHANNELS__TELEGRAM__API_URL", &telegram.url)
        .env("CHITIN_CHANNELS__TELEGRAM__ALLOWED_USERS", &allowed.join(","))
        .env("CHITIN_LLM__BASE_URL", llm_base_url)
        .env("CHITIN_LLM__API_KEY", "sk-e2e")
        .env("CHITIN_LLM__MODEL", "e2e-model")
        .env("CHITIN_LLM__MAX_RETRIES", "0")
        // The test reads the process's stderr only at the end; a pipe full of info lines would stall it.
        .env("CHITIN_LOG", "warn")
}

/// How many replies each inbound message id got (replies thread to the message they answer).
fn replies_per_message(telegram: &FakeTelegram) -> HashMap<i64, usize> {
    let mut counts = HashMap::new();
    for sent in telegram.sent() {
        if let Some(reply_to) = sent.reply_to {
            *counts.entry(reply_to).or_default() += 1;
        }
    }
    counts
}

async fn wait_until(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_messages_survive_a_sigkill_and_are_each_answered() {
    let telegram = FakeTelegram::start(BOT_TOKEN).await;
    let llm = fake_openai::start().await;
    // Enough answers for every message plus turns redone after the kill.
    for n in 0..(MESSAGES * 2) {
        llm.push(Reply::Answer(Answer::text(&format!("answer {n}"))));
    }
    let sandbox = sandbox(&telegram, &llm.base_url());

    let mut inbound_ids = Vec::with_capacity(MESSAGES);
    for n in 0..MESSAGES {
        let user = (n as u64 % USERS) + 1;
        inbound_ids.push(telegram.push_text(user as i64, user, &format!("message {n} from user {user}")));
    }

    let mut first = tokio::task::block_in_place(|| sandbox.start(&[]));
    wait_until("a third of the replies", Duration::from_secs(120), || telegram.sent().len() >= MESSAGES / 3).await;
    first.signal(Signal::SIGKILL);
    assert!(first.wait_exit(Duration::from_secs(10)).is_some(), "SIGKILL ends the process");
    let answered_before_kill = replies_per_message(&telegram).len();

    let second = tokio::task::block_in_place(|| sandbox.start(&[]));
    wait_until("every message answered", Duration::from_secs(180), || {
        let replies = replies_per_message(&telegram);
        inbound_ids.iter().all(|id| replies.contains_key(id))
    })
    .await;
    // Let anything still queued go out before counting duplicates.
    tokio::time::sleep(Duration::from_secs(2)).await;
    drop(second);

    let replies = replies_per_message(&telegram);
    let unknown: Vec<&i64> = replies.keys().filter(|id| !inbound_ids.contains(id)).collect();
    assert!(unknown.is_empty(), "replies to messages nobody sent: {unknown:?}");
    let repeated: Vec<(i64, usize)> =
        replies.iter().filter(|(_, count)| **count > 1).map(|(id, count)| (*id, *count)).collect();
    // Telegram has no idempotency key: a reply the platform accepted in the instant before the kill, but that
    // Chitin had not yet marked delivered, is sent again. Only such a reply (at most one per chat) may repeat.
    assert!(
        repeated.len() <= USERS as usize && repeated.iter().all(|(_, count)| *count == 2),
        "replies repeated beyond the one in flight per chat at the kill: {repeated:?}"
    );
    assert!(answered_before_kill < MESSAGES, "the kill happened before the work was done");
    eprintln!(
        "telegram e2e: {MESSAGES} messages, {answered_before_kill} answered before SIGKILL, {} repeated after it",
        repeated.len()
    );
}

/// A slow model's answer appears as a draft that grows and is then replaced by the reply: one message in all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowly_streamed_answer_grows_in_a_draft_that_the_reply_takes_over() {
    let telegram = FakeTelegram::start(BOT_TOKEN).await;
    let llm = fake_openai::start().await;
    let answer = "Here is the plan. First we gather the notes, then we sort them by date, and finally we write \
                  the summary for the week so nothing is forgotten.";
    // About 2.5 s of streaming, well past the draft delay, so the draft is shown and edited several times.
    llm.push(Reply::Answer(Answer::text(answer).delta_chars(6).pace(Duration::from_millis(100))));
    let sandbox = sandbox(&telegram, &llm.base_url())
        .env("CHITIN_CHANNELS__TELEGRAM__DRAFT_AFTER_MS", "300")
        .env("CHITIN_CHANNELS__TELEGRAM__DRAFT_EDIT_INTERVAL_MS", "250");
    let question = telegram.push_text(3, 3, "what is the plan?");
    let _chitin = tokio::task::block_in_place(|| sandbox.start(&[]));

    let rendered = answer.replace('.', "\\.");
    wait_until("the final text in the chat", Duration::from_secs(60), || {
        telegram.edits().last().is_some_and(|edit| edit.text == rendered)
    })
    .await;
    // Let any straggling draft edit or message arrive before counting.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let sent = telegram.sent_to(3);
    assert_eq!(sent.len(), 1, "the draft became the reply; nothing else was sent: {sent:?}");
    let draft = &sent[0];
    assert_eq!(draft.reply_to, Some(question), "the draft threads to the question");
    let first_words = draft.text.replace('\\', "");
    assert!(
        !first_words.is_empty() && answer.starts_with(&first_words) && first_words.len() < answer.len(),
        "the draft began with part of the answer: {first_words:?}"
    );
    let edits = telegram.edits();
    assert!(edits.iter().all(|edit| edit.message_id == draft.message_id), "every edit is of the draft");
    assert!(edits.len() >= 2, "the draft grew before the reply replaced it: {edits:?}");
    let lengths: Vec<usize> = edits.iter().map(|edit| edit.text.len()).collect();
    assert!(lengths.windows(2).all(|pair| pair[0] <= pair[1]), "the draft only grows: {lengths:?}");
    assert!(telegram.deleted().is_empty());
}
