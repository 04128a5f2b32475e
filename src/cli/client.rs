//! A minimal HTTP/1.0 GET client for reading other members' `/api/status` (one request per
//! connection, bounded by a timeout; JSON bodies only).

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// GETs `http://{addr}{path}` and parses the body as JSON. Errors are short descriptions.
pub async fn get_json(addr: &str, path: &str, timeout: Duration) -> Result<serde_json::Value, String> {
    let fetch = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: application/json\r\n\r\n").as_bytes()).await.map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        s.take(4 << 20).read_to_end(&mut buf).await.map_err(|e| e.to_string())?;
        let split = buf.windows(4).position(|w| w == b"\r\n\r\n").ok_or("malformed HTTP response")?;
        let head = String::from_utf8_lossy(&buf[..split]);
        let status = head.split_whitespace().nth(1).unwrap_or("");
        if status != "200" {
            return Err(format!("{addr}{path} answered {status}"));
        }
        serde_json::from_slice(&buf[split + 4..]).map_err(|e| format!("{addr}{path}: not JSON: {e}"))
    };
    tokio::time::timeout(timeout, fetch).await.map_err(|_| format!("{addr} did not answer within {timeout:?}"))?
}
