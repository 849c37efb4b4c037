//! A small HTTP/1.1 request parser and response writer: enough for RDAP clients (GET/HEAD with
//! keep-alive) and the JSON control endpoints (POST with a `Content-Length` or chunked body).

use std::io::{self, BufRead, Write};

/// Largest request head (request line and headers) accepted.
pub const MAX_HEAD: usize = 64 * 1024;
/// Largest request body accepted (control configs are small).
pub const MAX_BODY: usize = 16 * 1024 * 1024;

/// One parsed request.
#[derive(Debug)]
pub struct Request {
    pub method: String,
    /// The request target as sent: path and query.
    pub target: String,
    /// True for HTTP/1.0.
    pub http10: bool,
    /// Header names lower-cased, values trimmed, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first value of a header (name in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The path without the query.
    pub fn path(&self) -> &str {
        self.target
            .split_once('?')
            .map_or(self.target.as_str(), |(p, _)| p)
    }

    fn connection_has(&self, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n == "connection")
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// Whether the connection must be closed after this request's response.
    pub fn wants_close(&self) -> bool {
        self.connection_has("close") || (self.http10 && !self.connection_has("keep-alive"))
    }

    pub fn is_head(&self) -> bool {
        self.method == "HEAD"
    }
}

/// Why no request could be read.
#[derive(Debug)]
pub enum ReadError {
    /// The peer closed the connection (or it timed out) between requests.
    Closed,
    /// A socket error.
    Io(io::Error),
    /// A malformed request: answer with this status (400, 413, 501) and close.
    Bad(u16, String),
}

fn bad(status: u16, msg: impl Into<String>) -> ReadError {
    ReadError::Bad(status, msg.into())
}

/// Reads one line (without its CRLF or LF), charging its bytes to `budget`.
/// `Ok(None)` on end of stream before any byte.
fn read_line<R: BufRead>(r: &mut R, budget: &mut usize) -> Result<Option<Vec<u8>>, ReadError> {
    let mut line = Vec::new();
    loop {
        let buf = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ReadError::Io(e)),
        };
        if buf.is_empty() {
            return if line.is_empty() {
                Ok(None)
            } else {
                Err(bad(400, "connection closed inside a line"))
            };
        }
        let (chunk, used, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (buf.get(..i).unwrap_or_default(), i + 1, true),
            None => (buf, buf.len(), false),
        };
        if used > *budget {
            return Err(bad(431, "request head or line too large"));
        }
        line.extend_from_slice(chunk);
        r.consume(used);
        *budget -= used;
        if done {
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(Some(line));
        }
    }
}

fn read_exact_body<R: BufRead>(r: &mut R, n: usize, body: &mut Vec<u8>) -> Result<(), ReadError> {
    let start = body.len();
    body.resize(start + n, 0);
    let dest = body.get_mut(start..).unwrap_or_default();
    r.read_exact(dest).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            bad(400, "connection closed inside the body")
        } else {
            ReadError::Io(e)
        }
    })
}

fn read_chunked<R: BufRead>(r: &mut R) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    let mut budget = MAX_HEAD;
    loop {
        let line = read_line(r, &mut budget)?.ok_or_else(|| bad(400, "eof in chunk size"))?;
        let text = String::from_utf8_lossy(&line);
        let size_text = text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| bad(400, format!("bad chunk size {size_text:?}")))?;
        if size == 0 {
            // Trailer fields, up to the empty line.
            loop {
                match read_line(r, &mut budget)? {
                    Some(l) if !l.is_empty() => {}
                    _ => return Ok(body),
                }
            }
        }
        if body.len().saturating_add(size) > MAX_BODY {
            return Err(bad(413, "request body too large"));
        }
        read_exact_body(r, size, &mut body)?;
        match read_line(r, &mut budget)? {
            Some(l) if l.is_empty() => {}
            _ => return Err(bad(400, "missing CRLF after chunk")),
        }
    }
}

/// Reads one request. `out` is used only to send `100 Continue` when the client expects it.
pub fn read_request<R: BufRead, W: Write>(r: &mut R, out: &mut W) -> Result<Request, ReadError> {
    let mut budget = MAX_HEAD;
    // RFC 9112 2.2: ignore empty lines before the request line.
    let request_line = loop {
        match read_line(r, &mut budget) {
            Ok(None) => return Err(ReadError::Closed),
            Ok(Some(l)) if l.is_empty() => {}
            Ok(Some(l)) => break l,
            Err(ReadError::Io(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::ConnectionReset
                ) && budget == MAX_HEAD =>
            {
                return Err(ReadError::Closed);
            }
            Err(e) => return Err(e),
        }
    };
    let request_line =
        String::from_utf8(request_line).map_err(|_| bad(400, "request line is not UTF-8"))?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad(400, format!("malformed request line {request_line:?}")));
    };
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return Err(bad(505, format!("unsupported version {version:?}"))),
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(bad(400, format!("malformed method {method:?}")));
    }
    if !target.starts_with('/') {
        return Err(bad(400, format!("unsupported request target {target:?}")));
    }
    let mut headers = Vec::new();
    loop {
        let line = read_line(r, &mut budget)?.ok_or_else(|| bad(400, "eof in headers"))?;
        if line.is_empty() {
            break;
        }
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            return Err(bad(400, "obsolete header line folding"));
        }
        let line = String::from_utf8_lossy(&line);
        let Some((name, value)) = line.split_once(':') else {
            return Err(bad(400, format!("malformed header line {line:?}")));
        };
        if name.is_empty() || name.contains(' ') {
            return Err(bad(400, format!("malformed header name {name:?}")));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
        if headers.len() > 200 {
            return Err(bad(431, "too many header fields"));
        }
    }
    let mut req = Request {
        method: method.to_owned(),
        target: target.to_owned(),
        http10,
        headers,
        body: Vec::new(),
    };

    let chunked = match req.header("transfer-encoding") {
        None => false,
        Some(te)
            if te
                .rsplit(',')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("chunked") =>
        {
            true
        }
        Some(te) => return Err(bad(501, format!("unsupported transfer-encoding {te:?}"))),
    };
    let mut length = None;
    for (_, v) in req.headers.iter().filter(|(n, _)| n == "content-length") {
        let n: usize = v
            .parse()
            .map_err(|_| bad(400, format!("bad content-length {v:?}")))?;
        if length.is_some_and(|l| l != n) {
            return Err(bad(400, "conflicting content-length fields"));
        }
        length = Some(n);
    }
    if chunked && length.is_some() {
        return Err(bad(
            400,
            "both content-length and chunked transfer-encoding",
        ));
    }
    if length.is_some_and(|n| n > MAX_BODY) {
        return Err(bad(413, "request body too large"));
    }
    let has_body = chunked || length.is_some_and(|n| n > 0);
    if has_body
        && req
            .header("expect")
            .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .map_err(ReadError::Io)?;
    }
    if chunked {
        req.body = read_chunked(r)?;
    } else if let Some(n) = length {
        read_exact_body(r, n, &mut req.body)?;
    }
    Ok(req)
}

/// The reason phrase for a status code.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        413 => "Content Too Large",
        418 => "I'm a teapot",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    }
}

/// A response head: status line and header fields, serialized with CRLFs.
#[derive(Debug, Clone)]
pub struct Head {
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: vec![("Server".to_owned(), "rdap-mock".to_owned())],
        }
    }

    #[must_use]
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    pub fn add(&mut self, name: &str, value: impl Into<String>) {
        self.headers.push((name.to_owned(), value.into()));
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (n, v) in &self.headers {
            out.push_str(n);
            out.push_str(": ");
            out.push_str(v);
            out.push_str("\r\n");
        }
        out.push_str("\r\n");
        out.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    fn parse(raw: &[u8]) -> Result<Request, ReadError> {
        let mut r = BufReader::new(raw);
        let mut sink = Vec::new();
        read_request(&mut r, &mut sink)
    }

    #[test]
    fn parses_get_and_bodies() {
        let req = parse(
            b"GET /com/v1/domain/GOOGLE.COM?x=1 HTTP/1.1\r\nHost: a\r\nUser-Agent: t/1\r\n\r\n",
        )
        .unwrap();
        assert_eq!(req.method, "GET");
        assert_eq!(req.path(), "/com/v1/domain/GOOGLE.COM");
        assert_eq!(req.header("user-agent"), Some("t/1"));
        assert!(!req.wants_close());

        let req = parse(b"POST /x HTTP/1.1\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc")
            .unwrap();
        assert_eq!(req.body, b"abc");
        assert!(req.wants_close());

        let req = parse(b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;e=1\r\nde\r\n0\r\n\r\n").unwrap();
        assert_eq!(req.body, b"abcde");

        let req = parse(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        assert!(req.wants_close());
    }

    #[test]
    fn rejects_garbage() {
        assert!(matches!(parse(b""), Err(ReadError::Closed)));
        assert!(matches!(
            parse(b"hello\r\n\r\n"),
            Err(ReadError::Bad(400, _))
        ));
        assert!(matches!(
            parse(b"GET / HTTP/2\r\n\r\n"),
            Err(ReadError::Bad(505, _))
        ));
        assert!(matches!(
            parse(b"POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n"),
            Err(ReadError::Bad(413, _))
        ));
        assert!(matches!(
            parse(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab"),
            Err(ReadError::Bad(400, _))
        ));
    }
}
