//! The browser UI in real headless Chromium (Debian's `chromium` + `chromedriver`, installed by scripts/test.sh),
//! against the whole service: log in, chat with a streamed answer, search memory, cancel a job, and the wrong
//! token refused.
//! Screenshots of each step go to `target/ui-screenshots/`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chitin::store::{NewJob, now_ms};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::support::chitin::{TOKEN, TestChitin, eventually};
use crate::support::fake_llm::{Answer, Reply};
use crate::support::fake_openai;
use crate::support::process::free_port;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// A chromedriver process on a free port, killed on drop.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start() -> Driver {
        assert!(
            std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists(),
            "{CHROMEDRIVER} and {CHROMIUM} are missing: scripts/test.sh installs Debian's chromium and chromium-driver"
        );
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        Driver { child, port }
    }

    async fn session(&self) -> Client {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,900", "--no-first-run"]
            }),
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{}", self.port))
                .await
            {
                Ok(client) => return client,
                Err(error) if Instant::now() < deadline => {
                    let _ = error;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!("no WebDriver session from chromedriver: {error}"),
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn screenshots_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

async fn screenshot(browser: &Client, name: &str) {
    let png = browser.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "the screenshot is a PNG");
    std::fs::write(screenshots_dir().join(name), png).expect("save screenshot");
}

async fn text_of(browser: &Client, css: &str) -> Option<String> {
    browser.find(Locator::Css(css)).await.ok()?.text().await.ok()
}

async fn is_shown(browser: &Client, css: &str) -> bool {
    match browser.find(Locator::Css(css)).await {
        Ok(element) => element.is_displayed().await.unwrap_or(false),
        Err(_) => false,
    }
}

async fn log_in(browser: &Client, token: &str) {
    let field = browser.find(Locator::Id("token")).await.expect("token field");
    field.clear().await.expect("clear");
    field.send_keys(token).await.expect("type token");
    browser.find(Locator::Id("login-button")).await.expect("login button").click().await.expect("click");
}

#[tokio::test]
async fn the_browser_ui_logs_in_chats_with_a_streamed_answer_and_searches_memory() {
    let fake = fake_openai::start().await;
    let answer = "Basil likes warm soil and morning sun; water it when the top inch is dry.";
    fake.push(Reply::Answer(Answer::text(answer).delta_chars(6)));
    let dir = tempfile::tempdir().expect("tempdir");
    let notes = dir.path().join("data/workspace/notes/garden.md");
    std::fs::create_dir_all(notes.parent().expect("parent")).expect("mkdir");
    std::fs::write(&notes, "# Garden\n\nThe greenhouse thermostat is set to 18 degrees for the tomato seedlings.\n")
        .expect("write note");
    let chitin = TestChitin::start_in(dir, Some(&fake.base_url()), &[]).await;
    // The workspace watcher indexes the note in the background; wait for it through the same API the page uses.
    eventually("the note to be indexed", || async {
        let response = chitin
            .client
            .get(chitin.url("/api/memory/search?q=greenhouse%20thermostat"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .ok()?;
        let hits: serde_json::Value = response.json().await.ok()?;
        (hits.as_array()?.iter().any(|hit| hit["path"] == "notes/garden.md")).then_some(())
    })
    .await;

    let driver = Driver::start();
    let browser = driver.session().await;
    browser.goto(&chitin.url("/")).await.expect("open the page");
    eventually("the login form", || async { is_shown(&browser, "#login-form").await.then_some(()) }).await;

    // A wrong token is refused and says so; the app stays hidden.
    log_in(&browser, "not-the-token").await;
    let refusal =
        eventually("the refusal", || async { text_of(&browser, "#login-error").await.filter(|text| !text.is_empty()) })
            .await;
    assert!(refusal.contains("wrong token"), "{refusal}");
    assert!(!is_shown(&browser, "#app-view").await, "a wrong token must not open the app");
    screenshot(&browser, "01-login-refused.png").await;

    log_in(&browser, TOKEN).await;
    eventually("the app", || async { is_shown(&browser, "#chat-form").await.then_some(()) }).await;
    screenshot(&browser, "02-logged-in.png").await;

    // Chat: the answer arrives as a stream of deltas into one bubble.
    let input = browser.find(Locator::Id("chat-input")).await.expect("chat input");
    input.send_keys("How should I care for basil?").await.expect("type");
    browser.find(Locator::Id("chat-send")).await.expect("send").click().await.expect("click send");
    let shown = eventually("the streamed answer", || async {
        text_of(&browser, ".bubble.assistant[data-complete='true']").await
    })
    .await;
    assert_eq!(shown, answer);
    screenshot(&browser, "03-chat-streamed.png").await;
    let requests = fake.requests();
    assert_eq!(requests.len(), 1, "one turn reached the model");
    assert!(requests[0].body.to_string().contains("How should I care for basil?"));

    // The conversation is listed with its history.
    browser
        .find(Locator::Css("#tabs button[data-tab='conversations']"))
        .await
        .expect("tab")
        .click()
        .await
        .expect("click");
    let first = eventually("the conversation list", || async {
        browser.find(Locator::Css("#conversation-list li strong")).await.ok()
    })
    .await;
    first.click().await.expect("open conversation");
    let history = eventually("the history", || async {
        text_of(&browser, "#conversation-history").await.filter(|text| text.contains("Basil likes"))
    })
    .await;
    assert!(history.contains("How should I care for basil?"), "{history}");

    // Memory search finds the note, and the document opens.
    browser.find(Locator::Css("#tabs button[data-tab='memory']")).await.expect("tab").click().await.expect("click");
    browser
        .find(Locator::Id("memory-query"))
        .await
        .expect("query")
        .send_keys("greenhouse thermostat")
        .await
        .expect("type");
    browser.find(Locator::Id("memory-search")).await.expect("search").click().await.expect("click");
    let link = eventually("a memory hit", || async {
        let link = browser.find(Locator::Css("#memory-results li.hit a")).await.ok()?;
        (link.text().await.ok()? == "notes/garden.md").then_some(link)
    })
    .await;
    let snippet = text_of(&browser, "#memory-results li.hit p").await.expect("snippet");
    assert!(snippet.contains("18 degrees"), "{snippet}");
    link.click().await.expect("open document");
    let document = eventually("the document", || async {
        text_of(&browser, "#memory-document-content").await.filter(|text| !text.is_empty())
    })
    .await;
    assert!(document.contains("tomato seedlings"), "{document}");
    screenshot(&browser, "04-memory-search.png").await;

    // Jobs: a queued job (due in an hour, so no worker takes it) is listed and cancelled from the page.
    let store = chitin.service.as_ref().expect("running").store().clone();
    let job = store
        .jobs()
        .enqueue(&NewJob {
            kind: "tool",
            idempotency_key: None,
            conversation_id: None,
            payload: r#"{"tool":"echo","params":{"text":"later"}}"#,
            max_attempts: 3,
            run_after_ms: now_ms() + 3_600_000,
            priority: 0,
            max_runtime_ms: None,
        })
        .await
        .expect("enqueue")
        .job_id();
    browser.find(Locator::Css("#tabs button[data-tab='jobs']")).await.expect("tab").click().await.expect("click");
    let row = format!("#job-rows tr[data-job='{}']", job.0);
    let state = eventually("the queued job", || async { text_of(&browser, &format!("{row} td.state")).await }).await;
    assert_eq!(state, "queued");
    screenshot(&browser, "05-jobs-queued.png").await;
    browser.find(Locator::Css(&format!("{row} button.cancel"))).await.expect("cancel").click().await.expect("click");
    eventually("the job to show as cancelled", || async {
        text_of(&browser, &format!("{row} td.state")).await.filter(|state| state == "cancelled")
    })
    .await;
    let stored = store.jobs().get(job).await.expect("get").expect("job");
    assert_eq!(stored.state.as_str(), "cancelled", "the cancel reached the store");
    screenshot(&browser, "06-jobs-cancelled.png").await;

    // Status shows the actor tree.
    browser.find(Locator::Css("#tabs button[data-tab='status']")).await.expect("tab").click().await.expect("click");
    let tree = eventually("the actor tree", || async {
        text_of(&browser, "#status-tree").await.filter(|text| text.contains("running"))
    })
    .await;
    assert!(tree.contains("sessions") || tree.contains("channels"), "{tree}");
    screenshot(&browser, "07-status.png").await;

    // Logging out ends the session: the API refuses the old cookie.
    browser.find(Locator::Id("logout-button")).await.expect("logout").click().await.expect("click");
    eventually("the login form again", || async { is_shown(&browser, "#login-form").await.then_some(()) }).await;
    browser.close().await.expect("close the browser");
    chitin.stop().await;
}

#[tokio::test]
async fn the_web_api_refuses_requests_without_a_session_or_token() {
    let chitin = TestChitin::start(None, &[]).await;
    for path in ["/api/conversations", "/api/memory/search?q=x", "/api/tools", "/api/audit", "/api/jobs", "/api/status"]
    {
        let response = chitin.client.get(chitin.url(path)).send().await.expect("request");
        assert_eq!(response.status(), 401, "{path} without credentials");
        let forged = chitin
            .client
            .get(chitin.url(path))
            .header("cookie", format!("chitin_session={}", "ab".repeat(32)))
            .send()
            .await
            .expect("request");
        assert_eq!(forged.status(), 401, "{path} with a forged session");
    }
    for path in ["/api/jobs/1/cancel", "/api/routines/1/pause", "/api/routines/1/resume"] {
        let response = chitin.client.post(chitin.url(path)).send().await.expect("request");
        assert_eq!(response.status(), 401, "POST {path} without credentials");
    }
    let login = chitin.client.post(chitin.url("/login")).json(&json!({"token": "nope"})).send().await.expect("login");
    assert_eq!(login.status(), 401);
    assert!(login.headers().get("set-cookie").is_none(), "no cookie for a wrong token");

    let login = chitin.client.post(chitin.url("/login")).json(&json!({"token": TOKEN})).send().await.expect("login");
    assert_eq!(login.status(), 200);
    let cookie = login.headers().get("set-cookie").expect("cookie").to_str().expect("text").to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let session = cookie.split(';').next().expect("pair").to_string();
    let response =
        chitin.client.get(chitin.url("/api/conversations")).header("cookie", &session).send().await.expect("request");
    assert_eq!(response.status(), 200);
    let page = chitin.client.get(chitin.url("/")).send().await.expect("page");
    assert_eq!(page.status(), 200);
    let csp = page.headers().get("content-security-policy").expect("csp").to_str().expect("text").to_string();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    chitin.stop().await;
}
