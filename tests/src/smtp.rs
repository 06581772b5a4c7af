//! A real SMTP server on loopback for the tests (enough of RFC 5321 for lettre: EHLO, MAIL,
//! RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT), keeping every message it accepts. It can
//! be taken down (every command answered `421`, as a server in trouble does) and brought back,
//! and can hold its answer to a message's end of data, for tests that kill the sender then.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One message the sink accepted.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub raw: Vec<u8>,
}

impl Received {
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(&self.raw)
            .expect("the sink keeps whole messages")
    }

    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_owned()
    }

    pub fn text(&self) -> String {
        self.parsed()
            .body_text(0)
            .map(|t| t.into_owned())
            .unwrap_or_default()
    }

    pub fn html(&self) -> String {
        self.parsed()
            .body_html(0)
            .map(|t| t.into_owned())
            .unwrap_or_default()
    }

    pub fn message_id(&self) -> String {
        self.parsed().message_id().unwrap_or_default().to_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.parsed().header_raw(name).map(|v| v.trim().to_owned())
    }

    /// The first link in the text part starting with `prefix`.
    pub fn link(&self, prefix: &str) -> Option<String> {
        let text = self.text();
        let start = text.find(prefix)?;
        let link: String = text[start..]
            .chars()
            .take_while(|c| !c.is_whitespace())
            .collect();
        Some(link)
    }
}

#[derive(Default)]
struct State {
    messages: Mutex<Vec<Received>>,
    down: AtomicBool,
    hold_data: AtomicBool,
    /// Connections that reached the end of a message's data.
    data_ended: std::sync::atomic::AtomicUsize,
    /// Connections waiting, held, for their answer.
    holding: std::sync::atomic::AtomicUsize,
}

/// Counts a connection as held while it lives.
struct Holding<'a>(&'a State);

impl<'a> Holding<'a> {
    fn new(state: &'a State) -> Self {
        state.holding.fetch_add(1, Ordering::SeqCst);
        Self(state)
    }
}

impl Drop for Holding<'_> {
    fn drop(&mut self) {
        self.0.holding.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The sink; dropped, it stops.
pub struct SmtpSink {
    pub port: u16,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpSink {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State::default());
        let st = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let st = st.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, st).await;
                });
            }
        });
        Self { port, state, task }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn messages(&self) -> Vec<Received> {
        self.state.messages.lock().unwrap().clone()
    }

    /// Messages to `address`.
    pub fn to(&self, address: &str) -> Vec<Received> {
        self.messages()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(address)))
            .collect()
    }

    /// While down, every command is answered `421` and the connection closed.
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }

    /// While held, the end of a message's data is not answered (the message is not accepted).
    pub fn set_hold_data(&self, hold: bool) {
        self.state.hold_data.store(hold, Ordering::SeqCst);
    }

    /// How many times a message's data ended (accepted or held).
    pub fn data_ended(&self) -> usize {
        self.state.data_ended.load(Ordering::SeqCst)
    }

    /// Connections held at the end of their data right now; one whose sender went away stops
    /// counting once the sink has seen it close.
    pub fn holding(&self) -> usize {
        self.state.holding.load(Ordering::SeqCst)
    }

    /// Waits until `n` messages reached `address`, up to `timeout`; those messages.
    pub async fn wait_for(&self, address: &str, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.to(address);
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn serve(stream: TcpStream, state: Arc<State>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let down = |s: &State| s.down.load(Ordering::SeqCst);
    if down(&state) {
        write.write_all(b"421 4.3.2 the sink is down\r\n").await?;
        return Ok(());
    }
    write.write_all(b"220 folio-test-sink ESMTP\r\n").await?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        if down(&state) {
            write.write_all(b"421 4.3.2 the sink is down\r\n").await?;
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            write
                .write_all(b"250-folio-test-sink\r\n250 8BITMIME\r\n")
                .await?;
        } else if upper.starts_with("HELO") {
            write.write_all(b"250 folio-test-sink\r\n").await?;
        } else if upper.starts_with("MAIL FROM:") {
            from = address(&command[10..]);
            to.clear();
            write.write_all(b"250 2.1.0 OK\r\n").await?;
        } else if upper.starts_with("RCPT TO:") {
            to.push(address(&command[8..]));
            write.write_all(b"250 2.1.5 OK\r\n").await?;
        } else if upper == "DATA" {
            write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
            let mut raw = Vec::new();
            loop {
                let mut data = Vec::new();
                if lines.read_until(b'\n', &mut data).await? == 0 {
                    return Ok(());
                }
                if data == b".\r\n" || data == b".\n" {
                    break;
                }
                // Dot-unstuffing: a leading dot was doubled by the sender.
                let data = if data.starts_with(b"..") {
                    &data[1..]
                } else {
                    &data[..]
                };
                raw.extend_from_slice(data);
            }
            state.data_ended.fetch_add(1, Ordering::SeqCst);
            // Held: no answer yet. A sender that goes away meanwhile never had the message
            // accepted, so it is not kept.
            let _holding = Holding::new(&state);
            while state.hold_data.load(Ordering::SeqCst) {
                let mut probe = [0u8; 1];
                match tokio::time::timeout(
                    Duration::from_millis(10),
                    tokio::io::AsyncReadExt::read(&mut lines, &mut probe),
                )
                .await
                {
                    Ok(Ok(0)) | Ok(Err(_)) => return Ok(()),
                    _ => {}
                }
            }
            if down(&state) {
                write.write_all(b"451 4.3.0 not accepted\r\n").await?;
                continue;
            }
            state.messages.lock().unwrap().push(Received {
                from: from.clone(),
                to: to.clone(),
                raw,
            });
            write.write_all(b"250 2.0.0 accepted\r\n").await?;
        } else if upper == "RSET" || upper == "NOOP" {
            write.write_all(b"250 2.0.0 OK\r\n").await?;
        } else if upper == "QUIT" {
            write.write_all(b"221 2.0.0 bye\r\n").await?;
            return Ok(());
        } else {
            write.write_all(b"502 5.5.2 not implemented\r\n").await?;
        }
    }
}

/// `<a@b>` (with any ` SIZE=…` after it) → `a@b`.
fn address(arg: &str) -> String {
    let arg = arg.trim();
    let inner = arg
        .strip_prefix('<')
        .and_then(|a| a.split('>').next())
        .unwrap_or(arg);
    inner.to_owned()
}
