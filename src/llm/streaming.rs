//! Turns a provider's server-sent events into Chitin's [`StreamEvent`]s, ending in one `Done`.

use std::collections::VecDeque;

use eventsource_stream::Event;
use futures::StreamExt;
use futures::stream::{self, BoxStream};

use super::error::LlmError;
use super::transport::SseEvents;
use super::types::{ChatResponse, StreamEvent};

/// A streamed answer: deltas as they arrive, then `Usage`, then `Done` with the whole answer.
/// An `Err` item is always the last one.
pub type ChatStream = BoxStream<'static, Result<StreamEvent, LlmError>>;

/// Whether the provider has said the answer is complete.
pub(crate) enum Progress {
    More,
    Complete,
}

/// One protocol's reading of its event stream.
pub(crate) trait SseDecoder: Send + 'static {
    /// Handles one event, appending what the user should see now to `out`.
    fn on_event(&mut self, event: &Event, out: &mut Vec<StreamEvent>) -> Result<Progress, LlmError>;

    /// The whole answer, once the stream has ended (or the provider said it is complete).
    fn into_response(self) -> Result<ChatResponse, LlmError>;
}

struct DecodeState<D> {
    events: SseEvents,
    /// `None` once the stream has ended, successfully or not.
    decoder: Option<D>,
    pending: VecDeque<StreamEvent>,
}

/// Drives `decoder` over `events`. Stops reading as soon as the provider marks the answer
/// complete, so trailing bytes or a late disconnect cannot turn a good answer into an error.
pub(crate) fn decode<D: SseDecoder>(events: SseEvents, decoder: D) -> ChatStream {
    let state = DecodeState { events, decoder: Some(decoder), pending: VecDeque::new() };
    stream::unfold(state, |mut state| async move {
        loop {
            if let Some(event) = state.pending.pop_front() {
                return Some((Ok(event), state));
            }
            let decoder = state.decoder.as_mut()?;
            let complete = match state.events.next().await {
                Some(Ok(event)) => {
                    let mut out = Vec::new();
                    match decoder.on_event(&event, &mut out) {
                        Ok(progress) => {
                            state.pending.extend(out);
                            matches!(progress, Progress::Complete)
                        }
                        Err(error) => {
                            state.decoder = None;
                            return Some((Err(error), state));
                        }
                    }
                }
                Some(Err(error)) => {
                    state.decoder = None;
                    return Some((Err(error), state));
                }
                None => true,
            };
            if complete {
                let decoder = state.decoder.take()?;
                match decoder.into_response() {
                    Ok(response) => {
                        tracing::debug!(
                            input_tokens = response.usage.input_tokens,
                            output_tokens = response.usage.output_tokens,
                            tool_calls = response.tool_calls.len(),
                            "streamed answer complete"
                        );
                        state.pending.push_back(StreamEvent::Usage(response.usage));
                        state.pending.push_back(StreamEvent::Done(response));
                    }
                    Err(error) => return Some((Err(error), state)),
                }
            }
        }
    })
    .boxed()
}
