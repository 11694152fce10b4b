//! What a connection's HTTP/2 frames say about its peer's reading: the server's send
//! windows, followed from the frames as they cross the socket (after TLS). HTTP/2 lets a
//! peer stop the server's sending (a window of 0, or no WINDOW_UPDATE ever): each answer
//! then waits, queued, in the server's memory. An answer is *blocked* while its stream's
//! send window, or the connection's, is spent, and it has waited since then until at
//! least `PROGRESS` bytes of it were sent: a peer that hands back a few bytes now and then
//! does not restart the wait. The stall watch (`stalls.rs`) closes connections whose
//! oldest blocked answer waits too long, or whose blocked answers fill the server's budget.

use std::collections::HashMap;
use std::time::Instant;

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const WINDOW_UPDATE: u8 = 0x8;
const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const SETTINGS_INITIAL_WINDOW_SIZE: u16 = 0x4;
/// RFC 9113: every window starts at 65,535 until SETTINGS say otherwise.
const DEFAULT_WINDOW: i64 = 65_535;
/// The client's connection preface, before its first frame.
const CLIENT_PREFACE: usize = 24;
/// What a blocked answer must send to stop waiting.
const PROGRESS: usize = 4096;
/// Payload bytes kept of a frame the flow reads (SETTINGS, WINDOW_UPDATE); h2 refuses
/// anything longer than its maximum frame size anyway.
const KEPT_MAX: usize = 16 * 1024;

/// One frame's header, and its payload when the flow needs it (SETTINGS, WINDOW_UPDATE).
struct Frame<'a> {
    kind: u8,
    flags: u8,
    stream: u32,
    length: usize,
    payload: &'a [u8],
}

/// Cuts a byte stream into frames, across reads and writes of any size.
struct Frames {
    /// Preface bytes still to skip.
    preface: usize,
    header: [u8; 9],
    header_read: usize,
    /// The current frame's payload length, and how much of it is still to come.
    length: usize,
    payload_left: usize,
    /// The current frame's payload, for the kinds the flow reads.
    kept: Vec<u8>,
}

impl Frames {
    fn new(preface: usize) -> Frames {
        Frames {
            preface,
            header: [0; 9],
            header_read: 0,
            length: 0,
            payload_left: 0,
            kept: Vec::new(),
        }
    }

    fn feed(&mut self, mut data: &[u8], mut on_frame: impl FnMut(Frame<'_>)) {
        let skipped = self.preface.min(data.len());
        self.preface -= skipped;
        data = &data[skipped..];
        while !data.is_empty() {
            if self.header_read < self.header.len() {
                let taken = (self.header.len() - self.header_read).min(data.len());
                self.header[self.header_read..self.header_read + taken]
                    .copy_from_slice(&data[..taken]);
                self.header_read += taken;
                data = &data[taken..];
                if self.header_read < self.header.len() {
                    return;
                }
                let [l0, l1, l2, ..] = self.header;
                self.length = usize::from(l0) << 16 | usize::from(l1) << 8 | usize::from(l2);
                self.payload_left = self.length;
                self.kept.clear();
            }
            let taken = self.payload_left.min(data.len());
            if matches!(self.header[3], SETTINGS | WINDOW_UPDATE) {
                let room = KEPT_MAX.saturating_sub(self.kept.len());
                self.kept.extend_from_slice(&data[..taken.min(room)]);
            }
            self.payload_left -= taken;
            data = &data[taken..];
            if self.payload_left == 0 {
                let [_, _, _, kind, flags, s0, s1, s2, s3] = self.header;
                on_frame(Frame {
                    kind,
                    flags,
                    stream: u32::from_be_bytes([s0 & 0x7f, s1, s2, s3]),
                    length: self.length,
                    payload: &self.kept,
                });
                self.header_read = 0;
            }
        }
    }
}

/// One stream the peer opened and the server has not ended.
struct Stream {
    /// The server's send window on it.
    window: i64,
    /// Its answer has started (response headers sent).
    answering: bool,
    /// Since when its answer has waited, blocked, without sending `PROGRESS` bytes.
    waiting_since: Option<Instant>,
    /// Bytes sent since it started waiting.
    sent: usize,
}

/// The server's send windows on one connection, and its blocked answers.
pub struct Flow {
    incoming: Frames,
    outgoing: Frames,
    /// The peer's SETTINGS_INITIAL_WINDOW_SIZE.
    peer_initial: i64,
    connection: i64,
    streams: HashMap<u32, Stream>,
    /// The highest stream id the peer opened: stream ids only go up, so a HEADERS frame
    /// on a lower one (trailers, or a stream h2 already ended) opens nothing.
    last_opened: u32,
    /// A window may be spent: false while none was since `blocked` last found none, so
    /// that a connection whose peer reads skips the look on every read and write.
    maybe_spent: bool,
}

/// What a connection's blocked answers are now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Blocked {
    pub answers: usize,
    /// When the one waiting longest started waiting.
    pub oldest: Option<Instant>,
}

impl Default for Flow {
    fn default() -> Flow {
        Flow {
            incoming: Frames::new(CLIENT_PREFACE),
            outgoing: Frames::new(0),
            peer_initial: DEFAULT_WINDOW,
            connection: DEFAULT_WINDOW,
            streams: HashMap::new(),
            last_opened: 0,
            maybe_spent: true,
        }
    }
}

impl Flow {
    /// Follows what the peer sent.
    pub fn read(&mut self, data: &[u8]) {
        let Flow {
            incoming,
            peer_initial,
            connection,
            streams,
            last_opened,
            maybe_spent,
            ..
        } = self;
        incoming.feed(data, |frame| match frame.kind {
            HEADERS if frame.stream > *last_opened => {
                *last_opened = frame.stream;
                streams.insert(
                    frame.stream,
                    Stream {
                        window: *peer_initial,
                        answering: false,
                        waiting_since: None,
                        sent: 0,
                    },
                );
            }
            RST_STREAM => {
                streams.remove(&frame.stream);
            }
            SETTINGS if frame.flags & ACK == 0 => {
                for setting in frame.payload.chunks_exact(6) {
                    let id = u16::from_be_bytes([setting[0], setting[1]]);
                    if id == SETTINGS_INITIAL_WINDOW_SIZE {
                        let value = i64::from(u32::from_be_bytes([
                            setting[2], setting[3], setting[4], setting[5],
                        ]));
                        let delta = value - *peer_initial;
                        *peer_initial = value;
                        streams
                            .values_mut()
                            .for_each(|stream| stream.window += delta);
                        *maybe_spent |= delta < 0;
                    }
                }
            }
            WINDOW_UPDATE if frame.payload.len() == 4 => {
                let [a, b, c, d] = [
                    frame.payload[0],
                    frame.payload[1],
                    frame.payload[2],
                    frame.payload[3],
                ];
                let increment = i64::from(u32::from_be_bytes([a & 0x7f, b, c, d]));
                if frame.stream == 0 {
                    *connection += increment;
                } else if let Some(stream) = streams.get_mut(&frame.stream) {
                    stream.window += increment;
                }
            }
            _ => {}
        });
    }

    /// Follows what the server sent.
    pub fn wrote(&mut self, data: &[u8]) {
        let Flow {
            outgoing,
            connection,
            streams,
            maybe_spent,
            ..
        } = self;
        outgoing.feed(data, |frame| {
            let ended = frame.flags & END_STREAM != 0;
            match frame.kind {
                DATA => {
                    let length = i64::try_from(frame.length).unwrap_or(i64::MAX);
                    *connection -= length;
                    *maybe_spent |= *connection <= 0;
                    if let Some(stream) = streams.get_mut(&frame.stream) {
                        stream.window -= length;
                        *maybe_spent |= stream.window <= 0;
                        stream.sent += frame.length;
                        if stream.sent >= PROGRESS {
                            stream.waiting_since = None;
                            stream.sent = 0;
                        }
                    }
                }
                HEADERS if !ended => {
                    if let Some(stream) = streams.get_mut(&frame.stream) {
                        stream.answering = true;
                        *maybe_spent |= stream.window <= 0;
                    }
                }
                _ => {}
            }
            if ended && matches!(frame.kind, DATA | HEADERS) || frame.kind == RST_STREAM {
                streams.remove(&frame.stream);
            }
        });
    }

    /// The answers started whose stream's window, or the connection's, is spent; each
    /// starts waiting the first time it is found so.
    pub fn blocked(&mut self) -> Blocked {
        let mut blocked = Blocked::default();
        if !self.maybe_spent {
            return blocked;
        }
        let connection_spent = self.connection <= 0;
        for stream in self.streams.values_mut() {
            if !stream.answering || (stream.window > 0 && !connection_spent) {
                continue;
            }
            let since = *stream.waiting_since.get_or_insert_with(Instant::now);
            blocked.answers += 1;
            blocked.oldest = Some(blocked.oldest.map_or(since, |oldest| oldest.min(since)));
        }
        self.maybe_spent = blocked.answers > 0 || connection_spent;
        blocked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let length = u32::try_from(payload.len()).unwrap().to_be_bytes();
        let mut bytes = vec![length[1], length[2], length[3], kind, flags];
        bytes.extend(stream.to_be_bytes());
        bytes.extend(payload);
        bytes
    }

    fn initial_window(size: u32) -> Vec<u8> {
        let mut setting = SETTINGS_INITIAL_WINDOW_SIZE.to_be_bytes().to_vec();
        setting.extend(size.to_be_bytes());
        frame(SETTINGS, 0, 0, &setting)
    }

    /// The client's preface, its SETTINGS, and requests on streams 1 and 3.
    fn client(window: u32) -> Flow {
        let mut flow = Flow::default();
        let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        bytes.extend(initial_window(window));
        bytes.extend(frame(HEADERS, 0x4, 1, b"request"));
        bytes.extend(frame(HEADERS, 0x4, 3, b"request"));
        // One byte at a time: frames are followed across reads.
        bytes.chunks(1).for_each(|byte| flow.read(byte));
        flow
    }

    #[test]
    fn an_answer_on_a_zero_window_is_blocked_until_the_peer_gives_window() {
        let mut flow = client(0);
        flow.wrote(&frame(HEADERS, 0x4, 1, b"response"));
        assert_eq!(flow.blocked().answers, 1);
        flow.read(&frame(WINDOW_UPDATE, 0, 1, &100_u32.to_be_bytes()));
        assert_eq!(flow.blocked().answers, 0);
        flow.wrote(&frame(DATA, 0, 1, &[0; 100]));
        assert_eq!(flow.blocked().answers, 1, "the window is spent again");
        flow.wrote(&frame(HEADERS, 0x4 | END_STREAM, 1, b"trailers"));
        assert_eq!(flow.blocked(), Blocked::default(), "the answer ended");
    }

    #[test]
    fn a_trickle_of_window_does_not_restart_the_wait_and_progress_does() {
        let mut flow = client(0);
        flow.wrote(&frame(HEADERS, 0x4, 1, b"response"));
        let since = flow.blocked().oldest;
        assert!(since.is_some());
        for _ in 0..10 {
            flow.read(&frame(WINDOW_UPDATE, 0, 1, &1_u32.to_be_bytes()));
            flow.wrote(&frame(DATA, 0, 1, &[0]));
            // A grant for a stream that is gone, or on the connection, changes nothing.
            flow.read(&frame(WINDOW_UPDATE, 0, 7, &(1_u32 << 30).to_be_bytes()));
            flow.read(&frame(WINDOW_UPDATE, 0, 0, &(1_u32 << 30).to_be_bytes()));
            assert_eq!(
                flow.blocked().oldest,
                since,
                "still waiting since the start"
            );
        }
        flow.read(&frame(WINDOW_UPDATE, 0, 1, &8192_u32.to_be_bytes()));
        flow.wrote(&frame(DATA, 0, 1, &[0; 8192]));
        let after = flow.blocked();
        assert_eq!(after.answers, 1);
        assert!(after.oldest > since, "4 KiB sent: the wait starts again");
    }

    #[test]
    fn a_spent_connection_window_blocks_every_answer() {
        let mut flow = client(1 << 20);
        flow.wrote(&frame(HEADERS, 0x4, 1, b"response"));
        flow.wrote(&frame(HEADERS, 0x4, 3, b"response"));
        assert_eq!(flow.blocked().answers, 0);
        // 65,535 bytes in one stream's DATA frames spend the connection's window.
        for _ in 0..4 {
            flow.wrote(&frame(DATA, 0, 1, &[0; 16_384]));
        }
        assert_eq!(flow.blocked().answers, 2);
        flow.read(&frame(WINDOW_UPDATE, 0, 0, &70_000_u32.to_be_bytes()));
        assert_eq!(flow.blocked().answers, 0);
    }

    #[test]
    fn a_reset_ends_an_answer_and_settings_move_every_window() {
        let mut flow = client(0);
        flow.wrote(&frame(HEADERS, 0x4, 1, b"response"));
        flow.wrote(&frame(HEADERS, 0x4, 3, b"response"));
        assert_eq!(flow.blocked().answers, 2);
        flow.read(&frame(RST_STREAM, 0, 1, &[0, 0, 0, 8]));
        assert_eq!(flow.blocked().answers, 1);
        flow.read(&initial_window(1000));
        assert_eq!(flow.blocked().answers, 0);
        // A request not answered yet is not a blocked answer, and a trailers-only answer
        // ends its stream at once.
        flow.read(&frame(HEADERS, 0x4, 5, b"request"));
        flow.wrote(&frame(HEADERS, 0x4 | END_STREAM, 5, b"refused"));
        flow.read(&initial_window(0));
        assert_eq!(flow.blocked().answers, 1);
        flow.wrote(&frame(RST_STREAM, 0, 3, &[0, 0, 0, 8]));
        assert_eq!(flow.blocked().answers, 0);
        // HEADERS on a stream id already used (trailers, a reset stream) opens nothing.
        flow.read(&frame(HEADERS, 0x4 | END_STREAM, 3, b"trailers"));
        assert!(flow.streams.is_empty());
    }
}
