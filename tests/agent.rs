//! The agent end to end over real HTTP: turns with tools, approvals, compaction, failures, isolation, recovery.

use serde_json::Value;

use crate::support::chitin::TestChitin;
use crate::support::fake_llm::{Answer, Reply};
use crate::support::fake_openai;

fn user_texts(body: &Value) -> Vec<String> {
    body["messages"]
        .as_array()
        .map(|messages| {
            messages
                .iter()
                .filter(|m| m["role"] == "user")
                .filter_map(|m| m["content"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_turn_runs_two_tool_calls_then_answers_with_their_results() {
    let fake = fake_openai::start().await;
    fake.push(Reply::Answer(
        Answer::text("").tool_call("call_a", "echo", r#"{"text":"alpha"}"#).tool_call("call_b", "time", "{}"),
    ));
    fake.push(Reply::Answer(Answer::text("Both done: alpha.")));
    let chitin = TestChitin::start(Some(&fake.base_url()), &[]).await;

    assert_eq!(chitin.chat("tools", "echo alpha and tell me the time").await, "Both done: alpha.");

    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    let tools: Vec<&str> = requests[0].body["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["function"]["name"].as_str())
        .collect();
    assert!(tools.contains(&"echo") && tools.contains(&"time"), "{tools:?}");
    let second = &requests[1].body["messages"];
    let results: Vec<&Value> = second.as_array().expect("messages").iter().filter(|m| m["role"] == "tool").collect();
    assert_eq!(results.len(), 2, "both tool results go back in one step: {second}");
    let echo = results.iter().find(|m| m["tool_call_id"] == "call_a").expect("echo result");
    let echo_text = echo["content"].as_str().expect("text");
    assert!(echo_text.contains("alpha") && echo_text.contains("<tool-output"), "wrapped as data: {echo_text}");
    let time = results.iter().find(|m| m["tool_call_id"] == "call_b").expect("time result");
    assert!(time["content"].as_str().expect("text").contains("unix"), "{time}");
    let dir = chitin.stop().await;

    // Both executions are in the hash-chained audit log, which verifies.
    let config = crate::support::chitin::config(&dir, None, &[]);
    let data_dir = config.data_dir.clone().expect("data dir");
    let key = chitin::crypto::MasterKey::load(None, &data_dir).expect("key");
    let store = chitin::store::Store::connect(&config.database, &data_dir, &key).await.expect("store");
    let entries = store.audit().list(None, 100).await.expect("audit");
    let calls: Vec<_> = entries.iter().filter(|e| e.action == "tool_call").collect();
    assert_eq!(calls.len(), 2, "{entries:?}");
    let echo = calls.iter().find(|e| e.target == "echo").expect("echo audited");
    assert_eq!(echo.detail["outcome"], "ok");
    assert!(echo.detail["parameters"].as_str().expect("parameters").contains("alpha"));
    assert_eq!(store.audit().verify().await.expect("chain verifies"), entries.len() as u64);
    store.close().await;
}

#[tokio::test]
async fn invalid_tool_arguments_go_back_to_the_model_as_the_error() {
    let fake = fake_openai::start().await;
    fake.push(Reply::Answer(Answer::text("").tool_call("call_x", "echo", r#"{"txt":"oops"}"#)));
    fake.push(Reply::Answer(Answer::text("Sorry, fixed.")));
    let chitin = TestChitin::start(Some(&fake.base_url()), &[]).await;
    assert_eq!(chitin.chat("schema", "echo something").await, "Sorry, fixed.");
    let second = fake.requests()[1].body["messages"].clone();
    let result =
        second.as_array().expect("messages").iter().find(|m| m["role"] == "tool").expect("tool result").clone();
    let text = result["content"].as_str().expect("text");
    assert!(text.contains("invalid parameters for echo") && text.contains("text"), "{text}");
    chitin.stop().await;
}

#[tokio::test]
async fn approval_pauses_the_turn_and_resumes_on_the_answer() {
    let fake = fake_openai::start().await;
    let chitin = TestChitin::start(Some(&fake.base_url()), &[("CHITIN_AGENT__REQUIRE_APPROVAL", "[\"echo\"]")]).await;

    fake.push(Reply::Answer(Answer::text("").tool_call("call_1", "echo", r#"{"text":"secret plan"}"#)));
    let question = chitin.chat("approve", "echo my secret plan").await;
    assert!(question.contains("echo") && question.to_lowercase().contains("yes"), "{question}");
    assert_eq!(fake.requests().len(), 1, "the tool must not run before the answer");

    fake.push(Reply::Answer(Answer::text("Echoed it.")));
    assert_eq!(chitin.chat("approve", "yes").await, "Echoed it.");
    let resumed = fake.requests()[1].body["messages"].clone();
    let result = resumed.as_array().expect("messages").iter().find(|m| m["role"] == "tool").expect("tool ran").clone();
    assert!(result["content"].as_str().expect("text").contains("secret plan"));

    // "always" is remembered: the next call runs without asking.
    fake.push(Reply::Answer(Answer::text("").tool_call("call_2", "echo", r#"{"text":"again"}"#)));
    assert!(chitin.chat("approve", "echo again").await.contains("echo"));
    fake.push(Reply::Answer(Answer::text("Done again.")));
    assert_eq!(chitin.chat("approve", "always").await, "Done again.");
    fake.push(Reply::Answer(Answer::text("").tool_call("call_3", "echo", r#"{"text":"third"}"#)));
    fake.push(Reply::Answer(Answer::text("No question this time.")));
    assert_eq!(chitin.chat("approve", "echo a third time").await, "No question this time.");

    // Tools not listed in agent.require_approval run at once.
    fake.push(Reply::Answer(Answer::text("").tool_call("call_4", "time", "{}")));
    fake.push(Reply::Answer(Answer::text("It is noon.")));
    assert_eq!(chitin.chat("approve", "what time is it").await, "It is noon.", "tools not listed run without asking");
    chitin.stop().await;
}

#[tokio::test]
async fn compaction_keeps_a_fact_stated_fifty_turns_earlier() {
    let fake = fake_openai::start().await;
    let chitin = TestChitin::start(Some(&fake.base_url()), &[("CHITIN_AGENT__CONTEXT_TOKENS", "50")]).await;
    let turns = 50;
    for turn in 1..=turns {
        // Every turn from the 4th has more than six messages over a tiny budget: one summary call, then the answer.
        if turn >= 4 {
            fake.push(Reply::Answer(Answer::text("The user's cat is called Miso. Open task: none.")));
        }
        fake.push(Reply::Answer(Answer::text(&format!("noted {turn}"))));
        let text =
            if turn == 1 { "Remember this: my cat is called Miso.".to_string() } else { format!("small talk {turn}") };
        assert_eq!(chitin.chat("compact", &text).await, format!("noted {turn}"));
    }
    let requests = fake.requests();
    assert_eq!(requests.len(), 3 + (turns - 3) * 2);
    let first_summary_request = &requests[3].body;
    assert_ne!(first_summary_request["stream"], Value::Bool(true), "the summary is asked without streaming");
    let asked = user_texts(first_summary_request).join("\n");
    assert!(asked.contains("my cat is called Miso"), "the summariser sees the old fact: {asked}");
    let later_summary = user_texts(&requests[requests.len() - 2].body).join("\n");
    assert!(later_summary.contains("Earlier summary") && later_summary.contains("Miso"), "{later_summary}");
    let last = &requests[requests.len() - 1].body;
    let system = last["messages"][0]["content"].as_str().expect("system prompt");
    assert!(system.contains("Miso"), "the last prompt carries the summary: {system}");
    let users = user_texts(last);
    assert!(!users.iter().any(|t| t.contains("Miso")), "the old message itself is gone from the prompt");
    assert!(users.len() <= 4, "only recent turns are sent verbatim: {users:?}");
    chitin.stop().await;
}

#[tokio::test]
async fn a_failing_provider_gets_an_honest_reply_not_a_hang() {
    let fake = fake_openai::start().await;
    fake.push(Reply::Status(500));
    let chitin = TestChitin::start(Some(&fake.base_url()), &[]).await;
    let reply = chitin.chat("down", "hello?").await;
    assert!(reply.contains("could not answer") && reply.contains("unavailable"), "{reply}");

    fake.push(Reply::MalformedJson);
    let reply = chitin.chat("down", "again?").await;
    assert!(reply.contains("could not answer"), "{reply}");
    chitin.stop().await;
}

#[tokio::test]
async fn without_a_model_the_user_is_told_how_to_configure_one() {
    let chitin = TestChitin::start(None, &[]).await;
    let reply = chitin.chat("setup", "hi").await;
    assert!(reply.contains("llm.api_key") && reply.contains("CHITIN_LLM__API_KEY"), "{reply}");
    chitin.stop().await;
}

#[tokio::test]
async fn thirty_two_conversations_keep_their_histories_apart() {
    let fake = fake_openai::start().await;
    for _ in 0..64 {
        fake.push(Reply::Answer(Answer::text("ok")));
    }
    let chitin = std::sync::Arc::new(TestChitin::start(Some(&fake.base_url()), &[]).await);
    let mut tasks = Vec::new();
    for n in 0..32 {
        let chitin = std::sync::Arc::clone(&chitin);
        tasks.push(tokio::spawn(async move {
            chitin.chat(&format!("user-{n}"), &format!("my name is person-{n}")).await;
            chitin.chat(&format!("user-{n}"), &format!("what is my name? (asked by person-{n})")).await;
        }));
    }
    for task in tasks {
        task.await.expect("conversation task");
    }
    let requests = fake.requests();
    assert_eq!(requests.len(), 64);
    for request in &requests {
        let users = user_texts(&request.body);
        let owner = users
            .last()
            .and_then(|t| t.rsplit("person-").next())
            .map(|n| n.trim_end_matches(')').to_string())
            .expect("owner");
        for text in &users {
            assert!(
                text.ends_with(&format!("person-{owner}")) || text.ends_with(&format!("person-{owner})")),
                "history leaked: {users:?}"
            );
        }
        if users.len() == 2 {
            assert!(users[0].starts_with("my name is"), "{users:?}");
        }
    }
    assert_eq!(
        requests.iter().filter(|r| user_texts(&r.body).len() == 2).count(),
        32,
        "every second turn saw its first"
    );
    let Ok(chitin) = std::sync::Arc::try_unwrap(chitin) else { panic!("every task has ended") };
    chitin.stop().await;
}

/// The texts of every message of a request to the model, in order, whatever their role.
fn all_texts(body: &Value) -> Vec<String> {
    body["messages"]
        .as_array()
        .map(|messages| messages.iter().filter_map(|m| m["content"].as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// A session keeps its history between turns and adds its own messages without reading them back; a message that
/// reached the conversation some other way (here a note filed straight into the store, as a job's result is) must
/// still be in the next prompt, in its place.
#[tokio::test]
async fn a_message_stored_beside_the_session_reaches_the_next_prompt_in_order() {
    let fake = fake_openai::start().await;
    for answer in ["first answer", "second answer", "third answer"] {
        fake.push(Reply::Answer(Answer::text(answer)));
    }
    let chitin = TestChitin::start(Some(&fake.base_url()), &[]).await;
    assert_eq!(chitin.chat("beside", "first question").await, "first answer");
    assert_eq!(chitin.chat("beside", "second question").await, "second answer");

    let store = chitin.service.as_ref().expect("running").store();
    let conversation = store.conversations().get_or_create("api", "beside").await.expect("conversation");
    let note = chitin::store::NewMessage {
        role: chitin::store::Role::Assistant,
        direction: chitin::store::Direction::Outbound,
        status: chitin::store::MessageStatus::Delivered,
        sender: None,
        body: "a note filed beside the session",
    };
    store.conversations().append(conversation, &note).await.expect("note stored");
    assert_eq!(chitin.chat("beside", "third question").await, "third answer");

    let requests = fake.requests();
    assert_eq!(requests.len(), 3);
    let texts = |index: usize| -> Vec<String> {
        all_texts(&requests[index].body)
            .into_iter()
            .filter(|text| text.contains("question") || text.contains("answer") || text.contains("note"))
            .collect()
    };
    assert_eq!(texts(1), ["first question", "first answer", "second question"]);
    assert_eq!(
        texts(2),
        [
            "first question",
            "first answer",
            "second question",
            "second answer",
            "a note filed beside the session",
            "third question"
        ]
    );
    chitin.stop().await;
}

struct ApproveAll;

impl chitin::sandbox::Approver for ApproveAll {
    fn approve(&self, _request: &chitin::sandbox::CapabilityRequest) -> bool {
        true
    }
}

#[tokio::test]
async fn an_installed_wasm_tool_is_offered_to_the_model_and_runs_in_the_sandbox() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).expect("mkdir");
    let (sandbox, catalog, tools_dir) =
        chitin::sandbox_services::open_sandbox(&data_dir, 4, Default::default()).expect("sandbox");
    let request = chitin::sandbox::InstallRequest {
        wasm_path: crate::support::sandbox_fixture::wasm("calc"),
        manifest_path: None,
    };
    chitin::sandbox::tool_install(&sandbox, &catalog, &tools_dir, &request, &ApproveAll).await.expect("installed");
    drop(sandbox);

    let fake = fake_openai::start().await;
    fake.push(Reply::Answer(Answer::text("").tool_call("call_calc", "calc", r#"{"expression":"6*7"}"#)));
    fake.push(Reply::Answer(Answer::text("It is 42.")));
    let chitin = TestChitin::start_in(dir, Some(&fake.base_url()), &[]).await;
    assert_eq!(chitin.chat("wasm", "what is six times seven?").await, "It is 42.");
    let requests = fake.requests();
    let offered: Vec<&str> = requests[0].body["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["function"]["name"].as_str())
        .collect();
    assert!(offered.contains(&"calc"), "{offered:?}");
    let second = requests[1].body["messages"].clone();
    let result =
        second.as_array().expect("messages").iter().find(|m| m["role"] == "tool").expect("tool result").clone();
    assert!(result["content"].as_str().expect("text").contains("42"), "{result}");
    chitin.stop().await;
}

#[tokio::test]
async fn a_secret_reference_reaches_the_provider_and_the_secret_never_reaches_the_user() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret_value = "sk-stored-credential-0123456789abcdef";
    {
        let config = crate::support::chitin::config(&dir, None, &[]);
        let data_dir = config.data_dir.clone().expect("data dir");
        std::fs::create_dir_all(&data_dir).expect("mkdir");
        let key = chitin::crypto::MasterKey::load(None, &data_dir).expect("key");
        let store = chitin::store::Store::connect(&config.database, &data_dir, &key).await.expect("store");
        let secrets = chitin::secrets::SecretStore::new(store.clone(), &key);
        secrets.set("provider", &secrecy::SecretString::from(secret_value)).await.expect("stored");
        store.close().await;
    }
    let fake = fake_openai::start().await;
    fake.push(Reply::Answer(Answer::text(&format!("Your key is {secret_value}, keep it safe."))));
    let chitin = TestChitin::start_in(dir, Some(&fake.base_url()), &[("CHITIN_LLM__API_KEY", "secret:provider")]).await;
    let reply = chitin.chat("secrets", "what is my key?").await;
    assert!(!reply.contains(secret_value), "the stored secret was redacted from the reply: {reply}");
    let requests = fake.requests();
    assert_eq!(requests[0].headers["authorization"], format!("Bearer {secret_value}"), "secret:NAME was resolved");
    chitin.stop().await;
}
