//! The terminal channel: line editing and history on a TTY, plain lines when piped; streams answers as they come.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use chitin_actors::{ChannelKind, ConversationId, ReplyEvent};
use tokio::sync::{broadcast, mpsc};
use tracing::warn;

use crate::ports::{Incoming, Intake};

const HELP: &str = "Type a message and press Enter. Commands:\n  /help  this text\n  /new   start a new conversation\n  /quit  stop Chitin\n";
/// Longest the REPL waits for one answer before giving the prompt back (the answer stays in history).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(600);

/// Why the REPL ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplExit {
    /// The user typed `/quit`: stop Chitin.
    Quit,
    /// Input ended (EOF, or no terminal): the service keeps running without a REPL.
    InputClosed,
}

/// Reads lines on a blocking thread (rustyline on a terminal, plain reads otherwise) and forwards them.
fn spawn_line_reader() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        if std::io::stdin().is_terminal() {
            let Ok(mut editor) = rustyline::DefaultEditor::new() else { return };
            while let Ok(line) = editor.readline("you> ") {
                let _ = editor.add_history_entry(line.as_str());
                if tx.blocking_send(line).is_err() {
                    return;
                }
            }
        } else {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { return };
                if tx.blocking_send(line).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

/// Runs the REPL until `/quit` or the end of input.
pub async fn run(intake: Arc<dyn Intake>, greeting: &str) -> ReplExit {
    let mut lines = spawn_line_reader();
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{greeting}\nType /help for commands.");
    let mut conversation = "local".to_string();
    while let Some(line) = lines.recv().await {
        let text = line.trim();
        match text {
            "" => continue,
            "/quit" | "/exit" => return ReplExit::Quit,
            "/help" => {
                let _ = write!(out, "{HELP}");
            }
            "/new" => {
                conversation = format!("local-{}", uuid::Uuid::now_v7().simple());
                let _ = writeln!(out, "(new conversation)");
            }
            _ if text.starts_with('/') => {
                let _ = writeln!(out, "unknown command {text}; /help lists them");
            }
            _ => ask(&intake, &conversation, text, &mut out).await,
        }
        let _ = out.flush();
    }
    ReplExit::InputClosed
}

async fn ask(intake: &Arc<dyn Intake>, conversation: &str, text: &str, out: &mut std::io::Stdout) {
    let id = ConversationId::new(ChannelKind::Repl, conversation);
    let mut events = intake.replies().subscribe(&id);
    let incoming = Incoming {
        channel: ChannelKind::Repl,
        external_conversation_id: conversation.to_string(),
        platform_message_id: uuid::Uuid::now_v7().to_string(),
        sender: "local".into(),
        text: text.to_string(),
    };
    let record_id = match intake.submit(incoming).await {
        Ok(submitted) => submitted.record_id(),
        Err(failure) => {
            let _ = writeln!(out, "chitin> (not sent: {failure})");
            return;
        }
    };
    let _ = write!(out, "chitin> ");
    let _ = out.flush();
    let mut streamed = false;
    let deadline = tokio::time::sleep(ANSWER_TIMEOUT);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(ReplyEvent::Delta { in_reply_to, text }) if in_reply_to == record_id => {
                    streamed = true;
                    let _ = write!(out, "{text}");
                    let _ = out.flush();
                }
                Ok(ReplyEvent::Final(reply)) if reply.in_reply_to == record_id => {
                    if streamed { let _ = writeln!(out); } else { let _ = writeln!(out, "{}", reply.text); }
                    if let Err(failure) = intake.delivered(reply.outbox_id).await {
                        warn!(%failure, "could not mark a terminal reply delivered");
                    }
                    return;
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
            () = &mut deadline => {
                let _ = writeln!(out, "\n(no answer yet; it will be in the history)");
                return;
            }
        }
    }
}
