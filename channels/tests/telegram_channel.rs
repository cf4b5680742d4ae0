//! The Telegram channel against a fake Bot API: answering, pairing, splitting, 429s, escaping, a revoked token.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chitin_actors::health::probe;
use chitin_actors::{ActorState, ChannelKind, FinalReply, ReplyEvent};
use chitin_channels::outbound::RateLimits;
use chitin_channels::telegram::{TelegramArgs, TelegramChannel, TelegramConfig, TelegramMsg};
use ractor::{Actor, ActorRef};

use crate::support::chat_poll::{eventually, eventually_async};
use crate::support::chat_ports::{MemoryStore, OutboxState};
use crate::support::fake_telegram::{EnforcedLimits, FakeTelegram};

const WAIT: Duration = Duration::from_secs(20);

fn config(fake: &FakeTelegram, allowed_users: Vec<u64>) -> TelegramConfig {
    TelegramConfig {
        enabled: true,
        bot_token: fake.token.clone(),
        api_url: fake.url.clone(),
        allowed_users,
        poll_timeout_secs: 1,
        // Fast enough for tests; the limiter's own arithmetic has unit tests.
        rate_limits: RateLimits { global_per_second: 2_000.0, per_chat_per_second: 500.0, per_group_per_minute: 0.0 },
        retry_initial_ms: 20,
        retry_max_ms: 200,
        ..TelegramConfig::default()
    }
}

async fn start(config: TelegramConfig, store: &Arc<MemoryStore>) -> ActorRef<TelegramMsg> {
    let (channel, _) = Actor::spawn(None, TelegramChannel, TelegramArgs { config, ports: store.ports() })
        .await
        .expect("telegram channel starts");
    channel
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_messages_from_eight_users_are_each_answered_once() {
    let fake = FakeTelegram::start("100:AAA").await;
    let store = MemoryStore::with_echo_agent();
    let channel = start(config(&fake, (1..=8).collect()), &store).await;
    let mut originals = HashMap::new();
    for round in 0..25 {
        for user in 1..=8u64 {
            let text = format!("message {round} from {user}");
            let message_id = fake.push_text(user as i64, user, &text);
            originals.insert((user as i64, format!("echo: message {round} from {user}")), message_id);
        }
    }
    eventually("200 replies", WAIT, || (fake.sent().len() >= 200).then_some(())).await;
    let last_update = 200;
    eventually("the offset to move past every update", WAIT, || (fake.confirmed_offset() > last_update).then_some(()))
        .await;
    let sent = fake.sent();
    assert_eq!(sent.len(), 200, "every message answered exactly once");
    let mut seen = HashMap::new();
    for message in &sent {
        let unescaped = message.text.replace('\\', "");
        let original = originals.get(&(message.chat_id, unescaped.clone()));
        let original = original.unwrap_or_else(|| panic!("unexpected reply {unescaped:?} in chat {}", message.chat_id));
        assert_eq!(message.reply_to, Some(*original), "reply threads to the message it answers");
        assert_eq!(message.parse_mode.as_deref(), Some("MarkdownV2"));
        *seen.entry((message.chat_id, unescaped)).or_insert(0) += 1;
    }
    assert!(seen.values().all(|&count| count == 1) && seen.len() == 200);
    assert_eq!(store.recorded().len(), 200);
    assert_eq!(store.delivered_to_sessions().len(), 200, "each handed to its session once");
    // The Bot API answers before the channel records the delivery, so the last marks may trail the last send.
    eventually("every reply marked delivered", WAIT, || {
        store.outbox().iter().all(|row| matches!(row.state, OutboxState::Delivered { .. })).then_some(())
    })
    .await;
    assert!((1..=8).all(|chat| fake.typing_shown_in(chat)), "typing shown while the agent works");
    channel.stop(None);
}

#[tokio::test]
async fn an_unknown_user_gets_a_pairing_code_and_is_answered_once_approved() {
    let fake = FakeTelegram::start("100:AAA").await;
    let store = MemoryStore::with_echo_agent();
    let channel = start(config(&fake, vec![1]), &store).await;
    fake.push_text(77, 77, "hi, who are you?");
    fake.push_text(77, 77, "hello??");
    let notice = eventually("a pairing notice", WAIT, || fake.sent_to(77).into_iter().next()).await;
    eventually("both messages handled", WAIT, || (fake.confirmed_offset() > 2).then_some(())).await;
    assert_eq!(fake.sent_to(77).len(), 1, "a stranger writing twice gets one notice");
    let codes = store.pending_codes();
    assert_eq!(codes.len(), 1);
    let (kind, user, code) = &codes[0];
    assert_eq!((*kind, user.as_str()), (ChannelKind::Telegram, "77"));
    assert!(notice.text.contains(&format!("`chitin pairing approve {code}`")), "{}", notice.text);
    assert!(store.recorded().is_empty(), "an unpaired user's text is not stored");

    assert!(store.approve(code));
    fake.push_text(77, 77, "approved now?");
    let reply = eventually("an answer after approval", WAIT, || {
        fake.sent_to(77).into_iter().find(|sent| sent.text.starts_with("echo"))
    })
    .await;
    assert_eq!(reply.text, "echo: approved now?");
    assert_eq!(store.recorded().len(), 1);
    channel.stop(None);
}

#[tokio::test]
async fn a_ten_thousand_character_answer_arrives_as_three_parts() {
    let fake = FakeTelegram::start("100:AAA").await;
    let store = MemoryStore::new();
    let channel = start(config(&fake, vec![5]), &store).await;
    let body = "lorem ipsum dolor sit amet ".repeat(371);
    let body = body.trim_end();
    assert!(body.chars().count() >= 10_000);
    let reply = store.push_reply(ChannelKind::Telegram, "5", body, Some("31"));
    let sent = eventually("three parts", WAIT, || {
        let sent = fake.sent_to(5);
        (sent.len() >= 3 && matches!(store.row(reply)?.state, OutboxState::Delivered { .. })).then_some(sent)
    })
    .await;
    assert_eq!(sent.len(), 3);
    assert!(sent.iter().all(|part| part.text.encode_utf16().count() <= 4096));
    let joined: Vec<&str> = sent.iter().map(|part| part.text.as_str()).collect();
    assert_eq!(joined.join(" "), body, "cut between words, nothing lost or repeated");
    let Some(OutboxState::Delivered { platform_message_id }) = store.row(reply).map(|row| row.state) else {
        panic!("reply not marked delivered");
    };
    assert_eq!(platform_message_id, format!("5:{}", sent[2].message_id), "delivered with the id of the last part");
    channel.stop(None);
}

#[tokio::test]
async fn a_429_with_retry_after_is_honoured() {
    let fake = FakeTelegram::start("100:AAA").await;
    let store = MemoryStore::new();
    let channel = start(config(&fake, vec![5]), &store).await;
    fake.rate_limit_next_sends(1, 1);
    let reply = store.push_reply(ChannelKind::Telegram, "5", "after the pause", None);
    let sent = eventually("the reply", WAIT, || fake.sent_to(5).into_iter().next()).await;
    assert_eq!(fake.rejected_with_429(), 1);
    let rejected_at = fake.rejected_at();
    let waited = sent.at - rejected_at[0];
    assert!(waited >= Duration::from_secs(1), "sent again after {waited:?}, before retry_after ran out");
    assert_eq!(sent.text, "after the pause");
    eventually("marked delivered", WAIT, || {
        matches!(store.row(reply)?.state, OutboxState::Delivered { .. }).then_some(())
    })
    .await;
    assert_eq!(fake.sent_to(5).len(), 1, "the rate-limited message went out once");
    channel.stop(None);
}

#[tokio::test]
async fn replies_escape_every_markdown_v2_special_character() {
    let fake = FakeTelegram::start("100:AAA").await;
    let store = MemoryStore::new();
    let channel = start(config(&fake, vec![5]), &store).await;
    store.push_reply(ChannelKind::Telegram, "5", "Total: 3.5 (approx) - done! _*[]()~>#+=|{}", None);
    let sent = eventually("the reply", WAIT, || fake.sent_to(5).into_iter().next()).await;
    assert_eq!(sent.text, "Total: 3\\.5 \\(approx\\) \\- done\\! \\_\\*\\[\\]\\(\\)\\~\\>\\#\\+\\=\\|\\{\\}");
    assert_eq!(sent.parse_mode.as_deref(), Some("MarkdownV2"));
    channel.stop(None);
}

#[tokio::test]
async fn a_revoked_token_degrades_the_channel_until_fixed_and_others_keep_working() {
    let revoked = FakeTelegram::start("100:REVOKED").await;
    revoked.set_revoked(true);
    let healthy = FakeTelegram::start("200:GOOD").await;
    // One store each: both are Telegram channels, and a channel sends every Telegram reply it claims.
    let store = MemoryStore::with_echo_agent();
    let other_store = MemoryStore::with_echo_agent();
    let broken_channel = start(config(&revoked, vec![1]), &store).await;
    let other_channel = start(config(&healthy, vec![2]), &other_store).await;

    let report = eventually_async("a degraded report", WAIT, || async {
        probe(&broken_channel).await.filter(|report| report.state == ActorState::Degraded)
    })
    .await;
    assert!(report.detail.contains("bot token rejected (401)"), "{}", report.detail);
    assert!(!report.detail.contains("REVOKED"), "the token never appears in reports: {}", report.detail);

    healthy.push_text(2, 2, "still there?");
    eventually("the other channel answers", WAIT, || healthy.sent_to(2).into_iter().next()).await;

    revoked.set_revoked(false);
    revoked.push_text(1, 1, "fixed?");
    let reply = eventually("an answer once the token works", WAIT, || revoked.sent_to(1).into_iter().next()).await;
    assert_eq!(reply.text, "echo: fixed?");
    let report = probe(&broken_channel).await.expect("probe answered");
    assert_eq!(report.state, ActorState::Running, "{}", report.detail);
    broken_channel.stop(None);
    other_channel.stop(None);
}

#[tokio::test]
async fn stickers_and_oversized_files_get_a_polite_reply_and_the_channel_goes_on() {
    let fake = FakeTelegram::start("100:AAA").await;
    let store = MemoryStore::with_echo_agent();
    let channel = start(config(&fake, vec![1]), &store).await;
    let sticker = fake.push_sticker(1, 1);
    let file = fake.push_large_file(1, 1);
    let notes = eventually("two polite notes", WAIT, || {
        let sent = fake.sent_to(1);
        (sent.len() >= 2).then_some(sent)
    })
    .await;
    let mut answered: Vec<i64> = notes.iter().filter_map(|note| note.reply_to).collect();
    answered.sort_unstable();
    assert_eq!(answered, vec![sticker, file]);
    assert!(notes.iter().all(|note| note.text.contains("only read text")), "{notes:?}");
    assert!(store.recorded().is_empty());
    fake.push_text(1, 1, "text works");
    eventually("an echo after the notes", WAIT, || fake.sent_to(1).into_iter().find(|s| s.text.starts_with("echo")))
        .await;
    channel.stop(None);
}

#[tokio::test]
async fn an_update_is_recorded_before_the_offset_moves_past_it() {
    let fake = FakeTelegram::start("100:AAA").await;
    let store = MemoryStore::with_echo_agent();
    store.fail_next_records(3);
    let channel = start(config(&fake, vec![1]), &store).await;
    fake.push_text(1, 1, "keep me");
    let report = eventually_async("degraded while the store fails", WAIT, || async {
        probe(&channel).await.filter(|report| report.state == ActorState::Degraded)
    })
    .await;
    assert!(report.detail.contains("database unreachable"), "{}", report.detail);
    assert!(fake.confirmed_offset() <= 1, "the offset did not move past an unrecorded update");
    eventually("the answer once the store works", WAIT, || fake.sent_to(1).into_iter().next()).await;
    eventually("the offset to move on", WAIT, || (fake.confirmed_offset() > 1).then_some(())).await;
    assert_eq!(store.recorded().len(), 1);
    assert_eq!(fake.sent_to(1).len(), 1);
    channel.stop(None);
}

#[tokio::test]
async fn in_groups_only_mentions_are_answered_without_the_mention() {
    let fake = FakeTelegram::start("100:AAA").await;
    let store = MemoryStore::with_echo_agent();
    let channel = start(config(&fake, vec![1]), &store).await;
    fake.push_text(-100, 1, "lunch anyone?");
    fake.push_text(-100, 1, "@chitin_bot what is on today?");
    let reply = eventually("the answer to the mention", WAIT, || fake.sent_to(-100).into_iter().next()).await;
    assert_eq!(reply.text, "echo: what is on today?");
    eventually("the offset to move on", WAIT, || (fake.confirmed_offset() > 2).then_some(())).await;
    assert_eq!(store.recorded_count(), 1, "the message without a mention is not stored");
    channel.stop(None);
}

#[tokio::test]
async fn a_streamed_answer_grows_in_one_draft_that_the_final_reply_replaces() {
    let fake = FakeTelegram::start("100:AAA").await;
    let store = MemoryStore::new();
    let config = TelegramConfig { draft_after_ms: 0, draft_edit_interval_ms: 100, ..config(&fake, vec![5]) };
    let channel = start(config, &store).await;
    let question = fake.push_text(5, 5, "explain it");
    let inbound = eventually("the question recorded", WAIT, || store.recorded().into_iter().next()).await;
    let stream = |text: &str| {
        let delta = ReplyEvent::Delta { in_reply_to: inbound.record_id, text: text.to_string() };
        store.hub().publish(&inbound.conversation, delta);
    };
    // Another turn's words in the same chat are not this draft's.
    store.hub().publish(&inbound.conversation, ReplyEvent::Delta { in_reply_to: -1, text: "noise".into() });

    stream("Let me");
    let draft = eventually("the draft message", WAIT, || fake.sent_to(5).into_iter().next()).await;
    assert_eq!(draft.text, "Let me");
    for words in [" think", " about it", ".", " So"] {
        stream(words);
    }
    eventually("the latest draft shown", WAIT, || {
        fake.edits().last().filter(|edit| edit.text == "Let me think about it\\. So").map(|_| ())
    })
    .await;
    let edits_while_drafting = fake.edits().len();
    assert!(edits_while_drafting < 4, "{edits_while_drafting} edits: drafts are coalesced to the edit interval");

    let reply = store.push_reply(ChannelKind::Telegram, "5", "So: **yes**.", Some(&question.to_string()));
    eventually("the final reply", WAIT, || {
        matches!(store.row(reply)?.state, OutboxState::Delivered { .. }).then_some(())
    })
    .await;
    let last = fake.edits().last().cloned().expect("an edit");
    assert_eq!((last.chat_id, last.message_id, last.text.as_str()), (5, draft.message_id, "So: *yes*\\."));
    assert_eq!(fake.sent_to(5).len(), 1, "the final reply replaced the draft instead of adding a message");
    let Some(OutboxState::Delivered { platform_message_id }) = store.row(reply).map(|row| row.state) else {
        panic!("not delivered");
    };
    assert_eq!(platform_message_id, format!("5:{}", draft.message_id));

    // Words that straggle in after the reply went out start no second draft.
    stream(" and more");
    let usage = None;
    let done = ReplyEvent::final_reply(FinalReply {
        in_reply_to: inbound.record_id,
        reply_id: 0,
        outbox_id: 0,
        text: String::new(),
        usage,
    });
    store.hub().publish(&inbound.conversation, done);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.sent_to(5).len(), 1, "no draft after the final reply");
    assert!(fake.deleted().is_empty());
    channel.stop(None);
}

#[tokio::test]
async fn a_quick_answer_arrives_as_one_message_without_a_draft() {
    let fake = FakeTelegram::start("100:AAA").await;
    let store = MemoryStore::new();
    let channel = start(config(&fake, vec![5]), &store).await;
    let question = fake.push_text(5, 5, "hi");
    let inbound = eventually("the question recorded", WAIT, || store.recorded().into_iter().next()).await;
    let delta = ReplyEvent::Delta { in_reply_to: inbound.record_id, text: "Hello".into() };
    store.hub().publish(&inbound.conversation, delta);
    let reply = store.push_reply(ChannelKind::Telegram, "5", "Hello there", Some(&question.to_string()));
    eventually("the reply", WAIT, || matches!(store.row(reply)?.state, OutboxState::Delivered { .. }).then_some(()))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = fake.sent_to(5);
    assert_eq!(sent.len(), 1, "one message: {sent:?}");
    assert_eq!(sent[0].text, "Hello there");
    assert!(fake.edits().is_empty(), "no draft edits for an answer that came at once");
    channel.stop(None);
}

/// The outbound queue paces replies to the platform's limits: a fake that enforces them never answers 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_at_the_limits_are_paced_so_the_platform_never_says_429() {
    let fake = FakeTelegram::start("100:AAA").await;
    // Telegram's shape, scaled up so the test takes seconds instead of minutes.
    let limits = EnforcedLimits { global_per_second: 20, per_chat_per_second: 5, per_group_per_minute: 30 };
    fake.enforce_limits(limits);
    let store = MemoryStore::new();
    let rate_limits = RateLimits { global_per_second: 20.0, per_chat_per_second: 5.0, per_group_per_minute: 30.0 };
    let channel = start(TelegramConfig { rate_limits, ..config(&fake, vec![]) }, &store).await;
    let mut replies = Vec::new();
    for round in 0..10 {
        for chat in 1..=5 {
            replies.push(store.push_reply(ChannelKind::Telegram, &chat.to_string(), &format!("reply {round}"), None));
        }
    }
    for round in 0..4 {
        replies.push(store.push_reply(ChannelKind::Telegram, "-42", &format!("group reply {round}"), None));
    }
    eventually("every reply delivered", Duration::from_secs(60), || {
        replies
            .iter()
            .all(|reply| store.row(*reply).is_some_and(|row| matches!(row.state, OutboxState::Delivered { .. })))
            .then_some(())
    })
    .await;
    assert_eq!(fake.rejected_with_429(), 0, "a reply went out faster than the limits allow");
    assert_eq!(fake.sent().len(), 54, "each reply sent once");
    let group: Vec<String> = fake.sent_to(-42).into_iter().map(|sent| sent.text).collect();
    assert_eq!(group, ["group reply 0", "group reply 1", "group reply 2", "group reply 3"], "in order");
    channel.stop(None);
}
