//! A small synchronous HTTP/1.1 client for JSON-RPC: `POST` with keep-alive over one
//! `std::net::TcpStream`, with connect/read/write timeouts and bounded response sizes.
//!
//! Responses are read with `Content-Length`, chunked transfer coding, or until the peer closes.
//! Everything the peer sends is bounded: the status line and headers together by
//! [`MAX_HEADER_BYTES`], the body by the caller's limit.

use core::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Most bytes of status line plus headers accepted.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Most headers accepted.
const MAX_HEADERS: usize = 100;

/// Why an HTTP exchange failed.
///
/// How to react: every variant is a transport fault; the request may or may not have reached the
/// server. Reconnect and retry (idempotent requests), or report the backend as unavailable.
#[derive(Debug)]
#[non_exhaustive]
pub enum HttpError {
    /// The TCP connection could not be made.
    Connect(std::io::Error),
    /// No answer within the timeout.
    Timeout,
    /// The peer closed the connection before a complete response.
    Closed,
    /// Reading or writing failed.
    Io(std::io::Error),
    /// The response is not valid HTTP/1.x.
    Malformed(&'static str),
    /// The response body exceeds the limit.
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Connect(e) => write!(f, "cannot connect: {e}"),
            HttpError::Timeout => write!(f, "timed out"),
            HttpError::Closed => write!(f, "connection closed by peer"),
            HttpError::Io(e) => write!(f, "i/o error: {e}"),
            HttpError::Malformed(what) => write!(f, "malformed http response: {what}"),
            HttpError::TooLarge { limit } => write!(f, "response body above {limit} bytes"),
        }
    }
}

impl std::error::Error for HttpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HttpError::Connect(e) | HttpError::Io(e) => Some(e),
            _ => None,
        }
    }
}

fn io_error(e: std::io::Error) -> HttpError {
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => HttpError::Timeout,
        std::io::ErrorKind::UnexpectedEof
        | std::io::ErrorKind::ConnectionReset
        | std::io::ErrorKind::ConnectionAborted
        | std::io::ErrorKind::BrokenPipe => HttpError::Closed,
        _ => HttpError::Io(e),
    }
}

/// A response: status code and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

/// One keep-alive connection.
#[derive(Debug)]
pub struct HttpConnection {
    reader: BufReader<TcpStream>,
    /// Whether the server allows another request on this connection.
    reusable: bool,
    /// Requests completed on this connection.
    used: u64,
}

impl HttpConnection {
    /// Connects to `addr`; every later read and write waits at most `timeout`.
    pub fn connect(addr: &SocketAddr, timeout: Duration) -> Result<Self, HttpError> {
        let stream = TcpStream::connect_timeout(addr, timeout).map_err(HttpError::Connect)?;
        stream
            .set_read_timeout(Some(timeout))
            .map_err(HttpError::Connect)?;
        stream
            .set_write_timeout(Some(timeout))
            .map_err(HttpError::Connect)?;
        let _ = stream.set_nodelay(true);
        Ok(HttpConnection {
            reader: BufReader::new(stream),
            reusable: true,
            used: 0,
        })
    }

    /// Whether another request may be sent on this connection.
    pub fn is_reusable(&self) -> bool {
        self.reusable
    }

    /// Whether at least one exchange completed on this connection (a failure on a reused
    /// connection may just mean the server closed it while idle).
    pub fn was_used(&self) -> bool {
        self.used > 0
    }

    /// Sends `POST path` with a JSON body and reads the response (body at most `max_body`
    /// bytes).
    pub fn post(
        &mut self,
        host: &str,
        path: &str,
        authorization: &str,
        body: &[u8],
        max_body: usize,
    ) -> Result<HttpResponse, HttpError> {
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {authorization}\r\n\
             Connection: keep-alive\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        let stream = self.reader.get_mut();
        stream.write_all(&request).map_err(io_error)?;
        stream.flush().map_err(io_error)?;
        let response = self.read_response(max_body);
        if response.is_err() {
            self.reusable = false;
        } else {
            self.used = self.used.saturating_add(1);
        }
        response
    }

    fn read_response(&mut self, max_body: usize) -> Result<HttpResponse, HttpError> {
        let mut header_budget = MAX_HEADER_BYTES;
        let status_line = self.read_line(&mut header_budget)?;
        let status = parse_status_line(&status_line)?;
        let mut content_length: Option<usize> = None;
        let mut chunked = false;
        let mut headers = 0usize;
        loop {
            let line = self.read_line(&mut header_budget)?;
            if line.is_empty() {
                break;
            }
            headers += 1;
            if headers > MAX_HEADERS {
                return Err(HttpError::Malformed("too many headers"));
            }
            let (name, value) = line
                .split_once(':')
                .ok_or(HttpError::Malformed("header without colon"))?;
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                let n = value
                    .parse::<usize>()
                    .map_err(|_| HttpError::Malformed("bad content-length"))?;
                if content_length.is_some_and(|c| c != n) {
                    return Err(HttpError::Malformed("conflicting content-length"));
                }
                content_length = Some(n);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                if !value.eq_ignore_ascii_case("chunked") {
                    return Err(HttpError::Malformed("unsupported transfer coding"));
                }
                chunked = true;
            } else if name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close")
            {
                self.reusable = false;
            }
        }
        // 1xx, 204 and 304 responses never have a body (RFC 9112 section 6.3).
        let body = if status < 200 || status == 204 || status == 304 {
            Vec::new()
        } else if chunked {
            self.read_chunked(max_body)?
        } else if let Some(n) = content_length {
            if n > max_body {
                return Err(HttpError::TooLarge { limit: max_body });
            }
            let mut body = vec![0u8; n];
            self.reader.read_exact(&mut body).map_err(io_error)?;
            body
        } else {
            // No length: the body runs to the end of the connection.
            self.reusable = false;
            let mut body = Vec::new();
            let limit = u64::try_from(max_body)
                .unwrap_or(u64::MAX)
                .saturating_add(1);
            (&mut self.reader)
                .take(limit)
                .read_to_end(&mut body)
                .map_err(io_error)?;
            if body.len() > max_body {
                return Err(HttpError::TooLarge { limit: max_body });
            }
            body
        };
        Ok(HttpResponse { status, body })
    }

    /// One CRLF- (or LF-) terminated line, charged against `budget`.
    fn read_line(&mut self, budget: &mut usize) -> Result<String, HttpError> {
        let mut buf = Vec::new();
        let limit = u64::try_from(*budget).unwrap_or(u64::MAX);
        let n = (&mut self.reader)
            .take(limit)
            .read_until(b'\n', &mut buf)
            .map_err(io_error)?;
        if n == 0 {
            return Err(HttpError::Closed);
        }
        if buf.last() != Some(&b'\n') {
            return Err(if n >= *budget {
                HttpError::Malformed("headers too long")
            } else {
                HttpError::Closed
            });
        }
        *budget = budget.saturating_sub(n);
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        String::from_utf8(buf).map_err(|_| HttpError::Malformed("header is not utf-8"))
    }

    fn read_chunked(&mut self, max_body: usize) -> Result<Vec<u8>, HttpError> {
        let mut body = Vec::new();
        loop {
            let mut budget = MAX_HEADER_BYTES;
            let line = self.read_line(&mut budget)?;
            let size_hex = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_hex, 16)
                .map_err(|_| HttpError::Malformed("bad chunk size"))?;
            if size == 0 {
                // Trailers, up to the empty line.
                loop {
                    if self.read_line(&mut budget)?.is_empty() {
                        return Ok(body);
                    }
                }
            }
            if size > max_body.saturating_sub(body.len()) {
                return Err(HttpError::TooLarge { limit: max_body });
            }
            let start = body.len();
            body.resize(start + size, 0);
            let chunk = body
                .get_mut(start..)
                .ok_or(HttpError::Malformed("chunk bounds"))?;
            self.reader.read_exact(chunk).map_err(io_error)?;
            if !self.read_line(&mut budget)?.is_empty() {
                return Err(HttpError::Malformed("chunk not followed by CRLF"));
            }
        }
    }
}

/// `HTTP/1.x NNN reason` to `NNN`.
fn parse_status_line(line: &str) -> Result<u16, HttpError> {
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !(version == "HTTP/1.1" || version == "HTTP/1.0") {
        return Err(HttpError::Malformed("not an http/1.x status line"));
    }
    let code = parts.next().unwrap_or("");
    if code.len() != 3 {
        return Err(HttpError::Malformed("bad status code"));
    }
    code.parse::<u16>()
        .map_err(|_| HttpError::Malformed("bad status code"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// Serves one connection: reads requests (headers + content-length body) and answers each
    /// with the next canned response.
    fn canned(responses: Vec<Vec<u8>>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream);
            for r in responses {
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap() == 0 {
                        return;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap();
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; len];
                reader.read_exact(&mut body).unwrap();
                reader.get_mut().write_all(&r).unwrap();
            }
        });
        addr
    }

    fn post(c: &mut HttpConnection) -> Result<HttpResponse, HttpError> {
        c.post("h", "/", "Basic x", b"{}", 1_000)
    }

    #[test]
    fn content_length_chunked_and_keep_alive() {
        let addr = canned(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec(),
            b"HTTP/1.1 500 Err\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n"
                .to_vec(),
            b"HTTP/1.0 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n".to_vec(),
        ]);
        let mut c = HttpConnection::connect(&addr, Duration::from_secs(5)).unwrap();
        let r = post(&mut c).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"ok"[..]));
        let r = post(&mut c).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (500, &b"abcde"[..]));
        assert!(c.is_reusable() && c.was_used());
        let r = post(&mut c).unwrap();
        assert_eq!(r.status, 404);
        assert!(!c.is_reusable());
    }

    #[test]
    fn hostile_responses_are_errors() {
        let cases: Vec<&[u8]> = vec![
            b"garbage\r\n\r\n",
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n",
            b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        ];
        for case in cases {
            let addr = canned(vec![case.to_vec()]);
            let mut c = HttpConnection::connect(&addr, Duration::from_secs(5)).unwrap();
            assert!(post(&mut c).is_err(), "{:?}", String::from_utf8_lossy(case));
            assert!(!c.is_reusable());
        }
        let long_header = [
            b"HTTP/1.1 200 OK\r\nX: ".to_vec(),
            vec![b'a'; MAX_HEADER_BYTES],
            b"\r\n\r\n".to_vec(),
        ]
        .concat();
        let addr = canned(vec![long_header]);
        let mut c = HttpConnection::connect(&addr, Duration::from_secs(5)).unwrap();
        assert!(matches!(post(&mut c), Err(HttpError::Malformed(_))));
    }

    #[test]
    fn silence_times_out_and_close_is_reported() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            std::thread::sleep(Duration::from_millis(600));
            drop(s);
            let (s, _) = listener.accept().unwrap();
            drop(s);
        });
        let mut c = HttpConnection::connect(&addr, Duration::from_millis(200)).unwrap();
        assert!(matches!(post(&mut c), Err(HttpError::Timeout)));
        let mut c = HttpConnection::connect(&addr, Duration::from_secs(5)).unwrap();
        assert!(matches!(
            post(&mut c),
            Err(HttpError::Closed | HttpError::Io(_))
        ));
        t.join().unwrap();
    }
}
