//! Runs the real `chitin` binary with its own data dir, config home and free port, never the user's.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A private home for one test's Chitin: its own XDG dirs and a free gateway port.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub port: u16,
    env: Vec<(String, String)>,
}

impl Sandbox {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        Self { dir, port, env: Vec::new() }
    }

    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.path("data/chitin")
    }

    /// A `chitin` command with a clean environment pointing at this sandbox.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_chitin"));
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.path("home"))
            .env("XDG_DATA_HOME", self.path("data"))
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("CHITIN_GATEWAY__BIND", format!("127.0.0.1:{}", self.port))
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null());
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run chitin")
    }

    /// Starts `chitin run --no-repl` and waits until its gateway answers.
    pub fn start(&self, extra_args: &[&str]) -> Running {
        let mut args = vec!["run", "--no-repl"];
        args.extend_from_slice(extra_args);
        let child = self.command(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn chitin");
        let running = Running { child: Some(child), port: self.port };
        running.wait_healthy();
        running
    }
}

/// A running `chitin run`; killed on drop if the test did not stop it.
pub struct Running {
    child: Option<Child>,
    pub port: u16,
}

impl Running {
    /// Starts `command` (a `chitin` process expected to stop on its own) without waiting for it to serve, so a
    /// test can bound how long it waits with [`Running::wait_exit`].
    pub fn spawn(command: &mut Command, port: u16) -> Running {
        let child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn chitin");
        Running { child: Some(child), port }
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map(|c| c.id() as i32).expect("running")
    }

    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && http_get(self.port, "/healthz").is_some()
            {
                return;
            }
            assert!(Instant::now() < deadline, "chitin did not become healthy on port {}", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), signal).expect("send signal");
    }

    /// Waits for exit up to `limit`; returns the output, or None if it is still running.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<Output> {
        let deadline = Instant::now() + limit;
        loop {
            let child = self.child.as_mut().expect("running");
            if child.try_wait().expect("try_wait").is_some() {
                return Some(self.child.take().expect("child").wait_with_output().expect("output"));
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// A minimal blocking GET, enough for health checks without another client in the test.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default();
    Some((status, body))
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn write_file(path: &Path, contents: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, contents).expect("write");
}
