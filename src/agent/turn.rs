//! One agent turn: call the model, run the tools it asks for (in parallel), feed results back, until an answer.

use std::sync::Arc;
use std::time::Duration;

use chitin_actors::{ConversationId, ReplyEvent, ReplyHub};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::{debug, info, warn};

use crate::agent::approvals::AlwaysApproved;
use crate::agent::guard::OutputGuard;
use crate::agent::prompt;
use crate::agent::review::{self, HeldOutput, HeldOutputs};
use crate::llm::{ChatMessage, ChatRequest, ChatResponse, LlmError, LlmProvider, StreamEvent, ToolCall, Usage};
use crate::security_audit;
use crate::store::{AuditEntry, AuditLog};
use crate::tools::{ToolContext, ToolError, ToolRegistry};

/// Limits of one turn.
#[derive(Debug, Clone)]
pub struct TurnLimits {
    pub max_steps: usize,
    pub tool_timeout: Duration,
}

/// Where a turn ended.
#[derive(Debug)]
pub enum TurnEnd {
    /// The model answered.
    Answer { text: String, usage: Usage },
    /// A tool needs the owner's approval first; the turn resumes from `pending` on the answer.
    NeedsApproval { question: String, pending: PendingApproval, usage: Usage },
}

/// A paused turn, stored until the owner answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingApproval {
    /// The calls of the paused step, all run once approved.
    pub calls: Vec<ToolCall>,
    /// The tool whose approval is asked.
    pub tool: String,
    /// Everything sent so far in this turn, including the assistant's tool-call message.
    pub transcript: Vec<ChatMessage>,
    /// Tool outputs held for the owner's review (`review` policy); empty for a tool approval.
    #[serde(default)]
    pub held: Vec<HeldOutput>,
}

/// What a turn needs, borrowed from the agent.
pub struct TurnContext<'a> {
    pub llm: &'a dyn LlmProvider,
    pub tools: &'a ToolRegistry,
    pub hub: &'a ReplyHub,
    pub conversation: &'a ConversationId,
    pub in_reply_to: i64,
    pub system: String,
    pub limits: &'a TurnLimits,
    /// Tools the owner approved "always".
    pub always_approved: &'a AlwaysApproved<'a>,
    pub guard: &'a OutputGuard,
    /// Every tool execution is appended to the hash-chained audit log.
    pub audit: &'a AuditLog,
    /// Outputs of the current step held for review.
    pub held: &'a HeldOutputs,
}

/// Runs model steps from `transcript` until an answer, an approval question, or the step limit.
pub async fn run(context: &TurnContext<'_>, mut transcript: Vec<ChatMessage>) -> Result<TurnEnd, LlmError> {
    let specs = context.tools.specs();
    let mut usage = Usage::default();
    for step in 0..context.limits.max_steps {
        // The transcript goes into the request and comes back after the call, instead of being copied for it.
        let request = ChatRequest {
            system: Some(context.system.clone()),
            messages: transcript,
            tools: Arc::clone(&specs),
            max_tokens: None,
            temperature: None,
        };
        let prompt_bytes = prompt::request_bytes(&context.system, &request.messages, context.tools.specs_bytes());
        debug!(step, prompt_bytes, messages = request.messages.len(), tools = specs.len(), "calling the model");
        let response = stream_response(context, &request).await;
        transcript = request.messages;
        let response = response?;
        usage.input_tokens += response.usage.input_tokens;
        usage.output_tokens += response.usage.output_tokens;
        if response.tool_calls.is_empty() {
            return Ok(TurnEnd::Answer { text: response.text, usage });
        }
        transcript
            .push(ChatMessage::Assistant { content: response.text.clone(), tool_calls: response.tool_calls.clone() });
        if let Some(tool) = first_needing_approval(context, &response.tool_calls).await {
            let question = approval_question(&tool, &response.tool_calls);
            let pending = PendingApproval { calls: response.tool_calls, tool, transcript, held: Vec::new() };
            return Ok(TurnEnd::NeedsApproval { question, pending, usage });
        }
        transcript.extend(run_tools(context, &response.tool_calls).await);
        if let Some(paused) = review::pause_if_held(context.held, &transcript, &usage) {
            return Ok(paused);
        }
    }
    warn!(max_steps = context.limits.max_steps, "turn reached the step limit");
    Ok(TurnEnd::Answer {
        text: format!("I stopped after {} steps without finishing; tell me how to continue.", context.limits.max_steps),
        usage,
    })
}

/// Streams one model call, publishing text deltas as they arrive.
async fn stream_response(context: &TurnContext<'_>, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
    let mut stream = context.llm.stream(request).await?;
    while let Some(event) = stream.next().await {
        match event? {
            StreamEvent::TextDelta(text) => {
                context.hub.publish(context.conversation, ReplyEvent::Delta { in_reply_to: context.in_reply_to, text });
            }
            StreamEvent::Done(response) => return Ok(response),
            StreamEvent::ToolCall(_) | StreamEvent::Usage(_) => {}
        }
    }
    Err(LlmError::StreamDropped { provider: context.llm.id().clone() })
}

async fn first_needing_approval(context: &TurnContext<'_>, calls: &[ToolCall]) -> Option<String> {
    for call in calls {
        if context.tools.needs_approval(&call.name) && !context.always_approved.contains(&call.name).await {
            return Some(call.name.clone());
        }
    }
    None
}

fn approval_question(tool: &str, calls: &[ToolCall]) -> String {
    let arguments =
        calls.iter().find(|call| call.name == tool).map(|call| call.arguments.to_string()).unwrap_or_default();
    format!("I want to run the tool `{tool}` with {arguments}. Reply yes, no, or always (always allow {tool}).")
}

/// Runs every call of one step concurrently; each result (or error) becomes a tool-result message.
pub async fn run_tools(context: &TurnContext<'_>, calls: &[ToolCall]) -> Vec<ChatMessage> {
    let tool_context = ToolContext { conversation: context.conversation.to_string() };
    let runs = calls.iter().map(|call| {
        let tool_context = &tool_context;
        async move {
            let started = std::time::Instant::now();
            let outcome = run_one(context.tools, tool_context, call, context.limits.tool_timeout).await;
            record(context, call, &outcome, started.elapsed()).await;
            let (content, is_error) = match outcome {
                Ok(output) => (guard_output(context, call, &output).await, false),
                Err(error) => (error.to_string(), true),
            };
            info!(tool = %call.name, is_error, "tool call finished");
            ChatMessage::ToolResult { call_id: call.id.clone(), content, is_error }
        }
    });
    futures::future::join_all(runs).await
}

/// The safety guard on one output: its decisions go to the audit log, held output waits for review.
async fn guard_output(context: &TurnContext<'_>, call: &ToolCall, output: &str) -> String {
    let guarded = context.guard.tool_output(&call.name, output);
    security_audit::record_all(context.audit, context.conversation.as_str(), &call.name, &guarded.decisions).await;
    if let Some(content) = guarded.held {
        context.held.hold(HeldOutput { call_id: call.id.clone(), tool: call.name.clone(), content });
    }
    guarded.content
}

/// Appends the call to the audit log: parameters with credentials redacted, outcome, duration.
async fn record(context: &TurnContext<'_>, call: &ToolCall, outcome: &Result<String, ToolError>, took: Duration) {
    let detail = serde_json::json!({
        "parameters": context.guard.redact(&call.arguments.to_string()),
        "outcome": match outcome { Ok(_) => "ok".to_string(), Err(error) => error.to_string() },
        "duration_ms": took.as_millis() as u64,
        "call_id": call.id.to_string(),
    });
    let entry =
        AuditEntry { actor: context.conversation.as_str(), action: "tool_call", target: &call.name, detail: &detail };
    if let Err(error) = context.audit.append(&entry).await {
        warn!(%error, tool = %call.name, "could not write the audit entry");
    }
    crate::metrics::tool_called(&call.name, tool_outcome_label(outcome));
}

/// A small fixed set of outcomes, so the metric's label values stay bounded.
fn tool_outcome_label(outcome: &Result<String, ToolError>) -> &'static str {
    match outcome {
        Ok(_) => "ok",
        Err(ToolError::Unknown { .. }) => "unknown_tool",
        Err(ToolError::InvalidParameters { .. }) => "invalid_parameters",
        Err(ToolError::Unavailable { .. }) => "unavailable",
        Err(ToolError::Failed { .. }) => "failed",
    }
}

async fn run_one(
    tools: &ToolRegistry,
    context: &ToolContext,
    call: &ToolCall,
    timeout: Duration,
) -> Result<String, ToolError> {
    let tool = tools.validate(&call.name, &call.arguments)?;
    let arguments: Value = call.arguments.clone();
    match tokio::time::timeout(timeout, tool.call(context, arguments)).await {
        Ok(result) => result,
        Err(_) => Err(ToolError::Failed { tool: call.name.clone(), reason: format!("timed out after {timeout:?}") }),
    }
}

/// Resumes a paused turn: run the calls when approved, or tell the model the owner declined.
pub async fn resume(context: &TurnContext<'_>, pending: PendingApproval, approved: bool) -> Result<TurnEnd, LlmError> {
    let mut transcript = pending.transcript;
    if !pending.held.is_empty() {
        review::release(&mut transcript, pending.held, approved);
    } else if approved {
        transcript.extend(run_tools(context, &pending.calls).await);
        if let Some(paused) = review::pause_if_held(context.held, &transcript, &Usage::default()) {
            return Ok(paused);
        }
    } else {
        transcript.extend(pending.calls.iter().map(|call| ChatMessage::ToolResult {
            call_id: call.id.clone(),
            content: format!("the owner declined to run {}", call.name),
            is_error: true,
        }));
    }
    run(context, transcript).await
}
