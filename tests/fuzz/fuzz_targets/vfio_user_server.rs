//! Fuzz target `vfio_user_server`: a malicious vfio-user client against the server's
//! message handler ([`nsflow_hwsim::serve::Session`]) in-process, through an in-memory
//! [`Channel`]: the input (see `nsflow_fuzz::vfio_stream`) is the byte stream the client
//! sends, cut into reads as the policy byte says, with memory-file descriptors attached to
//! the messages it says. Checks:
//! * no panic, and no allocation beyond libFuzzer's limit: before the session checked
//!   them, a REGION_READ's count was allocated as claimed (4 GiB for 0xFFFFFFFF);
//! * the session ends on the end of the stream (`Ok`, or `Truncated` inside a message)
//!   or on a message the protocol does not carry (`Framing`), never on anything else;
//! * everything it sends is whole replies: each decodes as a reply header within the
//!   protocol's bounds, an error reply is a bare header, and a success decodes with its
//!   command's layout; there are no more replies than messages.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nsflow_fuzz::vfio_stream::{chunk, split, FDS_EVERYWHERE, FDS_WHERE_TAKEN, TWO_FDS};
use nsflow_hwsim::serve::{Bus, Channel, Session, SessionError};
use nsflow_hwsim::BuildParams;
use nsflow_rtl::vfio_user::{Command, Header, Reply, HEADER_BYTES};
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;

/// The client's side of the connection, in memory.
struct Memory<'a> {
    stream: &'a [u8],
    pos: usize,
    policy: u8,
    /// Where each message's header starts, by the sizes the headers claim.
    headers: Vec<usize>,
    memfd: File,
    sent: Vec<u8>,
}

impl<'a> Memory<'a> {
    fn new(policy: u8, stream: &'a [u8]) -> Self {
        let mut headers = Vec::new();
        let mut at = 0usize;
        while at < stream.len() {
            headers.push(at);
            let size = stream
                .get(at + 4..at + 8)
                .and_then(|b| b.try_into().ok())
                .map_or(0, u32::from_le_bytes);
            at += (size as usize).max(HEADER_BYTES);
        }
        let fd = rustix::fs::memfd_create("nsflow-fuzz", rustix::fs::MemfdFlags::CLOEXEC)
            .unwrap_or_else(|e| panic!("fuzz harness: memfd: {e}"));
        let memfd = File::from(fd);
        memfd
            .set_len(64 * 1024)
            .unwrap_or_else(|e| panic!("fuzz harness: memfd size: {e}"));
        Self {
            stream,
            pos: 0,
            policy,
            headers,
            memfd,
            sent: Vec::new(),
        }
    }

    /// The descriptors that come with a read starting at `pos`.
    fn fds(&self) -> Vec<OwnedFd> {
        if self.headers.binary_search(&self.pos).is_err() {
            return Vec::new();
        }
        let command = self
            .stream
            .get(self.pos + 2..self.pos + 4)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u16::from_le_bytes);
        let takes = command == Command::DmaMap as u16 || command == Command::SetIrqs as u16;
        let attach =
            (takes && self.policy & FDS_WHERE_TAKEN != 0) || self.policy & FDS_EVERYWHERE != 0;
        let n = match (attach, self.policy & TWO_FDS != 0) {
            (false, _) => 0,
            (true, false) => 1,
            (true, true) => 2,
        };
        (0..n)
            .map(|_| {
                OwnedFd::from(
                    self.memfd
                        .try_clone()
                        .unwrap_or_else(|e| panic!("fuzz harness: dup: {e}")),
                )
            })
            .collect()
    }
}

impl Channel for Memory<'_> {
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<(usize, Vec<OwnedFd>)> {
        let fds = self.fds();
        let rest = self.stream.get(self.pos..).unwrap_or_default();
        let n = buf.len().min(rest.len()).min(chunk(self.policy));
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok((n, fds))
    }

    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.sent.extend_from_slice(msg);
        Ok(())
    }
}

/// Checks that `out` is whole replies; returns how many.
fn check_replies(mut out: &[u8]) -> usize {
    let mut n = 0;
    while !out.is_empty() {
        let (head, rest) = out
            .split_first_chunk::<HEADER_BYTES>()
            .unwrap_or_else(|| panic!("a partial header: {out:?}"));
        let h = Header::decode(head);
        assert!(h.is_reply(), "not a reply: {h:?}");
        let len = h.body_len().unwrap_or_else(|e| panic!("reply {h:?}: {e}"));
        let (body, rest) = rest
            .split_at_checked(len)
            .unwrap_or_else(|| panic!("reply {h:?} cut short"));
        match h.error() {
            Some(_) => assert!(body.is_empty(), "an error reply with a body: {h:?}"),
            None => {
                let command = Command::from_u16(h.command)
                    .unwrap_or_else(|| panic!("a success reply to command {}", h.command));
                if let Err(e) = Reply::decode(command, body) {
                    panic!("reply {h:?} does not decode: {e}");
                }
            }
        }
        out = rest;
        n += 1;
    }
    n
}

fuzz_target!(|data: &[u8]| {
    let Some((policy, stream)) = split(data) else {
        return;
    };
    let params = BuildParams {
        orig_sets_log2: 3,
        orig_ways: 2,
        agg_sets_log2: 2,
        agg_ways: 2,
        ..BuildParams::default()
    };
    let mut bus = Bus::new(params, 16 * 1024).unwrap_or_else(|e| panic!("fuzz harness: {e}"));
    let mut ch = Memory::new(policy, stream);
    match Session::new(&mut bus).serve(&mut ch) {
        Ok(()) | Err(SessionError::Truncated | SessionError::Framing(_)) => {}
        Err(e) => panic!("the session ended on {e}"),
    }
    let replies = check_replies(&ch.sent);
    assert!(
        replies <= ch.headers.len(),
        "{replies} replies to {} messages",
        ch.headers.len()
    );
    bus.power_on();
});
