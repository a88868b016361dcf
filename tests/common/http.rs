//! A minimal HTTP/1.1 client over a TCP stream, for the tests and the load
//! benchmark of `zhibao serve`: one request per connection, or requests one
//! after another on a connection kept alive.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One HTTP/1.1 request on a connection of its own; returns the status and the body.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    ctype: &str,
    body: &[u8],
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(300))).unwrap();
    exchange(&mut s, addr, method, path, token, ctype, body, false)
}

/// One `read` of the stream, again when a signal interrupts it: with a read
/// timeout set, Linux does not restart an interrupted `read` by itself.
fn read_some(s: &mut TcpStream, buf: &mut [u8]) -> usize {
    loop {
        match s.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => return r.unwrap(),
        }
    }
}

/// A connection kept alive: requests one after another on one TCP stream.
#[allow(dead_code)]
pub struct Conn {
    s: TcpStream,
    addr: String,
}

#[allow(dead_code)]
impl Conn {
    /// Opens a connection to `addr`.
    pub fn open(addr: &str) -> Conn {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(300))).unwrap();
        s.set_nodelay(true).unwrap();
        Conn {
            s,
            addr: addr.to_string(),
        }
    }

    /// One request on the connection; returns the status and the body.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        ctype: &str,
        body: &[u8],
    ) -> (u16, String) {
        let addr = self.addr.clone();
        exchange(&mut self.s, &addr, method, path, token, ctype, body, true)
    }
}

/// Writes one request and reads its answer: the head, then exactly the body its
/// length says (ChromeDriver keeps the connection open after `Connection: close`,
/// and a kept-alive connection carries the next answer after it).
#[allow(clippy::too_many_arguments)]
fn exchange(
    s: &mut TcpStream,
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    ctype: &str,
    body: &[u8],
    keep_alive: bool,
) -> (u16, String) {
    let connection = if keep_alive { "keep-alive" } else { "close" };
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: {connection}\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(t) = token {
        req += &format!("Authorization: Bearer {t}\r\n");
    }
    if !ctype.is_empty() {
        req += &format!("Content-Type: {ctype}\r\n");
    }
    req += "\r\n";
    let mut whole = req.into_bytes();
    whole.extend_from_slice(body);
    s.write_all(&whole).unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    let head_end = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = read_some(s, &mut buf);
        assert!(n > 0, "the connection closed before the answer's head");
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase();
    let length = head.lines().find_map(|l| {
        l.strip_prefix("content-length:")
            .map(|v| v.trim().parse::<usize>().unwrap())
    });
    let mut body = raw[head_end + 4..].to_vec();
    match length {
        Some(n) => {
            while body.len() < n {
                let k = read_some(s, &mut buf);
                assert!(k > 0, "the connection closed inside the body");
                body.extend_from_slice(&buf[..k]);
            }
            body.truncate(n);
        }
        None => {
            assert!(
                !keep_alive,
                "an answer without a length on a kept-alive connection"
            );
            s.read_to_end(&mut body).unwrap();
        }
    }
    let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = String::from_utf8_lossy(&body).to_string();
    let body = if head.contains("transfer-encoding: chunked") {
        dechunk(&body)
    } else {
        body
    };
    (status, body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}
