//! Draft messages: a partial answer shown while the agent still writes, edited at a bounded rate, and finally
//! replaced by the real reply.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Identifies a draft: the chat and the user message it answers.
pub type DraftKey = (i64, i32);

/// What to do on Telegram for a draft right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DraftStep {
    /// First text of this draft: send a new message.
    Send(String),
    /// Show newer text in the draft message.
    Edit { message_id: i32, text: String },
}

#[derive(Debug)]
struct Draft {
    message_id: Option<i32>,
    shown: String,
    latest: String,
    last_shown: Option<Instant>,
    /// A send or edit is under way; nothing else starts until it reports back.
    in_flight: bool,
}

/// A late draft update for a message already answered is ignored for this long after the reply went out.
const FINISHED_MEMORY: Duration = Duration::from_secs(600);

#[derive(Debug, Default)]
struct Book {
    drafts: HashMap<DraftKey, Draft>,
    /// Messages whose final reply went out, with when: a draft update that arrives after it (the relay runs
    /// apart from delivery) must not start a new draft that nothing would ever replace.
    finished: HashMap<DraftKey, Instant>,
}

/// Drafts of one channel, shared by the actor (which shows them) and delivery (which replaces them).
#[derive(Debug)]
pub struct Drafts {
    edit_every: Duration,
    book: Mutex<Book>,
}

impl Drafts {
    pub fn new(edit_every: Duration) -> Self {
        Self { edit_every, book: Mutex::new(Book::default()) }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Book) -> T) -> T {
        match self.book.lock() {
            Ok(mut guard) => f(&mut guard),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// Takes newer text for a draft; returns the step to take now, if the edit rate allows one.
    pub fn update(&self, key: DraftKey, text: String, now: Instant) -> Option<DraftStep> {
        let edit_every = self.edit_every;
        self.with(|book| match book.drafts.get_mut(&key) {
            None if book.finished.contains_key(&key) => None,
            None => {
                let draft = Draft {
                    message_id: None,
                    shown: String::new(),
                    latest: text.clone(),
                    last_shown: None,
                    in_flight: true,
                };
                book.drafts.insert(key, draft);
                Some(DraftStep::Send(text))
            }
            Some(draft) => {
                draft.latest = text;
                next_step(draft, now, edit_every)
            }
        })
    }

    /// Timer: steps for drafts whose newer text waited for the edit rate.
    pub fn due(&self, now: Instant) -> Vec<(DraftKey, DraftStep)> {
        let edit_every = self.edit_every;
        self.with(|book| {
            book.finished.retain(|_, at| now.saturating_duration_since(*at) < FINISHED_MEMORY);
            book.drafts
                .iter_mut()
                .filter_map(|(key, draft)| next_step(draft, now, edit_every).map(|step| (*key, step)))
                .collect()
        })
    }

    /// A send or edit finished; `message_id` is the draft message (`None` if it failed). Returns true when the
    /// draft was replaced by the final reply meanwhile, so the message just sent is an orphan to delete.
    pub fn shown(&self, key: DraftKey, message_id: Option<i32>, text: String, now: Instant) -> bool {
        self.with(|book| match book.drafts.get_mut(&key) {
            Some(draft) => {
                draft.in_flight = false;
                if let Some(message_id) = message_id {
                    draft.message_id = Some(message_id);
                    draft.shown = text;
                    draft.last_shown = Some(now);
                }
                false
            }
            None => message_id.is_some(),
        })
    }

    /// The final reply is here: forgets the draft and returns its message, which the reply's first part replaces.
    pub fn finish(&self, key: DraftKey, now: Instant) -> Option<i32> {
        self.with(|book| {
            book.finished.insert(key, now);
            book.drafts.remove(&key).and_then(|draft| draft.message_id)
        })
    }
}

fn next_step(draft: &mut Draft, now: Instant, edit_every: Duration) -> Option<DraftStep> {
    let message_id = draft.message_id?;
    let rested = draft.last_shown.is_none_or(|last| now >= last + edit_every);
    if draft.in_flight || !rested || draft.latest == draft.shown {
        return None;
    }
    draft.in_flight = true;
    Some(DraftStep::Edit { message_id, text: draft.latest.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_text_sends_then_edits_at_most_once_per_interval() {
        let drafts = Drafts::new(Duration::from_secs(1));
        let start = Instant::now();
        assert_eq!(drafts.update((1, 7), "Thinking".into(), start), Some(DraftStep::Send("Thinking".into())));
        assert_eq!(drafts.update((1, 7), "Thinking about".into(), start), None, "the send is still in flight");
        assert!(!drafts.shown((1, 7), Some(50), "Thinking".into(), start));
        assert_eq!(drafts.due(start + Duration::from_millis(500)), vec![], "too soon after the last edit");
        let later = start + Duration::from_secs(1);
        let edit = DraftStep::Edit { message_id: 50, text: "Thinking about".into() };
        assert_eq!(drafts.due(later), vec![((1, 7), edit)]);
        assert_eq!(drafts.update((1, 7), "Thinking about it".into(), later), None, "one edit at a time");
    }

    #[test]
    fn the_final_reply_takes_over_the_draft_message() {
        let drafts = Drafts::new(Duration::from_secs(1));
        let now = Instant::now();
        drafts.update((1, 7), "Draft".into(), now);
        drafts.shown((1, 7), Some(50), "Draft".into(), now);
        assert_eq!(drafts.finish((1, 7), now), Some(50));
        assert_eq!(drafts.finish((1, 7), now), None);
    }

    #[test]
    fn a_draft_update_after_the_final_reply_starts_no_new_draft() {
        let drafts = Drafts::new(Duration::from_secs(1));
        let now = Instant::now();
        assert_eq!(drafts.finish((1, 7), now), None, "answered before any draft was shown");
        assert_eq!(drafts.update((1, 7), "late words".into(), now), None);
        assert_eq!(
            drafts.update((1, 8), "another message".into(), now),
            Some(DraftStep::Send("another message".into()))
        );
        let much_later = now + FINISHED_MEMORY;
        assert_eq!(drafts.due(much_later), vec![], "the in-flight draft of (1, 8) waits for its send");
        assert_eq!(drafts.update((1, 7), "a new turn".into(), much_later), Some(DraftStep::Send("a new turn".into())));
    }

    #[test]
    fn a_draft_sent_after_the_final_reply_is_an_orphan() {
        let drafts = Drafts::new(Duration::from_secs(1));
        let now = Instant::now();
        drafts.update((1, 7), "Draft".into(), now);
        assert_eq!(drafts.finish((1, 7), now), None, "not shown yet: the reply goes out as a new message");
        assert!(drafts.shown((1, 7), Some(51), "Draft".into(), now), "so the late draft must be deleted");
    }
}
