// Chitin's browser UI: no framework, no build step. Every value from the server is inserted as text, never
// as HTML, so a message or document cannot inject markup into the page.
"use strict";

const $ = (id) => document.getElementById(id);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
  }
  return node;
}

function when(ms) {
  return ms ? new Date(ms).toLocaleString() : "";
}

function showError(message) {
  const banner = $("app-error");
  banner.textContent = message;
  banner.hidden = !message;
}

// fetch that sends the session cookie, parses JSON, and turns an error body into an exception.
async function api(path, options = {}) {
  const response = await fetch(path, { credentials: "same-origin", ...options });
  if (response.status === 401) {
    showLogin();
    throw new Error("Your session has ended; log in again.");
  }
  const body = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new Error((body && body.error) || `${path}: HTTP ${response.status}`);
  return body;
}

// ---- login ----

function showLogin() {
  $("app-view").hidden = true;
  $("login-view").hidden = false;
  $("token").focus();
}

function showApp() {
  $("login-view").hidden = true;
  $("app-view").hidden = false;
  $("chat-input").focus();
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("login-error").textContent = "";
  const response = await fetch("/login", {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token: $("token").value }),
  });
  if (response.ok) {
    $("token").value = "";
    showApp();
  } else {
    const body = await response.json().catch(() => ({}));
    $("login-error").textContent = body.error || `Login failed (HTTP ${response.status}).`;
  }
});

$("logout-button").addEventListener("click", async () => {
  await fetch("/logout", { method: "POST", credentials: "same-origin" });
  showLogin();
});

// ---- tabs ----

const loaders = {
  conversations: loadConversations,
  jobs: loadJobs,
  routines: loadRoutines,
  tools: loadTools,
  audit: loadAudit,
  status: loadStatus,
};

for (const button of document.querySelectorAll("#tabs button")) {
  button.addEventListener("click", () => {
    for (const other of document.querySelectorAll("#tabs button")) other.classList.toggle("active", other === button);
    for (const tab of document.querySelectorAll(".tab")) tab.hidden = tab.id !== `tab-${button.dataset.tab}`;
    showError("");
    const load = loaders[button.dataset.tab];
    if (load) load().catch((error) => showError(error.message));
  });
}

// ---- chat, streamed through the OpenAI-compatible route ----

function webConversation() {
  let id = localStorage.getItem("chitin-web-conversation");
  if (!id) {
    id = `web-${crypto.randomUUID()}`;
    localStorage.setItem("chitin-web-conversation", id);
  }
  return id;
}

function addBubble(role, text) {
  const bubble = el("div", { class: `bubble ${role}` }, text);
  $("chat-log").append(bubble);
  bubble.scrollIntoView({ block: "end" });
  return bubble;
}

// Reads `data:` lines of an SSE body and calls onData with each parsed JSON payload.
async function readEvents(response, onData) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of event.split("\n")) {
        if (!line.startsWith("data:")) continue;
        const data = line.slice(5).trim();
        if (data === "[DONE]") return;
        onData(JSON.parse(data));
      }
    }
  }
}

async function sendMessage(text) {
  addBubble("user", text);
  const answer = addBubble("assistant pending", "…");
  let received = "";
  const response = await fetch("/v1/chat/completions", {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json", "x-chitin-conversation": webConversation() },
    body: JSON.stringify({ model: "chitin", stream: true, messages: [{ role: "user", content: text }] }),
  });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    answer.textContent = body.error?.message || body.error || `The message was not accepted (HTTP ${response.status}).`;
    answer.className = "bubble error";
    return;
  }
  await readEvents(response, (chunk) => {
    const delta = chunk.choices?.[0]?.delta?.content;
    if (delta) {
      received += delta;
      answer.textContent = received;
      answer.scrollIntoView({ block: "end" });
    }
  });
  answer.classList.remove("pending");
  answer.dataset.complete = "true";
  if (!received) answer.textContent = "(no answer)";
}

$("chat-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("chat-input").value.trim();
  if (!text) return;
  $("chat-input").value = "";
  $("chat-send").disabled = true;
  try {
    await sendMessage(text);
  } catch (error) {
    showError(error.message);
  } finally {
    $("chat-send").disabled = false;
    $("chat-input").focus();
  }
});

$("chat-input").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    $("chat-form").requestSubmit();
  }
});

// ---- conversations ----

async function loadConversations() {
  const list = $("conversation-list");
  list.replaceChildren();
  for (const conversation of await api("/api/conversations")) {
    const item = el(
      "li",
      { onclick: () => loadHistory(conversation.id, item) },
      el("strong", {}, `${conversation.channel} · ${conversation.external_id}`),
      el("small", {}, when(conversation.last_activity_at_ms)),
    );
    list.append(item);
  }
  if (!list.children.length) list.append(el("li", { class: "empty" }, "No conversations yet."));
}

async function loadHistory(id, item) {
  for (const other of $("conversation-list").children) other.classList.toggle("active", other === item);
  const history = $("conversation-history");
  history.replaceChildren();
  for (const message of await api(`/api/conversations/${id}/messages`)) {
    history.append(el("div", { class: `bubble ${message.role}` }, message.body, el("small", {}, when(message.created_at_ms))));
  }
}

// ---- memory ----

$("memory-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("");
  const results = $("memory-results");
  results.replaceChildren();
  $("memory-document").hidden = true;
  try {
    const hits = await api(`/api/memory/search?q=${encodeURIComponent($("memory-query").value)}&limit=10`);
    for (const hit of hits) {
      results.append(
        el(
          "li",
          { class: "hit" },
          el("a", { href: "#", onclick: (e) => { e.preventDefault(); openDocument(hit.path); } }, hit.path),
          el("small", {}, ` score ${hit.score.toFixed(4)}`),
          el("p", {}, hit.text),
        ),
      );
    }
    if (!hits.length) results.append(el("li", { class: "empty" }, "Nothing found."));
  } catch (error) {
    showError(error.message);
  }
});

async function openDocument(path) {
  const document_ = await api(`/api/memory/document?path=${encodeURIComponent(path)}`);
  $("memory-document-path").textContent = document_.path;
  $("memory-document-content").textContent = document_.content;
  $("memory-document").hidden = false;
}

// ---- jobs and routines ----

async function loadJobs() {
  const rows = $("job-rows");
  rows.replaceChildren();
  for (const job of await api("/api/jobs")) {
    const active = job.state === "queued" || job.state === "running" || job.state === "retrying";
    const cancel = el("button", { class: "cancel", dataset: { job: job.id } }, "Cancel");
    cancel.disabled = !active;
    cancel.addEventListener("click", async () => {
      try {
        await api(`/api/jobs/${job.id}/cancel`, { method: "POST" });
        await loadJobs();
      } catch (error) {
        showError(error.message);
      }
    });
    rows.append(
      el("tr", { dataset: { job: job.id, state: job.state } },
        el("td", {}, job.id), el("td", {}, job.kind), el("td", { class: "state" }, job.state),
        el("td", {}, job.attempts), el("td", {}, job.node ?? ""), el("td", {}, cancel)),
    );
  }
}

async function loadRoutines() {
  const rows = $("routine-rows");
  rows.replaceChildren();
  for (const routine of await api("/api/routines")) {
    const toggle = el("button", {}, routine.paused ? "Resume" : "Pause");
    toggle.addEventListener("click", async () => {
      try {
        await api(`/api/routines/${routine.id}/${routine.paused ? "resume" : "pause"}`, { method: "POST" });
        await loadRoutines();
      } catch (error) {
        showError(error.message);
      }
    });
    rows.append(
      el("tr", { dataset: { routine: routine.id } },
        el("td", {}, routine.id), el("td", {}, routine.name), el("td", {}, routine.trigger),
        el("td", {}, when(routine.next_fire_at_ms)), el("td", {}, routine.paused ? "paused" : "active"), el("td", {}, toggle)),
    );
  }
}

// ---- tools, audit, status ----

async function loadTools() {
  const rows = $("tool-rows");
  rows.replaceChildren();
  for (const tool of await api("/api/tools")) {
    const capabilities = el("ul", {}, ...tool.capabilities.map((capability) => el("li", {}, capability)));
    if (!tool.capabilities.length) capabilities.append(el("li", {}, "none"));
    rows.append(el("tr", {}, el("td", {}, tool.name), el("td", {}, tool.version),
      el("td", {}, tool.approved ? "yes" : "no"), el("td", {}, capabilities), el("td", { class: "hash" }, tool.hash)));
  }
}

async function loadAudit() {
  const rows = $("audit-rows");
  rows.replaceChildren();
  for (const entry of await api("/api/audit?limit=200")) {
    rows.append(el("tr", {}, el("td", {}, entry.id), el("td", {}, when(entry.at_ms)), el("td", {}, entry.kind),
      el("td", {}, entry.subject), el("td", { class: "detail" }, JSON.stringify(entry.detail))));
  }
}

function statusNode(node) {
  const restarts = node.restarts ? ` · ${node.restarts} restarts` : "";
  const item = el("li", { class: `state-${node.state}` }, el("strong", {}, node.name), ` ${node.state}${restarts}`);
  if (node.detail) item.append(el("small", {}, ` ${node.detail}`));
  if (node.children?.length) item.append(el("ul", {}, ...node.children.map(statusNode)));
  return item;
}

async function loadStatus() {
  $("status-tree").replaceChildren(statusNode(await api("/api/status")));
}

// ---- start ----

fetch("/api/session", { credentials: "same-origin" })
  .then((response) => (response.ok ? showApp() : showLogin()))
  .catch(() => showLogin());
