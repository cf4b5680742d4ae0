//! Agent tasks as jobs: a prompt run by a fresh internal session, its answer posted back to the asking
//! conversation; and the agent's own `job_spawn` / `job_status` tools.

use std::time::Duration;

use chitin::jobs::{AgentJob, JobSpec, JobSubmission, ReplyTarget};
use chitin::store::{JobState, Role};

use crate::support::chitin::TestChitin;
use crate::support::fake_llm::{Answer, Reply};
use crate::support::fake_openai;

use super::support::{ended, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_task_answers_in_its_own_session_and_posts_back() {
    let fake = fake_openai::start().await;
    let chitin = TestChitin::start(Some(&fake.base_url()), &[("CHITIN_JOBS__POLL_MS", "100")]).await;
    let service = chitin.service.as_ref().expect("running");
    let store = service.store().clone();

    // The agent's tool starts a tool job; the turn goes on without waiting for it.
    fake.push(Reply::Answer(Answer::text("").tool_call(
        "call_1",
        "job_spawn",
        r#"{"tool":"echo","params":{"text":"bg"}}"#,
    )));
    fake.push(Reply::Answer(Answer::text("Started it.")));
    assert_eq!(chitin.chat("asker", "run echo in the background").await, "Started it.");
    let spawned = &store.jobs().list(None, 10).await.unwrap()[0];
    assert_eq!(spawned.kind, "tool");
    let echo = wait_for(&store, spawned.id, Duration::from_secs(10), ended).await;
    assert_eq!((echo.state, echo.result.as_deref()), (JobState::Succeeded, Some("bg")));
    let tool_result = fake.requests()[1].body.to_string();
    assert!(tool_result.contains(&format!("job_id\\\":{}", spawned.id.0)), "the model got the job id: {tool_result}");

    // A prompt job: a fresh session answers it, and the answer is filed in the asking conversation.
    fake.push(Reply::Answer(Answer::text("The answer is 42.")));
    let mut submission = JobSubmission::new(JobSpec::Agent(AgentJob {
        prompt: "What is the answer?".into(),
        reply_to: Some(ReplyTarget { channel: "api".into(), external_id: "asker".into() }),
    }));
    submission.max_attempts = Some(1);
    let job_id = service.submit_job(&submission).await.unwrap().job_id();
    let job = wait_for(&store, job_id, Duration::from_secs(20), ended).await;
    assert_eq!((job.state, job.result.as_deref()), (JobState::Succeeded, Some("The answer is 42.")));
    let asked = fake.requests().last().expect("the task's request").body.to_string();
    assert!(asked.contains("What is the answer?"), "{asked}");
    assert!(!asked.contains("run echo in the background"), "the task's session starts fresh: {asked}");

    let conversation = store.conversations().get_or_create("api", "asker").await.unwrap();
    let history = store.conversations().history(conversation, 50).await.unwrap();
    let posted: Vec<&str> =
        history.iter().filter(|message| message.role == Role::Assistant).map(|message| message.body.as_str()).collect();
    assert!(
        posted.iter().any(|body| body.contains(&format!("Job {} finished", job_id.0)) && body.contains("42")),
        "{posted:?}"
    );

    // Creating a routine asks the owner first; after the yes it exists and answers in this conversation.
    let create =
        r#"{"name":"daily-summary","prompt":"Summarise my day","cron":"0 18 * * *","time_zone":"Europe/Berlin"}"#;
    fake.push(Reply::Answer(Answer::text("").tool_call("call_r", "routine_create", create)));
    fake.push(Reply::Answer(Answer::text("Scheduled.")));
    let question = chitin.chat("asker", "summarise my day every evening").await;
    assert!(question.contains("routine_create"), "the owner is asked first: {question}");
    assert!(store.routines().get("daily-summary").await.unwrap().is_none(), "nothing before the yes");
    assert_eq!(chitin.chat("asker", "yes").await, "Scheduled.");
    let routine = store.routines().get("daily-summary").await.unwrap().expect("created after approval");
    assert!(routine.enabled && routine.next_fire_at_ms.is_some());
    assert_eq!(routine.action["action"]["reply_to"]["external_id"], "asker");
    chitin.stop().await;
}
