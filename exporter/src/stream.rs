//! The export stream of one view: templates, sequence numbers, template and options
//! refresh, and the packer that fills data messages up to the MTU and flushes them by a
//! deadline. Pure (no I/O, no clock reads): every call is given the time, so tests drive
//! it with any time they like; the [`crate::Exporter`] feeds it from its [`crate::Clock`].
//!
//! Every collector of a view receives exactly the messages this stream produces, in this
//! order, so one sequence counter serves each (collector, observation domain) pair.
//!
//! IPFIX with a non-zero observation domain: the options templates and options data go in
//! messages whose header Observation Domain ID is 0, as RFC 7011 §3.1 recommends for
//! exporting-process statistics ("SHOULD be 0 when no specific Observation Domain ID is
//! relevant for the entire IPFIX Message"); their scope field still names the view's
//! domain. Domain 0 is then a stream of its own with its own sequence counter, so the
//! flow stream's numbers count flow records only, and collectors that do not count
//! options data records (nfdump 1.7) see no false loss. v9, and IPFIX with domain 0,
//! keep everything in one stream.
//!
//! Schedules (A5, A15):
//! * at creation: one template message with the templates of the configured modes and the
//!   two options templates, then one options data message;
//! * a mode's template is sent before its first record if it was not announced yet;
//! * every `template timeout-rate` minutes: the templates of every announced mode;
//! * every `options_refresh_packets` flow data messages or `options_refresh_minutes`
//!   minutes, whichever first: the options templates and the options data;
//! * on a template change ([`ExportStream::set_widths`]): the open data message is sent,
//!   then every announced template in its new form.

use crate::config::{CaptureClock, ExportConfig, FieldWidth, Format, MTU};
use crate::encode::{
    options_template_set_id, template_set_id, HeaderInfo, Message, MessageBuilder,
};
use crate::options::{
    options_templates, reliability_record, timeouts_record, RELIABILITY_TEMPLATE_ID,
    TIMEOUTS_TEMPLATE_ID,
};
use crate::record::{FlowRecord, LossCounters};
use crate::sequence::{MessageKind, Sequence, SequenceRule};
use crate::template::{templates, Template};
use crate::Version;

const MINUTE_MS: u64 = 60_000;

/// The state of one export stream. See the module documentation for the schedules.
#[derive(Debug)]
pub struct ExportStream {
    format: Format,
    templates: Vec<Template>,
    seq: Sequence,
    /// The IPFIX options stream (header domain 0), when it is separate from the flow stream.
    options_seq: Option<Sequence>,
    mtu: usize,
    init_ms: u64,
    /// The capture's clock for v9 header times (a replay), else the exporter's clock.
    capture_clock: Option<CaptureClock>,
    domain: u32,
    flush_deadline_ms: u64,
    template_interval_ms: u64,
    options_interval_ms: u64,
    options_interval_packets: u32,
    active_timeout_secs: u16,
    inactive_timeout_secs: u16,
    announced: u16,
    last_templates_ms: u64,
    last_options_ms: u64,
    packets_since_options: u32,
    loss: LossCounters,
    open: Option<MessageBuilder>,
    open_since_ms: u64,
    out: Vec<Message>,
}

impl ExportStream {
    /// A stream for `cfg` started at `now_ms`: its first template and options messages are
    /// already queued (see [`Self::take_messages`]). `cfg` is assumed valid
    /// ([`ExportConfig::validate`]); out-of-range numbers are clamped, never panicked on.
    pub fn new(cfg: &ExportConfig, now_ms: u64) -> Self {
        // A replay's v9 times count from the capture's first frame, on the capture's clock.
        let init = cfg
            .capture_clock
            .map(|c| c.capture_ms)
            .or(cfg.system_init_ms)
            .unwrap_or(now_ms);
        let format = cfg.format();
        let announced = cfg.modes.iter().fold(0u16, |acc, m| acc | (1 << m.index()));
        let rule = SequenceRule::for_config(cfg.version, cfg.sequence_fixed);
        let split = cfg.version == Version::Ipfix && cfg.observation_domain != 0;
        let mut s = Self {
            format,
            templates: templates(format),
            seq: Sequence::new(rule),
            options_seq: split.then(|| Sequence::new(rule)),
            mtu: cfg.mtu.clamp(*MTU.start(), *MTU.end()),
            init_ms: init / 1000 * 1000,
            capture_clock: cfg.capture_clock.filter(|_| cfg.version == Version::V9),
            domain: cfg.observation_domain,
            flush_deadline_ms: u64::try_from(cfg.flush_deadline.as_millis())
                .unwrap_or(u64::MAX)
                .max(1),
            template_interval_ms: u64::from(cfg.template_timeout_minutes.max(1)) * MINUTE_MS,
            options_interval_ms: u64::from(cfg.options_refresh_minutes.max(1)) * MINUTE_MS,
            options_interval_packets: u32::from(cfg.options_refresh_packets.max(1)),
            active_timeout_secs: cfg.active_timeout_secs,
            inactive_timeout_secs: cfg.inactive_timeout_secs,
            announced,
            last_templates_ms: now_ms,
            last_options_ms: now_ms,
            packets_since_options: 0,
            loss: LossCounters::default(),
            open: None,
            open_since_ms: now_ms,
            out: Vec::new(),
        };
        s.refresh(now_ms, announced, true);
        s
    }

    /// Adds one record to the open data message, sending its template first if its mode
    /// was not announced yet, and the open message first if the record does not fit.
    #[inline]
    pub fn push(&mut self, rec: &FlowRecord, now_ms: u64) {
        let idx = usize::from(rec.mode.index());
        let bit = 1u16 << idx;
        if self.announced & bit == 0 {
            self.announced |= bit;
            self.emit_templates(now_ms, bit, false);
        }
        let Some(t) = self.templates.get(idx) else {
            return;
        };
        let fits = self
            .open
            .as_ref()
            .is_some_and(|m| m.fits(t.id, t.record_len));
        if !fits {
            self.finish_open(now_ms);
            self.open = Some(MessageBuilder::new(
                self.format.version,
                MessageKind::Data,
                self.mtu,
            ));
            self.open_since_ms = now_ms;
        }
        let t = &self.templates[idx];
        if let Some(m) = self.open.as_mut() {
            m.begin_set(t.id);
            m.add_flow_record(t, rec, self.init_ms);
        }
    }

    /// Runs the timers: sends the open message when its oldest record reached the flush
    /// deadline, and refreshes templates and options when due.
    pub fn poll(&mut self, now_ms: u64) {
        if self.open.is_some()
            && now_ms >= self.open_since_ms.saturating_add(self.flush_deadline_ms)
        {
            self.finish_open(now_ms);
        }
        let templates_due = now_ms
            >= self
                .last_templates_ms
                .saturating_add(self.template_interval_ms);
        let options_due = now_ms
            >= self
                .last_options_ms
                .saturating_add(self.options_interval_ms);
        if templates_due || options_due {
            let modes = if templates_due { self.announced } else { 0 };
            self.refresh(now_ms, modes, options_due);
        }
    }

    /// The earliest time [`Self::poll`] has something to do.
    pub fn next_deadline_ms(&self) -> u64 {
        let mut t = self
            .last_templates_ms
            .saturating_add(self.template_interval_ms)
            .min(
                self.last_options_ms
                    .saturating_add(self.options_interval_ms),
            );
        if self.open.is_some() {
            t = t.min(self.open_since_ms.saturating_add(self.flush_deadline_ms));
        }
        t
    }

    /// Sends the open data message now, if any.
    pub fn flush(&mut self, now_ms: u64) {
        self.finish_open(now_ms);
    }

    /// Sends the open data message, then the options templates and data now, whatever
    /// the refresh schedule: an exporter's last words, so that the final loss counters
    /// reach the collector.
    pub fn refresh_options(&mut self, now_ms: u64) {
        self.finish_open(now_ms);
        self.refresh(now_ms, 0, true);
    }

    /// Records the latest cumulative loss counters; they go out with the next options
    /// refresh.
    pub fn set_loss_counters(&mut self, c: LossCounters) {
        self.loss = c;
    }

    /// Changes the AS and ifIndex widths (a template change, A5): the open data message is
    /// sent in the old format, then every announced template in the new one.
    pub fn set_widths(&mut self, as_width: FieldWidth, ifindex_width: FieldWidth, now_ms: u64) {
        let format = Format {
            version: self.format.version,
            as_width,
            ifindex_width,
        };
        if format == self.format {
            return;
        }
        self.finish_open(now_ms);
        self.format = format;
        self.templates = templates(format);
        let modes = self.announced;
        self.emit_templates(now_ms, modes, false);
        self.last_templates_ms = now_ms;
    }

    /// Takes the finished messages, oldest first.
    pub fn take_messages(&mut self) -> Vec<Message> {
        std::mem::take(&mut self.out)
    }

    /// Moves the finished messages into `into`, oldest first.
    pub fn drain_messages(&mut self, into: &mut Vec<Message>) {
        into.append(&mut self.out);
    }

    fn header(&self, now_ms: u64) -> HeaderInfo {
        HeaderInfo {
            now_ms: self.capture_clock.map_or(now_ms, |c| c.at(now_ms)),
            init_ms: self.init_ms,
            domain: self.domain,
        }
    }

    fn finish_open(&mut self, now_ms: u64) {
        let Some(m) = self.open.take() else {
            return;
        };
        if m.is_empty() {
            return;
        }
        let h = self.header(now_ms);
        self.out.push(m.finish(&mut self.seq, h));
        self.count_packet(now_ms);
    }

    fn count_packet(&mut self, now_ms: u64) {
        self.packets_since_options += 1;
        if self.packets_since_options >= self.options_interval_packets {
            self.refresh(now_ms, 0, true);
        }
    }

    /// Sends the templates of `modes` (and the options templates and data if `options`),
    /// and restarts the schedules they belong to.
    fn refresh(&mut self, now_ms: u64, modes: u16, options: bool) {
        self.emit_templates(now_ms, modes, options);
        if modes == self.announced {
            self.last_templates_ms = now_ms;
        }
        if options {
            self.emit_options_data(now_ms);
            self.last_options_ms = now_ms;
            self.packets_since_options = 0;
        }
    }

    /// Sends template messages holding the templates of `modes` and, if `options`, the
    /// options templates (in the options stream when it is separate).
    fn emit_templates(&mut self, now_ms: u64, modes: u16, options: bool) {
        if self.options_seq.is_some() {
            let main = self.build_templates(modes, false);
            self.finish_all(main, now_ms, false);
            if options {
                let opt = self.build_templates(0, true);
                self.finish_all(opt, now_ms, true);
            }
        } else {
            let all = self.build_templates(modes, options);
            self.finish_all(all, now_ms, false);
        }
    }

    /// Template messages with the templates of `modes` and, if `options`, the options
    /// templates; as many messages as the MTU needs.
    fn build_templates(&self, modes: u16, options: bool) -> Vec<MessageBuilder> {
        let version = self.format.version;
        let tset = template_set_id(version);
        let oset = options_template_set_id(version);
        let mut msgs: Vec<MessageBuilder> = Vec::new();
        let mut m = MessageBuilder::new(version, MessageKind::Template, self.mtu);
        for t in &self.templates {
            if modes & (1 << t.mode.index()) == 0 {
                continue;
            }
            if !m.fits(tset, t.template_record_len()) {
                let full = std::mem::replace(
                    &mut m,
                    MessageBuilder::new(version, MessageKind::Template, self.mtu),
                );
                msgs.push(full);
            }
            m.begin_set(tset);
            m.add_template(t);
        }
        if options {
            for rec in options_templates(version) {
                // One options template per (Flow)Set: v9's layout (RFC 3954 §6.1), and for
                // IPFIX (RFC 7011 §3.4.2 allows either) what pmacct's nfacctd 1.7.7 needs:
                // it steps over an IPFIX options template record by (field count + scope
                // field count) × 4 octets, reading the next record of the same set 4
                // octets late (docs/export.md, "Collectors").
                m.close_set();
                if !m.fits(oset, rec.len()) {
                    let full = std::mem::replace(
                        &mut m,
                        MessageBuilder::new(version, MessageKind::Template, self.mtu),
                    );
                    msgs.push(full);
                }
                m.begin_set(oset);
                m.add_raw_template(&rec);
            }
        }
        msgs.push(m);
        msgs.retain(|m| !m.is_empty());
        msgs
    }

    /// Finishes messages in order, in the options stream if `options_stream` and it is
    /// separate, else in the flow stream.
    fn finish_all(&mut self, msgs: Vec<MessageBuilder>, now_ms: u64, options_stream: bool) {
        let mut h = self.header(now_ms);
        let seq = match (options_stream, self.options_seq.as_mut()) {
            (true, Some(s)) => {
                h.domain = 0;
                s
            }
            _ => &mut self.seq,
        };
        for m in msgs {
            self.out.push(m.finish(seq, h));
        }
    }

    fn emit_options_data(&mut self, now_ms: u64) {
        let version = self.format.version;
        let mut m = MessageBuilder::new(version, MessageKind::Data, self.mtu);
        m.begin_set(RELIABILITY_TEMPLATE_ID);
        m.add_options_record(&reliability_record(self.domain, &self.loss));
        m.begin_set(TIMEOUTS_TEMPLATE_ID);
        m.add_options_record(&timeouts_record(
            self.domain,
            self.active_timeout_secs,
            self.inactive_timeout_secs,
        ));
        self.finish_all(vec![m], now_ms, true);
    }
}
