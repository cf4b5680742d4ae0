//! A private PostgreSQL cluster in a temp dir, on its own port, that a test may stop and start again.
//!
//! The machine's shared cluster must stay up for every other test, so a test that restarts "the database"
//! gets its own server from the installed binaries (`initdb`, `pg_ctl`). A fast stop is a real restart as
//! clients see it: every session is terminated, new connections are refused until the server is back.
//! `initdb` refuses to run as root; as root the cluster runs as the `postgres` user (through `runuser`).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::process::{free_port, text};

/// Where Debian puts the server binaries; the first that exists is used.
const BIN_DIRS: [&str; 3] = ["/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin"];

pub struct PrivatePostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
    /// Commands run as `postgres` through `runuser` (this process is root).
    as_postgres: bool,
}

impl PrivatePostgres {
    /// Creates and starts a cluster whose superuser is `chitin` (trust authentication on 127.0.0.1 only).
    pub fn start() -> PrivatePostgres {
        let bin = BIN_DIRS
            .iter()
            .map(PathBuf::from)
            .find(|dir| dir.join("initdb").exists())
            .unwrap_or_else(|| panic!("no PostgreSQL server binaries in any of {BIN_DIRS:?}"));
        let dir = tempfile::tempdir().expect("tempdir");
        // /proc/self belongs to the process's effective user.
        let as_postgres = std::fs::metadata("/proc/self").map(|meta| meta.uid() == 0).unwrap_or(false);
        if as_postgres {
            let chown = Command::new("chown").arg("postgres:postgres").arg(dir.path()).output().expect("run chown");
            assert!(chown.status.success(), "chown the cluster dir to postgres: {}", text(&chown.stderr));
        }
        let cluster = PrivatePostgres { dir, bin, port: free_port(), as_postgres };
        let data = cluster.data_dir();
        cluster.run("initdb", &["-D", path(&data), "-U", "chitin", "--auth=trust", "-E", "UTF8", "--no-sync"]);
        cluster.start_again();
        cluster
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `postgres://` URL of database `database` on this cluster.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://chitin:chitin@127.0.0.1:{}/{database}", self.port)
    }

    /// Starts the server (again) and waits until it accepts connections.
    pub fn start_again(&self) {
        let data = self.data_dir();
        let log = self.dir.path().join("server.log");
        // A fast stop writes everything out before the server exits, so fsync off loses nothing across it.
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            path(self.dir.path())
        );
        self.run("pg_ctl", &["-D", path(&data), "-l", path(&log), "-o", &options, "-w", "-t", "60", "start"]);
    }

    /// Fast shutdown: terminates every session (clients see their connections drop) and stops the server.
    pub fn stop(&self) {
        let data = self.data_dir();
        self.run("pg_ctl", &["-D", path(&data), "-m", "fast", "-w", "-t", "60", "stop"]);
    }

    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let output = self.command(program).args(args).output().unwrap_or_else(|e| panic!("run {program}: {e}"));
        let log = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        assert!(
            output.status.success(),
            "{program} {args:?} failed: {}{}\nserver log:\n{log}",
            text(&output.stdout),
            text(&output.stderr)
        );
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.data_dir();
        let _ = self.command("pg_ctl").args(["-D", path(&data), "-m", "immediate", "-w", "stop"]).output();
    }
}

fn path(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}
