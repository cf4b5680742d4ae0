//! Supervision behaviour, observed on real actors: restarts with backoff, escalation, isolation, shutdown order.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef, ActorStatus, RpcReplyPort, SupervisionEvent};
use tokio::sync::mpsc;

use crate::health::{ActorState, HealthProbe, SelfReport};
use crate::slot::ChildSlot;
use crate::supervision::{ChildSpec, RestartPolicy, Strategy, Supervisor, SupervisorMsg, SupervisorSpec};

#[derive(Debug, Clone, PartialEq)]
enum Event {
    Started(&'static str, Instant),
    Panicking(&'static str, Instant),
    Stopped(&'static str),
}

type Log = Arc<Mutex<Vec<Event>>>;

struct Crashy;

enum CrashyMsg {
    Panic,
    Fail,
    Slow(Duration, RpcReplyPort<&'static str>),
    Health(RpcReplyPort<SelfReport>),
}

impl HealthProbe for CrashyMsg {
    fn health_probe(reply: RpcReplyPort<SelfReport>) -> Self {
        CrashyMsg::Health(reply)
    }
}

impl Actor for Crashy {
    type Msg = CrashyMsg;
    type State = (&'static str, Log);
    type Arguments = (&'static str, Log);

    async fn pre_start(
        &self,
        _me: ActorRef<CrashyMsg>,
        args: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        args.1.lock().expect("log").push(Event::Started(args.0, Instant::now()));
        Ok(args)
    }

    async fn handle(
        &self,
        _me: ActorRef<CrashyMsg>,
        msg: CrashyMsg,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            CrashyMsg::Panic => {
                st.1.lock().expect("log").push(Event::Panicking(st.0, Instant::now()));
                panic!("{} was told to panic", st.0);
            }
            CrashyMsg::Fail => Err(format!("{} was told to fail", st.0).into()),
            CrashyMsg::Slow(delay, reply) => {
                tokio::time::sleep(delay).await;
                let _ = reply.send(st.0);
                Ok(())
            }
            CrashyMsg::Health(reply) => {
                let _ = reply.send(SelfReport::running(""));
                Ok(())
            }
        }
    }

    async fn post_stop(&self, _me: ActorRef<CrashyMsg>, st: &mut Self::State) -> Result<(), ActorProcessingErr> {
        st.1.lock().expect("log").push(Event::Stopped(st.0));
        Ok(())
    }
}

/// Stands in for a parent so escalation can be observed rather than assumed.
struct Observer;

impl Actor for Observer {
    type Msg = ();
    type State = mpsc::UnboundedSender<String>;
    type Arguments = mpsc::UnboundedSender<String>;

    async fn pre_start(&self, _me: ActorRef<()>, tx: Self::Arguments) -> Result<Self::State, ActorProcessingErr> {
        Ok(tx)
    }

    async fn handle_supervisor_evt(
        &self,
        _me: ActorRef<()>,
        event: SupervisionEvent,
        tx: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if let SupervisionEvent::ActorFailed(_, reason) = event {
            let _ = tx.send(reason.to_string());
        }
        Ok(())
    }
}

fn crashy(name: &'static str, slot: &ChildSlot<CrashyMsg>, log: &Log, policy: &RestartPolicy) -> ChildSpec {
    let log = Arc::clone(log);
    ChildSpec::new(name, slot.clone(), move || (Crashy, (name, Arc::clone(&log)))).with_policy(policy.clone())
}

fn starts(log: &Log, name: &str) -> Vec<Instant> {
    log.lock()
        .expect("log")
        .iter()
        .filter_map(|e| match e {
            Event::Started(n, at) if *n == name => Some(*at),
            _ => None,
        })
        .collect()
}

fn panics(log: &Log, name: &str) -> Vec<Instant> {
    log.lock()
        .expect("log")
        .iter()
        .filter_map(|e| match e {
            Event::Panicking(n, at) if *n == name => Some(*at),
            _ => None,
        })
        .collect()
}

async fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn slow_policy() -> RestartPolicy {
    RestartPolicy {
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(10),
        multiplier: 3.0,
        jitter: 0.0,
        max_restarts: 3,
        window: Duration::from_secs(60),
    }
}

#[tokio::test]
async fn panicking_child_restarts_with_growing_delays_then_escalates() {
    let log: Log = Arc::default();
    let slot = ChildSlot::new();
    let (tx, mut failures) = mpsc::unbounded_channel();
    let (observer, _) = Actor::spawn(None, Observer, tx).await.expect("observer");
    let spec = SupervisorSpec {
        name: "test".into(),
        strategy: Strategy::OneForOne,
        children: vec![crashy("a", &slot, &log, &slow_policy())],
    };
    let (supervisor, _) = Actor::spawn_linked(None, Supervisor, spec, observer.get_cell()).await.expect("supervisor");

    for round in 1..=3 {
        let child = slot.get().expect("child is up");
        child.cast(CrashyMsg::Panic).expect("cast");
        wait_for("restart", || starts(&log, "a").len() == round + 1).await;
        assert!(slot.get().expect("new child").get_id() != child.get_id(), "slot must follow the restart");
    }
    let (starts, panics) = (starts(&log, "a"), panics(&log, "a"));
    let delays: Vec<Duration> =
        panics.iter().zip(&starts[1..]).map(|(panic, start)| start.duration_since(*panic)).collect();
    for (delay, nominal_ms) in delays.iter().zip([100u64, 300, 900]) {
        assert!(*delay >= Duration::from_millis(nominal_ms), "delay {delay:?} shorter than backoff {nominal_ms} ms");
    }
    // Growth without comparing two noisy measurements: the first wait stays far below the third's nominal
    // backoff (a loaded machine only ever lengthens waits, and by far less than 800 ms).
    assert!(delays[0] < Duration::from_millis(900), "the first backoff must be the short one: {delays:?}");

    slot.get().expect("child").cast(CrashyMsg::Fail).expect("cast");
    let reason =
        tokio::time::timeout(Duration::from_secs(10), failures.recv()).await.expect("escalation").expect("event");
    assert!(reason.contains("exceeded its restart budget"), "{reason}");
    wait_for("supervisor to end", || supervisor.get_status() == ActorStatus::Stopped).await;
    wait_for("child to be killed with its supervisor", || {
        slot.get().is_some_and(|c| c.get_status() == ActorStatus::Stopped)
    })
    .await;
}

#[tokio::test]
async fn a_failing_child_does_not_disturb_a_siblings_request() {
    let log: Log = Arc::default();
    let (calm, wild) = (ChildSlot::new(), ChildSlot::new());
    let policy = RestartPolicy { initial_backoff: Duration::from_millis(1), ..slow_policy() };
    let spec = SupervisorSpec {
        name: "test".into(),
        strategy: Strategy::OneForOne,
        children: vec![crashy("calm", &calm, &log, &policy), crashy("wild", &wild, &log, &policy)],
    };
    let (supervisor, _) = Actor::spawn(None, Supervisor, spec).await.expect("supervisor");
    let calm_ref = calm.get().expect("calm");
    let request =
        tokio::spawn(
            async move { ractor::call_t!(calm_ref, |r| CrashyMsg::Slow(Duration::from_millis(300), r), 5_000) },
        );
    tokio::time::sleep(Duration::from_millis(20)).await;
    wild.get().expect("wild").cast(CrashyMsg::Panic).expect("cast");
    assert_eq!(request.await.expect("join").expect("sibling answered"), "calm");
    wait_for("wild restarted", || starts(&log, "wild").len() == 2).await;
    assert_eq!(starts(&log, "calm").len(), 1, "one-for-one must not restart the sibling");

    let report = ractor::call_t!(supervisor, SupervisorMsg::Health, 2_000).expect("health");
    let wild_node = report.children.iter().find(|c| c.name == "wild").expect("wild listed");
    assert_eq!((wild_node.state, wild_node.restarts), (ActorState::Running, 1));
    supervisor.stop_and_wait(None, Some(Duration::from_secs(5))).await.expect("stop");
}

#[tokio::test]
async fn one_for_all_restarts_the_whole_group() {
    let log: Log = Arc::default();
    let (first, second) = (ChildSlot::new(), ChildSlot::new());
    let policy = RestartPolicy { initial_backoff: Duration::from_millis(1), ..slow_policy() };
    let spec = SupervisorSpec {
        name: "group".into(),
        strategy: Strategy::OneForAll,
        children: vec![crashy("first", &first, &log, &policy), crashy("second", &second, &log, &policy)],
    };
    let (supervisor, _) = Actor::spawn(None, Supervisor, spec).await.expect("supervisor");
    second.get().expect("second").cast(CrashyMsg::Fail).expect("cast");
    wait_for("group restart", || starts(&log, "first").len() == 2 && starts(&log, "second").len() == 2).await;
    assert!(
        log.lock().expect("log").contains(&Event::Stopped("first")),
        "the healthy sibling is stopped before the group restarts"
    );
    let report = ractor::call_t!(supervisor, SupervisorMsg::Health, 2_000).expect("health");
    assert!(report.children.iter().all(|c| c.state == ActorState::Running && c.restarts == 1), "{report:?}");
    supervisor.stop_and_wait(None, Some(Duration::from_secs(5))).await.expect("stop");
}

#[tokio::test]
async fn shutdown_stops_children_before_the_supervisor_returns() {
    let log: Log = Arc::default();
    let (a, b) = (ChildSlot::new(), ChildSlot::new());
    let policy = slow_policy();
    let inner = SupervisorSpec {
        name: "inner".into(),
        strategy: Strategy::OneForOne,
        children: vec![crashy("b", &b, &log, &policy)],
    };
    let spec = SupervisorSpec {
        name: "outer".into(),
        strategy: Strategy::OneForOne,
        children: vec![
            crashy("a", &a, &log, &policy),
            ChildSpec::new("inner", ChildSlot::new(), move || (Supervisor, inner.clone())),
        ],
    };
    let (supervisor, join) = Actor::spawn(None, Supervisor, spec).await.expect("supervisor");
    let (a_ref, b_ref) = (a.get().expect("a"), b.get().expect("b"));
    supervisor.stop_and_wait(None, Some(Duration::from_secs(5))).await.expect("stop");
    join.await.expect("supervisor task ended");
    assert_eq!(a_ref.get_status(), ActorStatus::Stopped);
    assert_eq!(b_ref.get_status(), ActorStatus::Stopped);
    let stopped: Vec<_> = log
        .lock()
        .expect("log")
        .iter()
        .filter_map(|e| match e {
            Event::Stopped(name) => Some(*name),
            _ => None,
        })
        .collect();
    assert_eq!(stopped, vec!["b", "a"], "last-started child stops first, each ran post_stop");
}
