//! A minimal blocking HTTP/1.1 client for tests of the Backstop service.
//!
//! - [`Client`]: requests over one keep-alive connection (reconnecting once if the server closed
//!   it), `Content-Length` and chunked response bodies, an optional bearer key on every request;
//! - [`EventStream`]: a server-sent-events reader (`id`, `event`, `data` fields; comments and
//!   keep-alives skipped) over a chunked response.
//!
//! Only what the tests need: no TLS, no redirects, no compression, no request streaming.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Default read timeout: a test waiting longer than this for a response has failed.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A response: status, headers (names lowercased) and the whole body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Headers in order, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header with this (case-insensitive) name.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(key, _)| *key == name).map(|(_, value)| value.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    #[must_use]
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    ///
    /// # Panics
    /// When the body is not JSON (the panic message shows the status and the body).
    #[must_use]
    pub fn json(&self) -> serde_json::Value {
        match serde_json::from_slice(&self.body) {
            Ok(value) => value,
            Err(error) => {
                panic!("status {} body is not JSON ({error}): {}", self.status, self.text())
            }
        }
    }

    /// The `error.code` of an error envelope, if the body is one.
    #[must_use]
    pub fn error_code(&self) -> Option<String> {
        let value: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        value.get("error")?.get("code")?.as_str().map(str::to_owned)
    }
}

/// A blocking HTTP/1.1 client bound to one server address.
#[derive(Debug)]
pub struct Client {
    addr: SocketAddr,
    key: Option<String>,
    timeout: Duration,
    connection: Option<BufReader<TcpStream>>,
}

impl Client {
    /// A client for the server at `addr`, without a key.
    #[must_use]
    pub fn new(addr: SocketAddr) -> Client {
        Client { addr, key: None, timeout: DEFAULT_TIMEOUT, connection: None }
    }

    /// The same client sending `Authorization: Bearer <key>` on every request.
    #[must_use]
    pub fn with_key(mut self, key: &str) -> Client {
        self.key = Some(key.to_owned());
        self
    }

    /// Changes the key sent (None: none).
    pub fn set_key(&mut self, key: Option<&str>) {
        self.key = key.map(str::to_owned);
    }

    /// Changes the read timeout.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
        self.connection = None;
    }

    /// `GET path`.
    ///
    /// # Errors
    /// Connection or protocol errors.
    pub fn get(&mut self, path: &str) -> io::Result<Response> {
        self.request("GET", path, &[], None)
    }

    /// `DELETE path`.
    ///
    /// # Errors
    /// Connection or protocol errors.
    pub fn delete(&mut self, path: &str) -> io::Result<Response> {
        self.request("DELETE", path, &[], None)
    }

    /// `POST path` with a JSON body.
    ///
    /// # Errors
    /// Connection or protocol errors.
    pub fn post_json(&mut self, path: &str, body: &serde_json::Value) -> io::Result<Response> {
        let bytes = serde_json::to_vec(body).map_err(io::Error::other)?;
        self.request("POST", path, &[("content-type", "application/json")], Some(&bytes))
    }

    /// Any request. The client's key is added unless `headers` has an `authorization` header;
    /// `Content-Length` is added for a body.
    ///
    /// # Errors
    /// Connection or protocol errors.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> io::Result<Response> {
        let message = self.message(method, path, headers, body);
        let reused = self.connection.is_some();
        match self.exchange(&message) {
            Ok(response) => Ok(response),
            // The server may have closed an idle keep-alive connection: try once on a new one.
            Err(error) if reused && is_stale(&error) => {
                self.connection = None;
                self.exchange(&message)
            }
            Err(error) => {
                self.connection = None;
                Err(error)
            }
        }
    }

    /// The bytes of a request.
    fn message(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Vec<u8> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {}\r\n", self.addr);
        let has_auth = headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("authorization"));
        if let (Some(key), false) = (&self.key, has_auth) {
            head.push_str(&format!("authorization: Bearer {key}\r\n"));
        }
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let has_length =
            headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("content-length"));
        if let (Some(body), false) = (body, has_length) {
            head.push_str(&format!("content-length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        if let Some(body) = body {
            bytes.extend_from_slice(body);
        }
        bytes
    }

    /// Sends a request on the kept connection (opening one if needed) and reads the response.
    fn exchange(&mut self, message: &[u8]) -> io::Result<Response> {
        if self.connection.is_none() {
            self.connection = Some(BufReader::new(connect(self.addr, self.timeout)?));
        }
        let Some(connection) = self.connection.as_mut() else {
            return Err(io::Error::other("no connection"));
        };
        connection.get_mut().write_all(message)?;
        connection.get_mut().flush()?;
        let (status, headers) = read_head(connection)?;
        let body = read_body(connection, &headers)?;
        let close =
            header_of(&headers, "connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        if close {
            self.connection = None;
        }
        Ok(Response { status, headers, body })
    }
}

/// Whether an error means the kept connection had been closed before the request.
fn is_stale(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// Opens a connection with a read timeout.
fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// A header's value from a parsed head.
fn header_of<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
}

/// Reads one CRLF-terminated line (without the line ending); EOF before any byte is an error.
fn read_line(reader: &mut impl BufRead) -> io::Result<String> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed"));
    }
    while line.ends_with('\n') || line.ends_with('\r') {
        line.pop();
    }
    Ok(line)
}

/// Reads the status line and headers.
fn read_head(reader: &mut impl BufRead) -> io::Result<(u16, Vec<(String, String)>)> {
    let status_line = read_line(reader)?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let status = parts.next().and_then(|code| code.parse::<u16>().ok());
    let Some(status) = status.filter(|_| version.starts_with("HTTP/1.")) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("bad status line {status_line:?}"),
        ));
    };
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader)?;
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(io::Error::new(io::ErrorKind::InvalidData, format!("bad header {line:?}")));
        };
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    Ok((status, headers))
}

/// Reads a whole body as the headers describe it.
fn read_body(reader: &mut impl BufRead, headers: &[(String, String)]) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    if header_of(headers, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        Chunked::new(reader).read_to_end(&mut body)?;
    } else if let Some(length) = header_of(headers, "content-length") {
        let length = length
            .parse::<u64>()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad content-length"))?;
        reader.take(length).read_to_end(&mut body)?;
        if u64::try_from(body.len()).unwrap_or(u64::MAX) != length {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "body cut short"));
        }
    } else {
        reader.read_to_end(&mut body)?;
    }
    Ok(body)
}

/// A reader of a chunked body (RFC 9112 §7.1): yields the chunks' data, then EOF.
#[derive(Debug)]
pub struct Chunked<R> {
    inner: R,
    /// Bytes left in the current chunk.
    remaining: u64,
    /// Whether the chunk being read is not the first (its data is followed by CRLF).
    started: bool,
    /// Whether the last chunk was read.
    done: bool,
}

impl<R: BufRead> Chunked<R> {
    /// A reader of the chunked body that `inner` is positioned at.
    pub fn new(inner: R) -> Chunked<R> {
        Chunked { inner, remaining: 0, started: false, done: false }
    }
}

impl<R: BufRead> Read for Chunked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        if self.remaining == 0 {
            if self.started {
                // The CRLF after the previous chunk's data.
                let line = read_line(&mut self.inner)?;
                if !line.is_empty() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "chunk not ended by CRLF",
                    ));
                }
            }
            self.started = true;
            let line = read_line(&mut self.inner)?;
            let size = line.split(';').next().unwrap_or_default().trim();
            self.remaining = u64::from_str_radix(size, 16).map_err(|_| {
                io::Error::new(io::ErrorKind::InvalidData, format!("bad chunk size {line:?}"))
            })?;
            if self.remaining == 0 {
                // Trailers, up to the empty line.
                while !read_line(&mut self.inner)?.is_empty() {}
                self.done = true;
                return Ok(0);
            }
        }
        let want = usize::try_from(self.remaining).unwrap_or(usize::MAX).min(buf.len());
        let Some(target) = buf.get_mut(..want) else { return Ok(0) };
        let read = self.inner.read(target)?;
        if read == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "chunk cut short"));
        }
        self.remaining = self.remaining.saturating_sub(u64::try_from(read).unwrap_or(u64::MAX));
        Ok(read)
    }
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `id` field, if any.
    pub id: Option<String>,
    /// The `event` field (`message` when absent).
    pub event: String,
    /// The `data` lines joined with newlines.
    pub data: String,
}

/// A server-sent-events stream read line by line.
pub struct EventStream {
    /// The response status.
    pub status: u16,
    /// The response headers.
    pub headers: Vec<(String, String)>,
    reader: Box<dyn BufRead + Send>,
}

impl core::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EventStream").field("status", &self.status).finish_non_exhaustive()
    }
}

impl EventStream {
    /// Opens `GET path` with `Accept: text/event-stream`, a bearer key and extra headers, and
    /// reads the response head.
    ///
    /// # Errors
    /// Connection or protocol errors.
    pub fn open(
        addr: SocketAddr,
        path: &str,
        key: Option<&str>,
        headers: &[(&str, &str)],
        timeout: Duration,
    ) -> io::Result<EventStream> {
        let mut stream = connect(addr, timeout)?;
        let mut head =
            format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\naccept: text/event-stream\r\n");
        if let Some(key) = key {
            head.push_str(&format!("authorization: Bearer {key}\r\n"));
        }
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        let mut reader = BufReader::new(stream);
        let (status, headers) = read_head(&mut reader)?;
        let chunked = header_of(&headers, "transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        let reader: Box<dyn BufRead + Send> = if chunked {
            Box::new(BufReader::new(Chunked::new(reader)))
        } else if let Some(length) =
            header_of(&headers, "content-length").and_then(|v| v.parse().ok())
        {
            Box::new(BufReader::new(reader.take(length)))
        } else {
            Box::new(reader)
        };
        Ok(EventStream { status, headers, reader })
    }

    /// The next event; None at the end of the stream.
    ///
    /// # Errors
    /// Connection errors, including the read timeout.
    pub fn next_event(&mut self) -> io::Result<Option<SseEvent>> {
        let mut event = SseEvent::default();
        let mut data: Vec<String> = Vec::new();
        let mut any = false;
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
                return Ok(None);
            }
            while line.ends_with('\n') || line.ends_with('\r') {
                line.pop();
            }
            if line.is_empty() {
                if any {
                    event.data = data.join("\n");
                    if event.event.is_empty() {
                        event.event = "message".to_owned();
                    }
                    return Ok(Some(event));
                }
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line.as_str(), ""));
            let value = value.strip_prefix(' ').unwrap_or(value).to_owned();
            match field {
                "id" => event.id = Some(value),
                "event" => event.event = value,
                "data" => data.push(value),
                _ => continue,
            }
            any = true;
        }
    }

    /// The rest of the body (for a stream refused with an error status).
    ///
    /// # Errors
    /// Connection errors.
    pub fn read_rest(mut self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        self.reader.read_to_end(&mut body)?;
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_decoded_with_extensions_and_trailers() {
        let wire =
            b"4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nx: y\r\n\r\nNEXT";
        let mut reader = BufReader::new(&wire[..]);
        let mut body = String::new();
        Chunked::new(&mut reader).read_to_string(&mut body).expect("valid chunks");
        assert_eq!(body, "Wikipedia in\r\n\r\nchunks.");
        let mut rest = String::new();
        reader.read_to_string(&mut rest).expect("the rest");
        assert_eq!(rest, "NEXT");
    }

    #[test]
    fn heads_and_bodies_are_parsed() {
        let wire = b"HTTP/1.1 422 Unprocessable Entity\r\nContent-Length: 2\r\nX-A: b\r\n\r\n{}";
        let mut reader = BufReader::new(&wire[..]);
        let (status, headers) = read_head(&mut reader).expect("a valid head");
        assert_eq!(status, 422);
        assert_eq!(header_of(&headers, "x-a"), Some("b"));
        assert_eq!(read_body(&mut reader, &headers).expect("a body"), b"{}");
    }

    #[test]
    fn sse_events_are_split_on_blank_lines() {
        let wire = ": keep-alive\n\nid: 3\nevent: batch\ndata: {\"a\":\ndata: 1}\n\ndata: x\n\n";
        let mut stream = EventStream {
            status: 200,
            headers: vec![],
            reader: Box::new(BufReader::new(io::Cursor::new(wire.as_bytes().to_vec()))),
        };
        let first = stream.next_event().expect("readable").expect("an event");
        assert_eq!(first.id.as_deref(), Some("3"));
        assert_eq!(first.event, "batch");
        assert_eq!(first.data, "{\"a\":\n1}");
        let second = stream.next_event().expect("readable").expect("an event");
        assert_eq!(
            (second.id, second.event.as_str(), second.data.as_str()),
            (None, "message", "x")
        );
        assert_eq!(stream.next_event().expect("readable"), None);
    }
}
