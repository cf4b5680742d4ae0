//! The `review` policy: tool output that may carry instructions is held until the owner says whether to use it.
//!
//! The turn pauses exactly like a tool approval (the question goes to the conversation's channel, the answer
//! arrives as the next message); the model only ever sees a placeholder unless the owner says yes.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::agent::turn::{PendingApproval, TurnEnd};
use crate::llm::{ChatMessage, ToolCallId, Usage};

/// One tool result waiting for the owner.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeldOutput {
    pub call_id: ToolCallId,
    pub tool: String,
    /// The output as the model would see it on a yes (sanitized and wrapped as data).
    pub content: String,
}

/// Outputs held during one step; filled by the tool runs of that step, drained right after it.
#[derive(Debug, Default)]
pub struct HeldOutputs(Mutex<Vec<HeldOutput>>);

impl HeldOutputs {
    pub fn hold(&self, output: HeldOutput) {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(output);
    }

    fn take(&self) -> Vec<HeldOutput> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }
}

/// If the step just run held any output, the turn stops here and asks the owner; `transcript` already has the
/// placeholders, so nothing runs again on resume.
pub fn pause_if_held(held: &HeldOutputs, transcript: &[ChatMessage], usage: &Usage) -> Option<TurnEnd> {
    let outputs = held.take();
    let first = outputs.first()?;
    let tools: Vec<&str> = outputs.iter().map(|output| output.tool.as_str()).collect();
    let question = format!(
        "The output of `{}` looks like it contains instructions for me rather than data. I held it back. \
         Should I use it anyway? Reply yes or no.",
        tools.join("`, `")
    );
    let pending =
        PendingApproval { calls: Vec::new(), tool: first.tool.clone(), transcript: transcript.to_vec(), held: outputs };
    Some(TurnEnd::NeedsApproval { question, pending, usage: *usage })
}

/// The owner answered: on yes the held outputs replace their placeholders; on no they are dropped for good.
pub fn release(transcript: &mut [ChatMessage], held: Vec<HeldOutput>, approved: bool) {
    for output in held {
        for message in transcript.iter_mut() {
            if let ChatMessage::ToolResult { call_id, content, is_error } = message
                && *call_id == output.call_id
            {
                if approved {
                    *content = output.content.clone();
                } else {
                    *content = format!("the owner reviewed the output of {} and chose not to use it", output.tool);
                    *is_error = true;
                }
            }
        }
    }
}
