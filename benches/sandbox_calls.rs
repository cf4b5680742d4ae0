//! Sandbox call latency and throughput: warm call p50/p99, cold load from the on-disk cache,
//! first compile, and calls/s with 2 and 16 concurrent callers. Prints its figures.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chitin::sandbox::{
    CallContext, CallId, LeakBlocked, LeakDirection, LeakGuard, Manifest, Sandbox, SandboxConfig, SandboxServices,
    SecretSource, ToolName,
};
use criterion::Criterion;
use secrecy::SecretString;

struct NoSecrets;

impl SecretSource for NoSecrets {
    fn get(&self, _name: &str) -> Option<SecretString> {
        None
    }
}

/// The trivial tool makes no requests, so the scan never runs; it is here to satisfy the port.
struct RefuseMarker;

impl LeakGuard for RefuseMarker {
    fn check(&self, direction: LeakDirection, bytes: &[u8]) -> Result<(), LeakBlocked> {
        if bytes.windows(6).any(|window| window == b"SECRET") {
            return Err(LeakBlocked { direction, reason: "marker".into() });
        }
        Ok(())
    }
}

fn build_tools() -> PathBuf {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wasm-tools");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/build-tools.sh");
    let status = std::process::Command::new("bash")
        .arg(script)
        .env("CHITIN_WASM_TOOLS_DIR", &out)
        .status()
        .expect("run scripts/build-tools.sh");
    assert!(status.success(), "build-tools.sh failed");
    out
}

fn sandbox(cache_dir: &Path, max_concurrent_calls: usize) -> Sandbox {
    let config = SandboxConfig { cache_dir: cache_dir.to_path_buf(), max_concurrent_calls, ..SandboxConfig::default() };
    let services = SandboxServices { secrets: Arc::new(NoSecrets), leak_guard: Arc::new(RefuseMarker) };
    Sandbox::new(config, services)
}

fn calc_manifest() -> Manifest {
    Manifest::parse("name = \"calc\"\nversion = \"0.1.0\"\n[rate_limit]\ncalls_per_minute = 4000000000\n", "bench")
        .expect("manifest")
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * fraction).round() as usize]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let tools = build_tools();
    let calc = tools.join("calc.wasm");
    let name = ToolName::new("calc").expect("name");
    let params = serde_json::json!({"expression": "1 + 1"});
    let context = || CallContext::new(CallId("bench".into()));

    // First compile: empty cache.
    let cache = tempfile::tempdir().expect("cache dir");
    let first = sandbox(cache.path(), 16);
    let started = Instant::now();
    runtime.block_on(first.load_tool(&calc, calc_manifest())).expect("compile");
    println!("first compile + load (calc): {:.1} ms", started.elapsed().as_secs_f64() * 1e3);

    // Cold call from the on-disk cache: a fresh sandbox loads and calls once.
    let mut cold = Vec::new();
    for _ in 0..20 {
        let fresh = sandbox(cache.path(), 16);
        let started = Instant::now();
        runtime.block_on(async {
            fresh.load_tool(&calc, calc_manifest()).await.expect("load from cache");
            fresh.execute(&name, &params, context()).await.expect("cold call");
        });
        cold.push(started.elapsed());
        assert_eq!(fresh.stats().components_compiled, 0, "cold start must not compile");
    }
    cold.sort();
    println!(
        "cold call from cache (load + describe + call): p50 {:?}, p99 {:?}",
        percentile(&cold, 0.5),
        percentile(&cold, 0.99)
    );

    // Warm calls: InstancePre + pooling, fresh store each call.
    let mut warm = Vec::with_capacity(5000);
    runtime.block_on(async {
        for _ in 0..5000 {
            let started = Instant::now();
            first.execute(&name, &params, context()).await.expect("warm call");
            warm.push(started.elapsed());
        }
    });
    warm.sort();
    println!("warm call (calc): p50 {:?}, p99 {:?}", percentile(&warm, 0.5), percentile(&warm, 0.99));

    // Throughput with concurrent callers.
    for callers in [2usize, 16] {
        let calls_per_caller = 2000 / callers;
        let started = Instant::now();
        runtime.block_on(async {
            let mut tasks = Vec::new();
            for _ in 0..callers {
                let sandbox = first.clone();
                let name = name.clone();
                let params = params.clone();
                tasks.push(tokio::spawn(async move {
                    for _ in 0..calls_per_caller {
                        sandbox.execute(&name, &params, CallContext::new(CallId("bench".into()))).await.expect("call");
                    }
                }));
            }
            for task in tasks {
                task.await.expect("caller");
            }
        });
        let total = (callers * calls_per_caller) as f64;
        println!("{callers} concurrent callers: {:.0} calls/s", total / started.elapsed().as_secs_f64());
    }

    let mut criterion = Criterion::default().configure_from_args();
    criterion.bench_function("warm_call_calc", |bencher| {
        bencher.iter(|| runtime.block_on(first.execute(&name, &params, context())).expect("call"))
    });
    criterion.final_summary();
}
