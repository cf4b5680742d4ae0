//! A TCP proxy in front of PostgreSQL that a test can cut and restore, to make the database vanish on demand.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub struct TcpProxy {
    pub port: u16,
    target: SocketAddr,
    accept_task: Option<JoinHandle<()>>,
    connection_tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl TcpProxy {
    /// Reserves a port on 127.0.0.1 without listening yet: connections are refused until `resume`.
    pub async fn reserve(target: SocketAddr) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        TcpProxy { port, target, accept_task: None, connection_tasks: Arc::default() }
    }

    /// Listens again on the same port and forwards every connection to the target.
    /// Right after [`TcpProxy::cut`] the aborted listener may still hold the port for a moment: binding is retried.
    pub async fn resume(&mut self) {
        let started = std::time::Instant::now();
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(listener) => break listener,
                Err(error) if error.kind() == std::io::ErrorKind::AddrInUse && started.elapsed().as_secs() < 5 => {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
                Err(error) => panic!("cannot listen on 127.0.0.1:{} again: {error}", self.port),
            }
        };
        let target = self.target;
        let connection_tasks = self.connection_tasks.clone();
        self.accept_task = Some(tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                connection_tasks.lock().unwrap().push(task);
            }
        }));
    }

    /// Stops listening and cuts every open connection, like a server that went away.
    pub fn cut(&mut self) {
        if let Some(task) = self.accept_task.take() {
            task.abort();
        }
        for task in self.connection_tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// `url` with its host and port replaced by this proxy's.
    pub fn rewrite_url(&self, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").unwrap();
        let (credentials, after_at) = rest.rsplit_once('@').map_or(("", rest), |(c, a)| (c, a));
        let path_start = after_at.find('/').unwrap_or(after_at.len());
        let at = if credentials.is_empty() { "" } else { "@" };
        format!("{scheme}://{credentials}{at}127.0.0.1:{}{}", self.port, &after_at[path_start..])
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
    }
}
