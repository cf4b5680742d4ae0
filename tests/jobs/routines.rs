//! Routines end to end: one fire per tick across two nodes, catch-up after downtime, bad input refused at
//! creation, webhook triggers with their token, event triggers, the heartbeat.

use std::time::{Duration, Instant};

use chitin::routines::{CatchUp, NewRoutineRequest, RoutineAction, RoutineError, TriggerInput};
use chitin::store::now_ms;
use serde_json::json;

use crate::support::chitin::TestChitin;
use crate::support::process::{Sandbox, text};
use crate::support::store_backends::{database_url, fresh_postgres_schema, postgres_shared_lock};

use super::support::{Backend, FAST_JOBS, NODE_MASTER_KEY, drill, routine_jobs, service, start, start_node};

fn noop() -> RoutineAction {
    RoutineAction::Job { kind: "maintenance".into(), payload: json!({"task": "noop"}) }
}

fn every(name: &str, seconds: u64, catch_up: CatchUp) -> NewRoutineRequest {
    NewRoutineRequest {
        name: name.into(),
        trigger: TriggerInput::Every(Duration::from_secs(seconds)),
        action: noop(),
        catch_up,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_every_second_routine_on_two_nodes_fires_once_per_tick() {
    let _shared = postgres_shared_lock().await;
    let Some(base_url) = database_url() else { return };
    let (_, url) = fresh_postgres_schema(&base_url).await;
    let mut settings: Vec<(&str, &str)> = FAST_JOBS.to_vec();
    settings.push(("CHITIN_DATABASE__URL", &url));
    let first = start_node(&settings, NODE_MASTER_KEY).await;
    let second = start_node(&settings, NODE_MASTER_KEY).await;
    let store = service(&first).store().clone();

    let created = service(&first).create_routine(&every("tick", 1, CatchUp::Skip)).await.unwrap();
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(10)).await;
    store.routines().set_enabled("tick", false, None).await.unwrap();
    let window = started.elapsed();

    let runs = store.routines().run_details(created.id, 100).await.unwrap();
    let mut keys: Vec<&str> = runs.iter().map(|(key, ..)| key.as_str()).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), runs.len(), "one run per tick");
    assert!((9..=11).contains(&runs.len()), "{} runs in {window:?}: {keys:?}", runs.len());
    let jobs = routine_jobs(&store, created.id.0).await;
    assert_eq!(jobs.len(), runs.len(), "one job per run, never two for a tick");
    first.stop().await;
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_ticks_follow_the_catch_up_policy() {
    let chitin = start(Backend::Sqlite, &[]).await.expect("sqlite");
    let skip = service(&chitin).create_routine(&every("skip", 3600, CatchUp::Skip)).await.unwrap();
    let once = service(&chitin).create_routine(&every("once", 3600, CatchUp::RunOnce)).await.unwrap();
    let dir = chitin.stop().await;
    // Downtime: while no node ran, the hourly ticks of the last three hours passed.
    let reopened = TestChitin::start_in(dir, None, &FAST_JOBS).await;
    let store = service(&reopened).store().clone();
    let hour = 3_600_000;
    let missed = (now_ms() / hour - 3) * hour;
    store.routines().set_next_fire(skip.id, Some(missed)).await.unwrap();
    store.routines().set_next_fire(once.id, Some(missed)).await.unwrap();

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let moved = store.routines().get("skip").await.unwrap().unwrap().next_fire_at_ms > Some(now_ms())
            && store.routines().get("once").await.unwrap().unwrap().next_fire_at_ms > Some(now_ms());
        if moved {
            break;
        }
        assert!(Instant::now() < deadline, "the scheduler did not deal with the missed ticks");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(store.routines().run_details(skip.id, 10).await.unwrap().is_empty(), "skip: missed ticks are not fired");
    let runs = store.routines().run_details(once.id, 10).await.unwrap();
    assert_eq!(runs.len(), 1, "run once: one fire for all missed ticks: {runs:?}");
    assert!(runs[0].0.starts_with("catch-up:"), "{runs:?}");
    reopened.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_routines_are_refused_at_creation() {
    let chitin = start(Backend::Sqlite, &[]).await.expect("sqlite");
    let service = service(&chitin);
    let with = |trigger: TriggerInput, action: RoutineAction| NewRoutineRequest {
        name: "bad".into(),
        trigger,
        action,
        catch_up: CatchUp::Skip,
    };
    let cron =
        |expression: &str, zone: &str| TriggerInput::Cron { expression: expression.into(), time_zone: zone.into() };
    let error = service.create_routine(&with(cron("61 * * * *", "UTC"), noop())).await.unwrap_err();
    assert!(error.to_string().contains("invalid cron expression `61 * * * *`"), "{error}");
    let error = service.create_routine(&with(cron("0 9 * * *", "Mars/Olympus"), noop())).await.unwrap_err();
    assert!(error.to_string().contains("unknown time zone `Mars/Olympus`"), "{error}");
    let error = service.create_routine(&with(TriggerInput::Event("message:(".into()), noop())).await.unwrap_err();
    assert!(matches!(error, RoutineError::Event { .. }), "{error}");
    let unknown_tool = RoutineAction::Tool { tool: "nope".into(), params: json!({}) };
    let error = service.create_routine(&with(cron("0 9 * * *", "UTC"), unknown_tool)).await.unwrap_err();
    assert!(error.to_string().contains("no tool named nope"), "{error}");
    let unknown_kind = RoutineAction::Job { kind: "shell".into(), payload: json!({}) };
    let error = service.create_routine(&with(cron("0 9 * * *", "UTC"), unknown_kind)).await.unwrap_err();
    assert!(error.to_string().contains("unknown job kind `shell`"), "{error}");
    assert!(service.store().routines().list().await.unwrap().is_empty(), "nothing was stored");
    chitin.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_routines_need_their_token_and_fire_once_per_request() {
    let chitin = start(Backend::Sqlite, &[]).await.expect("sqlite");
    let created = service(&chitin)
        .create_routine(&NewRoutineRequest {
            name: "hook".into(),
            trigger: TriggerInput::Webhook,
            action: noop(),
            catch_up: CatchUp::Skip,
        })
        .await
        .unwrap();
    let token = created.webhook_token.expect("a token is issued");
    let url = chitin.url(&format!("/routines/{}/trigger", created.id.0));
    let bad = chitin.client.post(&url).bearer_auth("wrong").send().await.unwrap();
    assert_eq!(bad.status(), 401);
    let none = chitin.client.post(&url).send().await.unwrap();
    assert_eq!(none.status(), 401);
    let other = chitin.client.post(chitin.url("/routines/999999/trigger")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(other.status(), 404);

    let fired =
        chitin.client.post(&url).bearer_auth(&token).header("Idempotency-Key", "delivery-1").send().await.unwrap();
    assert_eq!(fired.status(), 202);
    let body: serde_json::Value = fired.json().await.unwrap();
    assert!(body["job_id"].as_i64().is_some(), "{body}");
    let again =
        chitin.client.post(&url).bearer_auth(&token).header("Idempotency-Key", "delivery-1").send().await.unwrap();
    assert_eq!(again.status(), 200, "a redelivered request does not fire again");
    let store = service(&chitin).store();
    assert_eq!(routine_jobs(store, created.id.0).await.len(), 1);
    chitin.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_routines_fire_on_messages_and_job_outcomes() {
    let chitin = start(Backend::Sqlite, &[]).await.expect("sqlite");
    let event = |name: &str, pattern: &str| NewRoutineRequest {
        name: name.into(),
        trigger: TriggerInput::Event(pattern.into()),
        action: noop(),
        catch_up: CatchUp::Skip,
    };
    let on_failure = service(&chitin).create_routine(&event("on-failure", "job:failed:maintenance")).await.unwrap();
    let on_urgent = service(&chitin).create_routine(&event("on-urgent", "message:(?i)urgent")).await.unwrap();
    // Let the scheduler start its event feed.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let store = service(&chitin).store().clone();

    let failing = service(&chitin).submit_job(&drill(0, 9, 1)).await.unwrap().job_id();
    assert_eq!(chitin.chat("someone", "this is URGENT").await, chitin::agent::NO_MODEL_REPLY);
    chitin.chat("someone", "nothing pressing").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let failures = store.routines().run_details(on_failure.id, 10).await.unwrap();
        let urgent = store.routines().run_details(on_urgent.id, 10).await.unwrap();
        if failures.len() == 1 && urgent.len() == 1 {
            assert_eq!(failures[0].0, format!("job:{}:failed", failing.0));
            assert!(urgent[0].0.starts_with("message:"), "{urgent:?}");
            break;
        }
        assert!(Instant::now() < deadline, "event routines did not fire: {failures:?} {urgent:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(store.routines().run_details(on_urgent.id, 10).await.unwrap().len(), 1, "only the matching message");
    chitin.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_heartbeat_acts_on_its_file_and_skips_when_it_is_empty() {
    let chitin = start(Backend::Sqlite, &[("CHITIN_HEARTBEAT__INTERVAL_SECS", "1")]).await.expect("sqlite");
    let store = service(&chitin).store().clone();
    let file = chitin.dir.path().join("data/workspace/HEARTBEAT.md");
    std::fs::write(&file, "  \n").unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let heartbeats = |jobs: Vec<chitin::store::StoredJob>| {
        jobs.into_iter()
            .filter(|job| job.idempotency_key.as_deref().is_some_and(|k| k.starts_with("heartbeat:")))
            .count()
    };
    let all = |store: chitin::store::Store| async move {
        let mut jobs = Vec::new();
        for summary in store.jobs().list(None, 100).await.unwrap() {
            jobs.push(store.jobs().get(summary.id).await.unwrap().unwrap());
        }
        jobs
    };
    assert_eq!(heartbeats(all(store.clone()).await), 0, "an empty HEARTBEAT.md is skipped");
    std::fs::write(&file, "- check the backups\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let jobs = all(store.clone()).await;
        if let Some(job) =
            jobs.iter().find(|job| job.idempotency_key.as_deref().is_some_and(|k| k.starts_with("heartbeat:")))
        {
            assert_eq!(job.kind, "agent");
            assert!(job.payload.contains("check the backups"), "{}", job.payload);
            break;
        }
        assert!(Instant::now() < deadline, "no heartbeat job");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    chitin.stop().await;
}

/// The CLI contract: `routine add --name N (--cron EXPR | --every DURATION) (--prompt TEXT | --tool NAME --params JSON)`.
#[test]
fn routine_cli_adds_lists_runs_pauses_and_refuses_bad_input() {
    let sandbox = Sandbox::new();
    let add = sandbox.run(&[
        "routine",
        "add",
        "--name",
        "ping",
        "--every",
        "10s",
        "--tool",
        "echo",
        "--params",
        r#"{"text":"hi"}"#,
    ]);
    assert!(add.status.success(), "{}", text(&add.stderr));
    let cron = sandbox.run(&[
        "routine",
        "add",
        "--name",
        "standup",
        "--cron",
        "0 9 * * 1-5",
        "--tz",
        "Europe/Berlin",
        "--prompt",
        "Plan my day",
    ]);
    assert!(cron.status.success(), "{}", text(&cron.stderr));
    let list = sandbox.run(&["routine", "list", "--json"]);
    let routines: serde_json::Value = serde_json::from_slice(&list.stdout).expect("list --json is JSON");
    let names: Vec<&str> = routines.as_array().unwrap().iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(names, vec!["ping", "standup"]);

    let bad_cron = sandbox.run(&["routine", "add", "--name", "x", "--cron", "61 * * * *", "--prompt", "p"]);
    assert!(
        !bad_cron.status.success() && text(&bad_cron.stderr).contains("invalid cron expression"),
        "{}",
        text(&bad_cron.stderr)
    );
    let bad_zone =
        sandbox.run(&["routine", "add", "--name", "x", "--cron", "0 9 * * *", "--tz", "Mars/Olympus", "--prompt", "p"]);
    assert!(
        !bad_zone.status.success() && text(&bad_zone.stderr).contains("unknown time zone"),
        "{}",
        text(&bad_zone.stderr)
    );
    let bad_tool = sandbox.run(&["routine", "add", "--name", "x", "--every", "1m", "--tool", "nope", "--params", "{}"]);
    assert!(
        !bad_tool.status.success() && text(&bad_tool.stderr).contains("no tool named nope"),
        "{}",
        text(&bad_tool.stderr)
    );

    let run = sandbox.run(&["routine", "run-now", "ping"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert!(text(&run.stdout).trim().parse::<i64>().is_ok(), "run-now prints the job id");
    for (command, expected) in [("pause", "paused"), ("resume", "resumed"), ("remove", "removed")] {
        let out = sandbox.run(&["routine", command, "ping"]);
        assert!(out.status.success() && text(&out.stdout).contains(expected), "{command}: {}", text(&out.stderr));
    }
    let show = sandbox.run(&["routine", "show", "standup", "--json"]);
    let shown: serde_json::Value = serde_json::from_slice(&show.stdout).expect("show --json is JSON");
    assert_eq!(shown["trigger"], "cron 0 9 * * 1-5 (Europe/Berlin)");
}
