//! The one integration test binary: fakes in `support`, one module per topic.

mod slack_channel;
mod support;
mod telegram_channel;
