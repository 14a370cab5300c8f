//! The 64-bit statistics as software reads them: every global counter and every counter of
//! the profile slots read, by the register map's typed names ([`GlobalStat`],
//! [`ProfileStat`]). The driver and the test harness read them the same way, through
//! [`Counters::read`], after latching them with `CTRL.stats_snapshot`.

use crate::regs::{self, GlobalStat, ProfileStat};

/// One readout of the statistics.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Counters {
    /// Global counters, in [`GlobalStat`] order.
    pub global: Vec<u64>,
    /// Per profile slot read, counters in [`ProfileStat`] order.
    pub profiles: Vec<Vec<u64>>,
}

impl Counters {
    /// Reads every global counter and the counters of profile slots `0..profiles` through
    /// `read` (a 32-bit BAR read): the LO half, then the HI half, of each latched value.
    pub fn read<E>(mut read: impl FnMut(u32) -> Result<u32, E>, profiles: u32) -> Result<Self, E> {
        let mut read64 = |lo: u32| -> Result<u64, E> {
            let l = read(lo)?;
            let h = read(lo + 4)?;
            Ok(u64::from(h) << 32 | u64::from(l))
        };
        let global = GlobalStat::ALL
            .iter()
            .map(|s| read64(regs::global_stat(*s)))
            .collect::<Result<_, E>>()?;
        let profiles = (0..profiles)
            .map(|p| {
                ProfileStat::ALL
                    .iter()
                    .map(|s| read64(regs::profile_stat(p, *s)))
                    .collect::<Result<_, E>>()
            })
            .collect::<Result<_, E>>()?;
        Ok(Self { global, profiles })
    }

    /// A global counter (0 when not read).
    pub fn global(&self, s: GlobalStat) -> u64 {
        self.global.get(s.index()).copied().unwrap_or(0)
    }

    /// A counter of profile slot `p` (0 for a slot not read).
    pub fn profile(&self, p: usize, s: ProfileStat) -> u64 {
        self.profiles
            .get(p)
            .and_then(|v| v.get(s.index()))
            .copied()
            .unwrap_or(0)
    }

    /// A profile counter summed over every slot read.
    pub fn profile_total(&self, s: ProfileStat) -> u64 {
        (0..self.profiles.len()).map(|p| self.profile(p, s)).sum()
    }

    /// Adds `other` counter by counter (profiles by slot), as the counters of a device's
    /// earlier lives are added to those read after a reset.
    pub fn add(&mut self, other: &Counters) {
        add_counters(&mut self.global, &other.global);
        if self.profiles.len() < other.profiles.len() {
            self.profiles.resize(other.profiles.len(), Vec::new());
        }
        for (mine, theirs) in self.profiles.iter_mut().zip(&other.profiles) {
            add_counters(mine, theirs);
        }
    }
}

/// `mine += theirs`, element by element (wrapping, as 64-bit hardware counters do).
fn add_counters(mine: &mut Vec<u64>, theirs: &[u64]) {
    if mine.len() < theirs.len() {
        mine.resize(theirs.len(), 0);
    }
    for (m, t) in mine.iter_mut().zip(theirs) {
        *m = m.wrapping_add(*t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_readout_puts_every_counter_in_its_place() {
        // A register file where each statistic's LO half holds its offset and HI half 1.
        let c =
            Counters::read(|o| Ok::<_, ()>(if o & 4 == 0 { o } else { 1 }), 2).unwrap_or_default();
        let v = |lo: u32| 1u64 << 32 | u64::from(lo);
        assert_eq!(
            c.global(GlobalStat::Ipv6Bytes),
            v(regs::global_stat(GlobalStat::Ipv6Bytes))
        );
        assert_eq!(
            c.profile(1, ProfileStat::DropBytes),
            v(regs::profile_stat(1, ProfileStat::DropBytes))
        );
        assert_eq!(c.profile(2, ProfileStat::Records), 0);
        let mut twice = c.clone();
        twice.add(&c);
        assert_eq!(
            twice.profile_total(ProfileStat::Created),
            2 * c.profile_total(ProfileStat::Created)
        );
    }
}
