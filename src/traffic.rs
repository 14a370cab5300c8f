//! Traffic for a modelled device: capture files in order, or the seeded generator, as a
//! stream of frames, and the `--generate` specification.
//!
//! `--generate` specifications are user text: the module denies
//! `clippy::indexing_slicing` (parsed with `split`/`split_once`, numbers with checked
//! conversions and saturating arithmetic).
#![deny(clippy::indexing_slicing)]

use nsflow_hwsim::capture::{CaptureError, CaptureReader, Frame};
use nsflow_hwsim::generator::{Generator, GeneratorConfig};
use nsflow_rtl::parser::LinkType;
use std::path::PathBuf;

/// Where frames come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// Capture files, replayed one after the other.
    Captures(Vec<PathBuf>),
    /// The synthetic generator.
    Generate(GeneratorConfig),
}

/// Why `--generate` was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--generate {spec}: {reason} (expected e.g. flows=1000,pps=1000000,seconds=1,seed=1,tcp=50,sizes=64:7/576:4/1500:1,random-sources)")]
pub struct SpecError {
    /// The specification given.
    pub spec: String,
    /// What is wrong.
    pub reason: String,
}

/// Parses `key=value,...` into a generator configuration; keys: flows, pps, seconds (may
/// be fractional), seed, tcp (percent), sizes (`SIZE:WEIGHT/...`), start (UNIX seconds),
/// and the flag `random-sources`. Unset keys keep the generator's defaults.
pub fn parse_generate(spec: &str) -> Result<GeneratorConfig, SpecError> {
    let mut c = GeneratorConfig::default();
    let err = |reason: String| SpecError {
        spec: spec.to_owned(),
        reason,
    };
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if item == "random-sources" {
            c.random_sources = true;
            continue;
        }
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| err(format!("`{item}` is not key=value")))?;
        let num = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| err(format!("{k}: `{v}` is not a whole number")))
        };
        match k {
            "flows" => {
                c.flows = u32::try_from(num(v)?)
                    .ok()
                    .filter(|f| *f >= 1)
                    .ok_or_else(|| err("flows must be 1..4294967295".into()))?
            }
            "pps" => c.rate_pps = num(v)?.max(1),
            "seconds" => {
                let s: f64 = v
                    .parse()
                    .map_err(|_| err(format!("seconds: `{v}` is not a number")))?;
                if !(s > 0.0 && s < 1e6) {
                    return Err(err("seconds must be above 0 and below 1000000".into()));
                }
                c.duration_ns = (s * 1e9) as u64;
            }
            "seed" => c.seed = num(v)?,
            "tcp" => {
                c.tcp_percent = u8::try_from(num(v)?)
                    .ok()
                    .filter(|p| *p <= 100)
                    .ok_or_else(|| err("tcp must be 0..100".into()))?
            }
            "start" => c.start_ns = num(v)?.saturating_mul(1_000_000_000),
            "sizes" => {
                let mut sizes = Vec::new();
                for s in v.split('/') {
                    let (size, w) = s
                        .split_once(':')
                        .ok_or_else(|| err(format!("size `{s}` is not SIZE:WEIGHT")))?;
                    let size = u16::try_from(num(size)?)
                        .map_err(|_| err(format!("size {size} above 65535")))?;
                    let w =
                        u32::try_from(num(w)?).map_err(|_| err(format!("weight {w} too large")))?;
                    sizes.push((size, w));
                }
                c.sizes = sizes;
            }
            _ => return Err(err(format!("unknown key `{k}`"))),
        }
    }
    Ok(c)
}

/// Gap between the last frame of a capture and the first of the next one.
pub const CAPTURE_GAP_NS: u64 = 1_000_000_000;

/// An iterator over the frames of a [`Source`]. Captures are played back to back: the
/// frames of each capture after the first are shifted in time so that it starts
/// [`CAPTURE_GAP_NS`] after the previous one ended (a device clock never runs backwards,
/// and captures taken years apart must not idle the device for years).
pub struct Frames {
    captures: std::vec::IntoIter<PathBuf>,
    current: Option<CaptureReader>,
    generator: Option<Generator>,
    /// Added to the current capture's timestamps (wrapping: a shift back in time).
    shift: u64,
    /// Whether the current capture's first frame has been seen (fixes `shift`).
    anchored: bool,
    /// The last timestamp handed out, shifted.
    last_ns: Option<u64>,
}

impl Frames {
    /// Starts reading `source`.
    pub fn new(source: &Source) -> Self {
        match source {
            Source::Captures(files) => Self {
                captures: files.clone().into_iter(),
                current: None,
                generator: None,
                shift: 0,
                anchored: false,
                last_ns: None,
            },
            Source::Generate(cfg) => Self {
                captures: Vec::new().into_iter(),
                current: None,
                generator: Some(Generator::new(cfg.clone())),
                shift: 0,
                anchored: false,
                last_ns: None,
            },
        }
    }

    /// Frames the source will produce, when known without reading it (the generator).
    pub fn len_hint(source: &Source) -> Option<u64> {
        match source {
            Source::Generate(cfg) => Some(Generator::new(cfg.clone()).len()),
            Source::Captures(_) => None,
        }
    }
}

impl Iterator for Frames {
    type Item = Result<Frame, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(g) = &mut self.generator {
            let mut data = Vec::new();
            let ts_ns = g.next_into(&mut data)?;
            return Some(Ok(Frame {
                ts_ns,
                link: Some(LinkType::Ethernet),
                data,
            }));
        }
        loop {
            if let Some(r) = &mut self.current {
                let next = r.next();
                if next.is_none() {
                    // Told once per file, when it ends: the frames the parser cannot key.
                    if let Some(w) = r.unsupported() {
                        eprintln!("nsflow: warning: {w}");
                    }
                    self.current = None;
                }
                if let Some(f) = next {
                    return Some(f.map(|mut f| {
                        if !self.anchored {
                            self.anchored = true;
                            self.shift = self.last_ns.map_or(0, |last| {
                                last.saturating_add(CAPTURE_GAP_NS).wrapping_sub(f.ts_ns)
                            });
                        }
                        f.ts_ns = f.ts_ns.wrapping_add(self.shift);
                        self.last_ns = Some(self.last_ns.map_or(f.ts_ns, |l| l.max(f.ts_ns)));
                        f
                    }));
                }
            }
            let path = self.captures.next()?;
            match CaptureReader::open(&path) {
                Ok(r) => {
                    self.current = Some(r);
                    self.anchored = false;
                }
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_spec() {
        let c = parse_generate(
            "flows=10,pps=1000,seconds=0.5,seed=7,tcp=100,sizes=64:1/1500:3,random-sources",
        )
        .unwrap();
        assert_eq!(
            (c.flows, c.rate_pps, c.duration_ns, c.seed, c.tcp_percent),
            (10, 1000, 500_000_000, 7, 100)
        );
        assert_eq!(c.sizes, vec![(64, 1), (1500, 3)]);
        assert!(c.random_sources);
        assert_eq!(parse_generate("").unwrap(), GeneratorConfig::default());
        for bad in [
            "flows=0",
            "tcp=101",
            "pps=x",
            "seconds=-1",
            "colour=red",
            "sizes=64",
            "flows",
        ] {
            assert!(parse_generate(bad).is_err(), "{bad}");
        }
        // Captures play back to back, whatever their own times.
        let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/pcaps");
        let (a, b) = (
            shared.join("flowtest-ipv6-smtp.pcap"),
            shared.join("ndpi-http-ipv6.pcap"),
        );
        if a.is_file() && b.is_file() {
            let one = |p: &std::path::PathBuf| -> Vec<u64> {
                Frames::new(&Source::Captures(vec![p.clone()]))
                    .map(|f| f.unwrap().ts_ns)
                    .collect()
            };
            let (ta, tb) = (one(&a), one(&b));
            let both: Vec<u64> = Frames::new(&Source::Captures(vec![a, b]))
                .map(|f| f.unwrap().ts_ns)
                .collect();
            assert_eq!(
                both[..ta.len()],
                ta[..],
                "the first capture keeps its times"
            );
            let last_a = *ta.iter().max().unwrap();
            let shifted: Vec<u64> = tb
                .iter()
                .map(|t| t - tb[0] + last_a + CAPTURE_GAP_NS)
                .collect();
            assert_eq!(both[ta.len()..], shifted[..], "the second starts 1 s after");
            assert!(tb[0] > last_a + 3600 * 1_000_000_000, "taken apart in time");
        }
        let n = Frames::new(&Source::Generate(
            parse_generate("flows=3,pps=100,seconds=1").unwrap(),
        ))
        .count();
        assert_eq!(n, 100);
    }
}
