//! A PostgreSQL server stand-in that speaks the real start-up protocol and rejects every password.
//!
//! The test machine's PostgreSQL trusts local connections, so a wrong password can never fail there; this peer
//! does what a password-protected server does: it asks for a cleartext password, reads it, and answers with
//! the `28P01 invalid_password` error, then closes the connection.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Protocol code of `SSLRequest` (the client asks whether TLS is available).
const SSL_REQUEST: u32 = 80_877_103;

pub struct PasswordRejectingServer {
    pub address: SocketAddr,
    /// Every password a client sent, in order.
    pub passwords: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl PasswordRejectingServer {
    pub async fn start() -> PasswordRejectingServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let passwords = Arc::new(Mutex::new(Vec::new()));
        let seen = passwords.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let _ = reject(stream, seen).await;
                });
            }
        });
        PasswordRejectingServer { address, passwords, task }
    }
}

impl Drop for PasswordRejectingServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn reject(mut stream: TcpStream, seen: Arc<Mutex<Vec<String>>>) -> std::io::Result<()> {
    // Start-up packets have no type byte: a length, then a protocol code.
    let mut startup = read_untyped(&mut stream).await?;
    if u32::from_be_bytes(startup[..4].try_into().expect("4 bytes")) == SSL_REQUEST {
        stream.write_all(b"N").await?;
        startup = read_untyped(&mut stream).await?;
    }
    let user = startup_parameter(&startup[4..], "user").unwrap_or_default();

    // AuthenticationCleartextPassword.
    stream.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3]).await?;
    let mut kind = [0u8; 1];
    stream.read_exact(&mut kind).await?;
    let body = read_untyped(&mut stream).await?;
    if kind[0] == b'p' {
        let password = String::from_utf8_lossy(body.split(|byte| *byte == 0).next().unwrap_or_default());
        seen.lock().unwrap().push(password.into_owned());
    }

    let mut fields = Vec::new();
    for (code, value) in [
        (b'S', "FATAL".to_owned()),
        (b'V', "FATAL".to_owned()),
        (b'C', "28P01".to_owned()),
        (b'M', format!("password authentication failed for user \"{user}\"")),
    ] {
        fields.push(code);
        fields.extend_from_slice(value.as_bytes());
        fields.push(0);
    }
    fields.push(0);
    let mut error = vec![b'E'];
    error.extend_from_slice(&(fields.len() as u32 + 4).to_be_bytes());
    error.extend_from_slice(&fields);
    stream.write_all(&error).await?;
    stream.shutdown().await
}

/// Reads a length-prefixed packet (length includes itself) and returns what follows the length.
async fn read_untyped(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut length = [0u8; 4];
    stream.read_exact(&mut length).await?;
    let length = u32::from_be_bytes(length) as usize;
    let mut body = vec![0u8; length.saturating_sub(4)];
    stream.read_exact(&mut body).await?;
    Ok(body)
}

/// Start-up parameters are NUL-terminated name/value pairs.
fn startup_parameter(parameters: &[u8], name: &str) -> Option<String> {
    let mut parts = parameters.split(|byte| *byte == 0);
    while let Some(key) = parts.next() {
        let value = parts.next()?;
        if key == name.as_bytes() {
            return Some(String::from_utf8_lossy(value).into_owned());
        }
    }
    None
}
