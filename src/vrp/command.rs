//! The grammar: one line, in one view, to a typed [`Command`], or an error whose caret points
//! at the token that is wrong. The same code answers `?` help (see [`super::cursor`]).
//!
//! `undo` of a setting parses to the setting with its default value, so that the model has
//! one operation per setting, and to the value typed after it, if any (`undo template
//! timeout-rate 20`), which the session checks against the configured one.
#![deny(clippy::indexing_slicing)]

use super::cursor::{kw, unlisted, AddrSpec, Cursor, Kw};
use super::error::{CommandError, ErrorKind};
use super::filter::{self, OutputFilter};
use super::model::{
    check_vrf_device, ActiveTimeout, AggregationConfig, AggregationSetting, Collector, Direction,
    ExportChange, FieldWidth, MplsAware, SystemConfig, SystemSetting, Version, VpnSetting,
    ACTIVE_MINUTES, ACTIVE_SECONDS, DSCP, INACTIVE_SECONDS, MASK_LENGTH, OPTION_MINUTES,
    OPTION_PACKETS, PORT, TEMPLATE_MINUTES, VPN_NAME, VRF_DEVICE,
};
use nsflow_rtl::AggregationMode;
use std::net::{IpAddr, Ipv4Addr};

/// A VRP view: which commands a line can be.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum View {
    /// `<nsflow>`: after login; `system-view` leaves it.
    User,
    /// `[~nsflow]`: global NetStream settings.
    System,
    /// `[~nsflow-aggregation-ipv6-MODE]`: one aggregation mode's settings.
    Aggregation(AggregationMode),
    /// `[~nsflow-vpn-instance-NAME]`: one VPN instance, by name.
    VpnInstance(String),
}

impl View {
    /// The view a command falls back to when it is not a command of this one (VRP runs a
    /// command of an enclosing view and moves there).
    pub const fn parent(&self) -> Option<View> {
        match self {
            Self::User => None,
            Self::System => Some(Self::User),
            Self::Aggregation(_) | Self::VpnInstance(_) => Some(Self::System),
        }
    }
}

/// Which configuration `display` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// `display current-configuration`: the running configuration.
    Running,
    /// `display configuration candidate`: the candidate being edited.
    Candidate,
    /// `display this`: the running configuration of the current view.
    This,
}

/// A command about the device's state rather than the configuration: the session cannot
/// answer it by itself, the shell that runs the device does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `display ipv6 netstream cache aggregation MODE`: the aggregates of that mode.
    Cache(AggregationMode),
    /// `display ipv6 netstream statistics`: the device's counters.
    Statistics,
    /// `display ipv6 netstream export`: messages and records per collector.
    Export,
    /// `display ipv6 netstream template`: the templates of every exporting mode.
    Template,
    /// `reset ipv6 netstream cache`: age every flow out now (a flush): all are exported.
    ResetCache,
}

/// One command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `system-view`: enter the system view.
    SystemView,
    /// `quit`: back one view (from the user view: end the session).
    Quit,
    /// `return`: back to the user view.
    Return,
    /// `commit`: check the candidate and make it the running configuration.
    Commit,
    /// `display current-configuration` / `display configuration candidate` / `display
    /// this`, with its output filter.
    Display(Shown, Option<OutputFilter>),
    /// `display ipv6 netstream …` with its output filter, or `reset ipv6 netstream cache`.
    Operation(Operation, Option<OutputFilter>),
    /// `ipv6 netstream aggregation MODE`: create (if needed) and enter the mode's view.
    EnterAggregation(AggregationMode),
    /// `undo ipv6 netstream aggregation MODE`: delete the mode's view.
    DeleteAggregation(AggregationMode),
    /// `ip vpn-instance NAME`: create (if needed) and enter the instance's view.
    EnterVpnInstance(String),
    /// `undo ip vpn-instance NAME`: delete the instance.
    DeleteVpnInstance(String),
    /// A system-view setting (`undo` gives its default), and with `undo … VALUE` the
    /// setting typed, which must be the configured one.
    System(SystemSetting, Option<SystemSetting>),
    /// A setting of the aggregation view of this mode (`undo` gives its default), and with
    /// `undo … VALUE` the setting typed, which must be the configured one.
    Aggregation(
        AggregationMode,
        AggregationSetting,
        Option<AggregationSetting>,
    ),
    /// A host or source change in the system view (`None`) or a mode's aggregation view.
    Export(Option<AggregationMode>, ExportChange),
    /// A setting of the view of this VPN instance (`undo` gives its default), and with
    /// `undo … VALUE` the setting typed, which must be the configured one.
    VpnInstance(String, VpnSetting, Option<VpnSetting>),
}

/// A parsed command and the column of its main operand (the host or source address, the
/// mode, the value after `undo`), where an error found when the command is executed
/// points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The command.
    pub command: Command,
    /// 1-based column of its main operand.
    pub focus: usize,
}

/// Parses `line` as a command of `view` (no fallback to other views; see
/// [`super::session::Session::feed_line`] for that).
pub fn parse(view: &View, line: &str) -> Result<Parsed, CommandError> {
    parse_with(view, &mut Cursor::new(line))
}

/// Parses from `cur`, leaving in it what was acceptable where parsing stopped.
pub(crate) fn parse_with(view: &View, cur: &mut Cursor<'_>) -> Result<Parsed, CommandError> {
    let mut focus = cur.column();
    let command = match view {
        View::User => user(cur)?,
        View::System => system(cur, &mut focus)?,
        View::Aggregation(mode) => aggregation(*mode, cur, &mut focus)?,
        View::VpnInstance(name) => vpn_instance(name, cur, &mut focus)?,
    };
    Ok(Parsed { command, focus })
}

#[derive(Debug, Clone, Copy)]
enum First {
    SystemView,
    Display,
    Quit,
    Return,
    Commit,
    Ip,
    Ipv6,
    Undo,
    VrfDevice,
    Enable,
    Export,
    Template,
    Mask,
    Reset,
}

const SYSTEM_VIEW: Kw<First> = kw("system-view", "Enter the system view", First::SystemView);
const DISPLAY: Kw<First> = kw("display", "Display the configuration", First::Display);
const QUIT: Kw<First> = kw("quit", "Exit from the current view", First::Quit);
const RETURN: Kw<First> = kw("return", "Return to the user view", First::Return);
const COMMIT: Kw<First> = kw(
    "commit",
    "Commit the candidate configuration",
    First::Commit,
);
const IPV6: Kw<First> = kw("ipv6", "IPv6 NetStream", First::Ipv6);
const IP: Kw<First> = kw("ip", "VPN instances", First::Ip);
const UNDO: Kw<First> = kw("undo", "Restore a default or delete a setting", First::Undo);
const RESET: Kw<First> = kw("reset", "Clear a table", First::Reset);

fn user(cur: &mut Cursor<'_>) -> Result<Command, CommandError> {
    let c = match cur.keyword(&[SYSTEM_VIEW, DISPLAY, RESET, QUIT])? {
        First::SystemView => Command::SystemView,
        First::Display => display(cur, false)?,
        First::Reset => {
            cur.keyword(&[kw("ipv6", "IPv6 NetStream", ())])?;
            netstream(cur)?;
            cur.keyword(&[kw("cache", "Age out every flow now: all are exported", ())])?;
            Command::Operation(Operation::ResetCache, None)
        }
        _ => Command::Quit,
    };
    cur.end()?;
    Ok(c)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shows {
    Running,
    Configuration,
    This,
    Ipv6,
}

/// What follows `display`, with its output filter; `display this` only in a
/// configuration view (`this`).
fn display(cur: &mut Cursor<'_>, this: bool) -> Result<Command, CommandError> {
    let shown = cur.keyword(&[
        kw(
            "current-configuration",
            "The running configuration",
            Shows::Running,
        ),
        kw("configuration", "A configuration", Shows::Configuration),
        Kw {
            word: "this",
            help: "The running configuration of the current view",
            value: Shows::This,
            listed: this,
        },
        kw("ipv6", "IPv6 NetStream state", Shows::Ipv6),
    ])?;
    let shown = match shown {
        Shows::Running => Shown::Running,
        Shows::This if this => Shown::This,
        Shows::This => {
            return Err(cur.refuse_last(
                ErrorKind::Unrecognized,
                "`display this` shows the configuration of a configuration view; the user view has none",
            ))
        }
        Shows::Configuration => {
            cur.keyword(&[kw(
                "candidate",
                "The candidate configuration (not yet committed)",
                (),
            )])?;
            Shown::Candidate
        }
        Shows::Ipv6 => {
            netstream(cur)?;
            let op = display_netstream(cur)?;
            return Ok(Command::Operation(op, filter::parse(cur)?));
        }
    };
    Ok(Command::Display(shown, filter::parse(cur)?))
}

/// What follows `display ipv6 netstream`.
fn display_netstream(cur: &mut Cursor<'_>) -> Result<Operation, CommandError> {
    let op = cur.keyword(&[
        kw("cache", "Aggregated flows", None),
        kw(
            "statistics",
            "Device statistics",
            Some(Operation::Statistics),
        ),
        kw("export", "Export per collector", Some(Operation::Export)),
        kw("template", "Export templates", Some(Operation::Template)),
    ])?;
    if let Some(op) = op {
        return Ok(op);
    }
    cur.keyword(&[kw("aggregation", "Aggregated flows of one mode", ())])?;
    Ok(Operation::Cache(cur.keyword(&mode_keywords(|m| m))?))
}

/// The aggregation mode keywords with the mode table's help texts, in index order, each
/// choosing `value(mode)`.
fn mode_keywords<T>(value: impl Fn(AggregationMode) -> T) -> Vec<Kw<T>> {
    AggregationMode::ALL
        .iter()
        .map(|m| kw(m.name(), m.help(), value(*m)))
        .collect()
}

/// Commands every configuration view has: `commit`, `display`, `quit`, `return`.
fn common(first: First, cur: &mut Cursor<'_>) -> Result<Command, CommandError> {
    let c = match first {
        First::Commit => Command::Commit,
        First::Display => display(cur, true)?,
        First::Quit => Command::Quit,
        _ => Command::Return,
    };
    cur.end()?;
    Ok(c)
}

fn system(cur: &mut Cursor<'_>, focus: &mut usize) -> Result<Command, CommandError> {
    let first = cur.keyword(&[IPV6, IP, UNDO, COMMIT, DISPLAY, QUIT, RETURN])?;
    let (undo, first) = match first {
        First::Undo => (true, cur.keyword(&[IPV6, IP])?),
        other => (false, other),
    };
    match first {
        First::Ipv6 => {
            netstream(cur)?;
            system_netstream(cur, undo, focus)
        }
        First::Ip => {
            cur.keyword(&[kw("vpn-instance", "A VPN instance", ())])?;
            *focus = cur.column();
            let name = cur.name(&VPN_NAME, "VPN instance name (case-sensitive)")?;
            cur.end()?;
            Ok(if undo {
                Command::DeleteVpnInstance(name)
            } else {
                Command::EnterVpnInstance(name)
            })
        }
        other => common(other, cur),
    }
}

/// The commands of the view of the VPN instance `name`: `vrf-device DEV`, `undo
/// vrf-device [DEV]`, and those of every configuration view.
fn vpn_instance(
    name: &str,
    cur: &mut Cursor<'_>,
    focus: &mut usize,
) -> Result<Command, CommandError> {
    let vrf = kw(
        "vrf-device",
        "The Linux VRF device that carries the export (default: the instance's name)",
        First::VrfDevice,
    );
    let (undo, first) = match cur.keyword(&[vrf, UNDO, COMMIT, DISPLAY, QUIT, RETURN])? {
        First::Undo => (true, cur.keyword(&[vrf])?),
        other => (false, other),
    };
    if !matches!(first, First::VrfDevice) {
        return common(first, cur);
    }
    let (set, typed) = value(cur, undo, None, focus, |c| {
        let dev = c.name(&VRF_DEVICE, "Linux VRF device name")?;
        check_vrf_device(&dev)
            .map(|()| Some(dev))
            .map_err(|d| c.refuse_last(ErrorKind::WrongParameter, d))
    })?
    .map(VpnSetting::VrfDevice);
    Ok(Command::VpnInstance(name.to_owned(), set, typed))
}

fn netstream(cur: &mut Cursor<'_>) -> Result<(), CommandError> {
    cur.keyword(&[kw("netstream", "NetStream", ())])
}

#[derive(Debug, Clone, Copy)]
enum Word {
    Export,
    Aggregation,
    Timeout,
    AsMode,
    MplsAware,
    Host,
    Source,
    Template,
    IndexSwitch,
    SequenceNumber,
    Option,
    RefreshRate,
    TimeoutRate,
}

const HOST: Kw<Word> = kw("host", "Collector (destination) of the export", Word::Host);
const SOURCE: Kw<Word> = kw(
    "source",
    "Source address and port of the export",
    Word::Source,
);

fn system_netstream(
    cur: &mut Cursor<'_>,
    undo: bool,
    focus: &mut usize,
) -> Result<Command, CommandError> {
    let d = SystemConfig::default();
    let setting = match cur.keyword(&[
        kw("export", "Export settings", Word::Export),
        kw("aggregation", "Aggregated flows", Word::Aggregation),
        kw("timeout", "Aging of original flows", Word::Timeout),
        kw("as-mode", "Width of AS fields", Word::AsMode),
        kw(
            "mpls-aware",
            "What is sampled of MPLS packets",
            Word::MplsAware,
        ),
    ])? {
        Word::Export => match cur.keyword(&[
            HOST,
            SOURCE,
            kw("template", "Templates and options", Word::Template),
            kw("index-switch", "Width of ifIndex fields", Word::IndexSwitch),
        ])? {
            w @ (Word::Host | Word::Source) => return export(cur, None, w, undo, focus),
            Word::Template => match cur.keyword(&[
                kw(
                    "sequence-number",
                    "IPFIX sequence numbers of template packets",
                    Word::SequenceNumber,
                ),
                kw("option", "Options template and data", Word::Option),
            ])? {
                Word::SequenceNumber => {
                    cur.keyword(&[kw(
                        "fixed",
                        "Template packets do not advance the sequence number (RFC 7011)",
                        (),
                    )])?;
                    cur.end()?;
                    (SystemSetting::SequenceFixed(!undo), None)
                }
                _ => match cur.keyword(&[
                    kw(
                        "refresh-rate",
                        "Re-send options every this many packets",
                        Word::RefreshRate,
                    ),
                    kw(
                        "timeout-rate",
                        "Re-send options every this many minutes",
                        Word::TimeoutRate,
                    ),
                ])? {
                    Word::RefreshRate => value(cur, undo, d.option_refresh_packets, focus, |c| {
                        c.int(&OPTION_PACKETS, "Packets between options refreshes")
                    })?
                    .map(SystemSetting::OptionRefreshRate),
                    _ => value(cur, undo, d.option_timeout_min, focus, |c| {
                        c.int(&OPTION_MINUTES, "Minutes between options refreshes")
                    })?
                    .map(SystemSetting::OptionTimeoutRate),
                },
            },
            _ => value(cur, undo, d.index_switch, focus, width)?.map(SystemSetting::IndexSwitch),
        },
        Word::Aggregation => {
            let mut table = mode_keywords(Some);
            table.push(kw("timeout", "Aging of aggregated flows", None));
            *focus = cur.column();
            match cur.keyword(&table)? {
                Some(mode) => {
                    cur.end()?;
                    return Ok(if undo {
                        Command::DeleteAggregation(mode)
                    } else {
                        Command::EnterAggregation(mode)
                    });
                }
                None => timeout(cur, undo, true, focus)?,
            }
        }
        Word::Timeout => timeout(cur, undo, false, focus)?,
        Word::AsMode => value(cur, undo, d.as_mode, focus, width)?.map(SystemSetting::AsMode),
        _ => value(cur, undo, d.mpls_aware, focus, |c| {
            c.keyword(&[
                kw("label-only", "Sample labels only", MplsAware::LabelOnly),
                kw(
                    "ip-only",
                    "Sample inner IP only (default)",
                    MplsAware::IpOnly,
                ),
                kw(
                    "label-and-ip",
                    "Sample labels and inner IP",
                    MplsAware::LabelAndIp,
                ),
            ])
        })?
        .map(SystemSetting::MplsAware),
    };
    Ok(Command::System(setting.0, setting.1))
}

/// A setting's value as a command gives it: the value set (the default after `undo`)
/// and, after `undo … VALUE`, the value typed.
struct Valued<T> {
    set: T,
    typed: Option<T>,
}

impl<T> Valued<T> {
    /// The settings made of the two values.
    fn map<S>(self, setting: impl Fn(T) -> S) -> (S, Option<S>) {
        (setting(self.set), self.typed.map(setting))
    }
}

/// The value of a setting: read it; with `undo` the default, and the value after `undo` if
/// one is typed (its column becomes the focus, where a mismatch with the configured value
/// points); then the line ends. After a bare `undo` the value is still offered in help.
fn value<T>(
    cur: &mut Cursor<'_>,
    undo: bool,
    default: T,
    focus: &mut usize,
    read: impl FnOnce(&mut Cursor<'_>) -> Result<T, CommandError>,
) -> Result<Valued<T>, CommandError> {
    let v = if undo {
        let bare = cur.at_end();
        *focus = cur.column();
        match read(cur) {
            Ok(typed) => Valued {
                set: default,
                typed: Some(typed),
            },
            // Nothing after `undo …`: the read only listed the value for help.
            Err(_) if bare => Valued {
                set: default,
                typed: None,
            },
            Err(e) => return Err(e),
        }
    } else {
        Valued {
            set: read(cur)?,
            typed: None,
        }
    };
    cur.end()?;
    Ok(v)
}

/// `active {MIN | interval-second S}` or `inactive S` after `timeout`: the aggregation
/// timers (`aggregated`) or the original-flow ones.
fn timeout(
    cur: &mut Cursor<'_>,
    undo: bool,
    aggregated: bool,
    focus: &mut usize,
) -> Result<(SystemSetting, Option<SystemSetting>), CommandError> {
    let d = SystemConfig::default();
    let is_active = cur.keyword(&[
        kw("active", "Active aging time", true),
        kw("inactive", "Inactive aging time", false),
    ])?;
    Ok(match (is_active, aggregated) {
        (true, true) => value(cur, undo, d.aggregation_active, focus, active)?
            .map(SystemSetting::AggregationActive),
        (true, false) => {
            value(cur, undo, d.original_active, focus, active)?.map(SystemSetting::OriginalActive)
        }
        (false, true) => value(cur, undo, d.aggregation_inactive_s, focus, inactive)?
            .map(SystemSetting::AggregationInactive),
        (false, false) => value(cur, undo, d.original_inactive_s, focus, inactive)?
            .map(SystemSetting::OriginalInactive),
    })
}

fn active(cur: &mut Cursor<'_>) -> Result<ActiveTimeout, CommandError> {
    if cur
        .opt_keyword(&[kw("interval-second", "Active aging time in seconds", ())])?
        .is_some()
    {
        Ok(ActiveTimeout::Seconds(
            cur.int(&ACTIVE_SECONDS, "Active aging time, seconds")?,
        ))
    } else {
        Ok(ActiveTimeout::Minutes(
            cur.int(&ACTIVE_MINUTES, "Active aging time, minutes")?,
        ))
    }
}

fn inactive(cur: &mut Cursor<'_>) -> Result<u16, CommandError> {
    cur.int(&INACTIVE_SECONDS, "Inactive aging time, seconds")
}

fn width(cur: &mut Cursor<'_>) -> Result<FieldWidth, CommandError> {
    cur.keyword(&[
        kw("16", "16-bit field (default)", FieldWidth::Two),
        kw("32", "32-bit field", FieldWidth::Four),
    ])
}

const IPV6_WORD: [Kw<()>; 1] = [kw("ipv6", "An IPv6 address follows", ())];
const HOST_V4: AddrSpec = AddrSpec {
    word: "<ipv4-address>",
    help: "IPv4 address of the collector",
    other_family: "an IPv6 collector address is written after the `ipv6` keyword: `ipv6 netstream export host ipv6 ADDRESS PORT`",
};
const HOST_V6: AddrSpec = AddrSpec {
    word: "<ipv6-address>",
    help: "IPv6 address of the collector",
    other_family: "after `ipv6` the collector address must be IPv6; an IPv4 collector is written without `ipv6`",
};
const SOURCE_V4: AddrSpec = AddrSpec {
    word: "<ipv4-address>",
    help: "IPv4 source address of the export",
    other_family: "an IPv6 source address is written after the `ipv6` keyword: `ipv6 netstream export source ipv6 ADDRESS`",
};
const SOURCE_V6: AddrSpec = AddrSpec {
    word: "<ipv6-address>",
    help: "IPv6 source address of the export",
    other_family:
        "after `ipv6` the source address must be IPv6; an IPv4 source is written without `ipv6`",
};

/// `host …` or `source …` (`word`) after `ipv6 netstream export`, in the system or an
/// aggregation view.
fn export(
    cur: &mut Cursor<'_>,
    scope: Option<AggregationMode>,
    word: Word,
    undo: bool,
    focus: &mut usize,
) -> Result<Command, CommandError> {
    let is_host = matches!(word, Word::Host);
    let v6 = cur.opt_keyword(&IPV6_WORD)?.is_some();
    *focus = cur.column();
    let addr = match (v6, is_host) {
        (false, true) => IpAddr::V4(cur.ipv4(&HOST_V4)?),
        (true, true) => IpAddr::V6(cur.ipv6(&HOST_V6)?),
        (false, false) => IpAddr::V4(cur.ipv4(&SOURCE_V4)?),
        (true, false) => IpAddr::V6(cur.ipv6(&SOURCE_V6)?),
    };
    if addr.is_unspecified() || (!is_host && addr.is_multicast()) {
        return Err(cur.refuse_last(
            ErrorKind::WrongParameter,
            format!(
                "{addr} cannot be {}",
                if is_host {
                    "a collector address"
                } else {
                    "a source address (unspecified or multicast)"
                }
            ),
        ));
    }
    // What can never be sent to is refused here, so that `check-config` and the commit
    // say so rather than the run at start.
    if is_host && (addr.is_multicast() || addr == IpAddr::V4(Ipv4Addr::BROADCAST)) {
        return Err(cur.refuse_last(
            ErrorKind::WrongParameter,
            format!(
                "{addr} cannot be a collector address: a collector is reached by unicast, not by broadcast or multicast"
            ),
        ));
    }
    let addr_column = cur.last_column();
    if !is_host {
        let change = if undo {
            ExportChange::RemoveSource(addr)
        } else {
            let port = cur.opt_int(&PORT, "Source UDP port (default 40000)")?;
            ExportChange::SetSource { addr, port }
        };
        cur.end()?;
        return Ok(Command::Export(scope, change));
    }
    let port = cur.int(&PORT, "Collector UDP port")?;
    let vpn_instance = match cur.opt_keyword(&[kw(
        "vpn-instance",
        "VPN instance the collector is reached in",
        (),
    )])? {
        Some(()) => Some(cur.name(&VPN_NAME, "VPN instance name (case-sensitive)")?),
        None => None,
    };
    let link_local = matches!(addr, IpAddr::V6(a) if a.is_unicast_link_local());
    if link_local && vpn_instance.is_none() && !undo {
        return Err(CommandError::new(
            ErrorKind::WrongParameter,
            addr_column,
            format!(
                "{addr} is link-local: it is reached through one interface, named only by `vpn-instance NAME`; without it nothing could be sent"
            ),
        ));
    }
    let change = if undo {
        ExportChange::RemoveHost {
            addr,
            port,
            vpn_instance,
        }
    } else {
        let dscp = match cur.opt_keyword(&[kw("dscp", "DSCP of the export packets", ())])? {
            Some(()) => cur.int(&DSCP, "DSCP (0 = unmarked, the default)")?,
            None => 0,
        };
        ExportChange::AddHost(Collector {
            vpn_instance,
            dscp,
            ..Collector::new(addr, port)
        })
    };
    cur.end()?;
    Ok(Command::Export(scope, change))
}

fn aggregation(
    mode: AggregationMode,
    cur: &mut Cursor<'_>,
    focus: &mut usize,
) -> Result<Command, CommandError> {
    let mask = Kw {
        word: "mask",
        help: "Minimum prefix length (prefix modes)",
        value: First::Mask,
        listed: mode.is_prefix_mode(),
    };
    let enable = kw("enable", "Enable this aggregation mode", First::Enable);
    let export_kw = kw("export", "Export format", First::Export);
    let template = kw("template", "Template refresh", First::Template);
    let first = cur.keyword(&[
        enable, export_kw, template, mask, IPV6, UNDO, COMMIT, DISPLAY, QUIT, RETURN,
    ])?;
    let (undo, first) = match first {
        First::Undo => (
            true,
            cur.keyword(&[enable, export_kw, template, mask, IPV6])?,
        ),
        other => (false, other),
    };
    let d = AggregationConfig::default();
    let (setting, typed) = match first {
        First::Enable => {
            cur.end()?;
            (AggregationSetting::Enable(!undo), None)
        }
        First::Export => {
            cur.keyword(&[kw("version", "Export format", ())])?;
            value(cur, undo, d.version, focus, |c| {
                c.keyword(&[
                    kw("9", "NetFlow v9 (default)", Some(Version::V9)),
                    kw("ipfix", "IPFIX", Some(Version::Ipfix)),
                    unlisted("5", None),
                    unlisted("8", None),
                ])?
                .ok_or_else(|| {
                    c.refuse_last(
                        ErrorKind::WrongParameter,
                        "IPv6 aggregated flows can only be exported as V9 or IPFIX; V5 and V8 are IPv4 formats",
                    )
                })
            })?
            .map(AggregationSetting::ExportVersion)
        }
        First::Template => {
            cur.keyword(&[kw("timeout-rate", "Template refresh interval", ())])?;
            value(cur, undo, d.template_timeout_min, focus, |c| {
                c.int(&TEMPLATE_MINUTES, "Minutes between template refreshes")
            })?
            .map(AggregationSetting::TemplateTimeoutRate)
        }
        First::Mask => {
            if !mode.is_prefix_mode() {
                let prefix_modes: Vec<&str> = AggregationMode::ALL
                    .iter()
                    .filter(|m| m.is_prefix_mode())
                    .map(|m| m.name())
                    .collect();
                return Err(cur.refuse_last(
                    ErrorKind::Unrecognized,
                    format!(
                        "`mask` applies only to the prefix modes ({}); this is the `{mode}` view",
                        prefix_modes.join(", ")
                    ),
                ));
            }
            let dir = cur.keyword(&[
                kw("source", "Source prefix", Direction::Source),
                kw("destination", "Destination prefix", Direction::Destination),
            ])?;
            cur.keyword(&[kw("minimum", "Minimum prefix length", ())])?;
            value(cur, undo, None, focus, |c| {
                c.int(&MASK_LENGTH, "Minimum prefix length").map(Some)
            })?
            .map(|l| AggregationSetting::Mask(dir, l))
        }
        First::Ipv6 => {
            netstream(cur)?;
            cur.keyword(&[kw("export", "Export settings", ())])?;
            let w = cur.keyword(&[HOST, SOURCE])?;
            return export(cur, Some(mode), w, undo, focus);
        }
        other => return common(other, cur),
    };
    Ok(Command::Aggregation(mode, setting, typed))
}
