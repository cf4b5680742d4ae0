//! Message-bus figures: cast throughput, call round trip, restart latency, memory per idle actor.
//!
//! Run with `cargo bench -p chitin-actors --bench bus`; prints one line per figure. Not a test: nothing here asserts.

use std::time::{Duration, Instant};

use chitin_actors::supervision::{ChildSpec, RestartPolicy, Strategy, Supervisor, SupervisorSpec};
use chitin_actors::{ChildSlot, HealthProbe, SelfReport};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

struct Counter;

enum CounterMsg {
    Add,
    Get(RpcReplyPort<u64>),
    Panic,
    Health(RpcReplyPort<SelfReport>),
}

impl HealthProbe for CounterMsg {
    fn health_probe(reply: RpcReplyPort<SelfReport>) -> Self {
        CounterMsg::Health(reply)
    }
}

impl Actor for Counter {
    type Msg = CounterMsg;
    type State = u64;
    type Arguments = ();

    async fn pre_start(&self, _me: ActorRef<CounterMsg>, _: ()) -> Result<u64, ActorProcessingErr> {
        Ok(0)
    }

    async fn handle(
        &self,
        _me: ActorRef<CounterMsg>,
        msg: CounterMsg,
        count: &mut u64,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            CounterMsg::Add => *count += 1,
            CounterMsg::Get(reply) => {
                let _ = reply.send(*count);
            }
            CounterMsg::Panic => panic!("bench panic"),
            CounterMsg::Health(reply) => {
                let _ = reply.send(SelfReport::running(""));
            }
        }
        Ok(())
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0);
    pages * 4096
}

async fn cast_throughput() {
    let (actor, _) = Actor::spawn(None, Counter, ()).await.expect("spawn");
    let n = 2_000_000u64;
    let start = Instant::now();
    for _ in 0..n {
        actor.cast(CounterMsg::Add).expect("cast");
    }
    let count = ractor::call!(actor, CounterMsg::Get).expect("get");
    let elapsed = start.elapsed();
    assert_eq!(count, n);
    println!(
        "cast throughput: {:.2} M msgs/s ({n} casts in {elapsed:?}, drain included)",
        n as f64 / elapsed.as_secs_f64() / 1e6
    );
    actor.stop(None);
}

async fn call_round_trip() {
    let (actor, _) = Actor::spawn(None, Counter, ()).await.expect("spawn");
    let mut samples = Vec::with_capacity(100_000);
    for _ in 0..100_000 {
        let start = Instant::now();
        let _ = ractor::call_t!(actor, CounterMsg::Get, 1_000).expect("call");
        samples.push(start.elapsed());
    }
    samples.sort();
    println!(
        "call round trip: p50 {:?}, p99 {:?} ({} calls)",
        percentile(&samples, 0.50),
        percentile(&samples, 0.99),
        samples.len()
    );
    actor.stop(None);
}

async fn restart_latency() {
    // A silent hook: the default one formats (and with RUST_BACKTRACE=1 symbolises) each panic, which is
    // reporting cost, not supervision cost.
    std::panic::set_hook(Box::new(|_| {}));
    let slot = ChildSlot::new();
    let policy = RestartPolicy {
        initial_backoff: Duration::ZERO,
        jitter: 0.0,
        max_restarts: u32::MAX,
        ..RestartPolicy::default()
    };
    let spec = SupervisorSpec {
        name: "bench".into(),
        strategy: Strategy::OneForOne,
        children: vec![ChildSpec::new("counter", slot.clone(), || (Counter, ())).with_policy(policy)],
    };
    let (supervisor, _) = Actor::spawn(None, Supervisor, spec).await.expect("supervisor");
    let mut samples = Vec::new();
    for _ in 0..200 {
        let old = slot.get().expect("child");
        let start = Instant::now();
        old.cast(CounterMsg::Panic).expect("cast");
        loop {
            if let Some(new) = slot.get().filter(|new| new.get_id() != old.get_id())
                && ractor::call_t!(new, CounterMsg::Get, 1_000).is_ok()
            {
                break;
            }
            tokio::task::yield_now().await;
        }
        samples.push(start.elapsed());
    }
    let _ = std::panic::take_hook();
    samples.sort();
    println!(
        "restart latency (panic -> next message handled, zero backoff): p50 {:?}, p99 {:?}",
        percentile(&samples, 0.50),
        percentile(&samples, 0.99)
    );
    supervisor.stop(None);
}

async fn memory_per_idle_actor() {
    let n = 20_000;
    let before = rss_bytes();
    let mut actors = Vec::with_capacity(n);
    for _ in 0..n {
        actors.push(Actor::spawn(None, Counter, ()).await.expect("spawn").0);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = rss_bytes();
    println!(
        "memory per idle actor: {:.2} KiB ({n} actors, RSS +{} KiB)",
        (after - before) as f64 / n as f64 / 1024.0,
        (after - before) / 1024
    );
    for actor in actors {
        actor.stop(None);
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        cast_throughput().await;
        call_round_trip().await;
        restart_latency().await;
        memory_per_idle_actor().await;
    });
}
