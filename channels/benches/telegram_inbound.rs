//! Inbound throughput of the Telegram channel: updates per second from a fake Bot API (on 127.0.0.1, real HTTP
//! long polling) through the channel actor into the in-memory store. Prints the figure for each sample.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chitin_channels::outbound::RateLimits;
use chitin_channels::telegram::{TelegramArgs, TelegramChannel, TelegramConfig};
use criterion::{Criterion, criterion_group, criterion_main};
use ractor::Actor;

#[allow(dead_code)]
#[path = "../tests/support/chat_ports.rs"]
mod chat_ports;
#[allow(dead_code)]
#[path = "../tests/support/fake_telegram.rs"]
mod fake_telegram;

use chat_ports::MemoryStore;
use fake_telegram::FakeTelegram;

/// Updates pushed per measured batch; `getUpdates` hands out at most 100 at a time, as Telegram does.
const BATCH: usize = 1_000;
const USERS: u64 = 8;

fn inbound_updates(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build();
    let Ok(runtime) = runtime else {
        eprintln!("cannot build a tokio runtime; benchmark skipped");
        return;
    };
    let (fake, store, channel) = runtime.block_on(async {
        let fake = FakeTelegram::start("100:BENCH").await;
        let store: Arc<MemoryStore> = MemoryStore::new();
        let config = TelegramConfig {
            enabled: true,
            bot_token: fake.token.clone(),
            api_url: fake.url.clone(),
            allowed_users: (1..=USERS).collect(),
            poll_timeout_secs: 1,
            rate_limits: RateLimits::default(),
            ..TelegramConfig::default()
        };
        let spawned = Actor::spawn(None, TelegramChannel, TelegramArgs { config, ports: store.ports() }).await;
        (fake, store, spawned.map(|(channel, _)| channel))
    });
    let Ok(channel) = channel else {
        eprintln!("the telegram channel did not start; benchmark skipped");
        return;
    };
    let mut group = c.benchmark_group("telegram_inbound");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    group.throughput(criterion::Throughput::Elements(BATCH as u64));
    group.bench_function("updates_into_store", |bencher| {
        bencher.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let before = store.recorded_count();
                let started = Instant::now();
                for index in 0..BATCH {
                    let user = (index as u64 % USERS) + 1;
                    fake.push_text(user as i64, user, black_box("benchmark message"));
                }
                runtime.block_on(async {
                    while store.recorded_count() < before + BATCH {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                });
                let elapsed = started.elapsed();
                println!(
                    "telegram inbound: {BATCH} updates recorded in {elapsed:?} = {:.0} updates/s",
                    BATCH as f64 / elapsed.as_secs_f64()
                );
                total += elapsed;
            }
            total
        });
    });
    group.finish();
    channel.stop(None);
}

criterion_group!(benches, inbound_updates);
criterion_main!(benches);
