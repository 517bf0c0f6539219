//! When each key was last used, for the LRU and LFU eviction policies and OBJECT
//! IDLETIME / FREQ: Redis's 24-bit `lru` field, in the 19 bits an entry can spare.
//!
//! Where the bits live: an entry is exactly 64 bytes (a 65th byte costs 16 per key in the
//! allocator's size classes), so the access field shares the expiry's word. Unix
//! milliseconds fit in 44 bits until the year 2527; the word holds a flag, the 19-bit
//! field and the 44-bit expiry. An expiry later than that keeps the word to itself (all
//! 63 bits of Redis's range) and the key records no access: it counts as just used and
//! never ages out of an LRU/LFU sample.
//!
//! Why atomic: a read records its access through a shared reference, and a snapshot
//! writer thread may be reading the same entry at that moment (it reads the expiry only).
//! Relaxed loads and stores are plain moves on x86-64 and ARM64.
//!
//! What the 19 bits mean depends on the policy, as in Redis (switching policies at run
//! time leaves old fields to be reinterpreted until keys are used again):
//! - LRU: the second of the last access, modulo 2^19 (6.07 days: a key idle longer reads
//!   as idle for the remainder; Redis's 24 bits wrap after 194 days).
//! - LFU: the minute of the last decrement, modulo 2^11 (34 hours), and an 8-bit
//!   logarithmic counter (Redis: 16-bit minutes, 45 days).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Set when the word holds field + 44-bit expiry; clear when it holds a wide expiry only.
const COMPACT: u64 = 1 << 63;
const EXPIRE_BITS: u32 = 44;
const EXPIRE_MASK: u64 = (1 << EXPIRE_BITS) - 1;
/// Bits of the access field.
pub const FIELD_BITS: u32 = 19;
const FIELD_MASK: u64 = (1 << FIELD_BITS) - 1;
/// Largest expiry kept (Redis's expiries are signed 64-bit milliseconds).
const EXPIRE_MAX: u64 = i64::MAX as u64;

/// An entry's expiry (absolute Unix ms, 0 = none) and access field in one atomic word.
#[derive(Debug)]
pub struct Stamp(AtomicU64);

impl Stamp {
    /// An expiry past `i64::MAX` ms (only a corrupt input has one) is kept as `i64::MAX`.
    pub fn new(expire_at: u64, field: u32) -> Stamp {
        Stamp(AtomicU64::new(Self::pack(expire_at, field)))
    }

    fn pack(expire_at: u64, field: u32) -> u64 {
        if expire_at <= EXPIRE_MASK {
            COMPACT | (field as u64 & FIELD_MASK) << EXPIRE_BITS | expire_at
        } else {
            expire_at.min(EXPIRE_MAX)
        }
    }

    #[inline]
    pub fn expire_at(&self) -> u64 {
        let w = self.0.load(Relaxed);
        if w & COMPACT != 0 {
            w & EXPIRE_MASK
        } else {
            w
        }
    }

    /// The access field; `None` for a key whose expiry needs the whole word.
    #[inline]
    pub fn field(&self) -> Option<u32> {
        let w = self.0.load(Relaxed);
        (w & COMPACT != 0).then_some(((w >> EXPIRE_BITS) & FIELD_MASK) as u32)
    }

    /// Record an access (no-op for a wide expiry). Through a shared reference: see the
    /// module docs.
    #[inline]
    pub fn set_field(&self, field: u32) {
        let w = self.0.load(Relaxed);
        if w & COMPACT != 0 {
            let new =
                (w & !(FIELD_MASK << EXPIRE_BITS)) | (field as u64 & FIELD_MASK) << EXPIRE_BITS;
            if new != w {
                self.0.store(new, Relaxed);
            }
        }
    }

    /// Record an LRU access: `bits` is [`Clock::lru_bits`]. The hot path of every read,
    /// so it skips the decode: one load, and a store only when the second changed.
    #[inline]
    pub fn touch_lru(&self, bits: u64) {
        let w = self.0.load(Relaxed);
        if w & COMPACT != 0 && w & (FIELD_MASK << EXPIRE_BITS) != bits {
            self.0
                .store((w & !(FIELD_MASK << EXPIRE_BITS)) | bits, Relaxed);
        }
    }

    /// Change the expiry, keeping the access field (a key leaving a wide expiry gets
    /// `field`).
    pub fn set_expire_at(&mut self, at: u64, field: u32) {
        let keep = self.field().unwrap_or(field);
        *self.0.get_mut() = Self::pack(at, keep);
    }
}

impl Clone for Stamp {
    fn clone(&self) -> Stamp {
        Stamp(AtomicU64::new(self.0.load(Relaxed)))
    }
}

/// Redis's LFU_INIT_VAL: a new key's counter, so it is not evicted before it can be used.
pub const LFU_INIT: u32 = 5;
const LFU_MINUTES_MASK: u32 = (1 << (FIELD_BITS - 8)) - 1;

/// How access fields are written and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Lru,
    /// `lfu-log-factor` and `lfu-decay-time` (minutes per counter decrement; 0: never).
    Lfu {
        log_factor: u32,
        decay_minutes: u32,
    },
}

/// The current time as access fields see it, and the policy they follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    policy: Policy,
    /// Unix seconds.
    now_s: u64,
    /// Unix seconds modulo 2^19.
    secs: u32,
    /// Unix minutes modulo 2^11.
    mins: u32,
}

impl Default for Clock {
    fn default() -> Clock {
        Clock {
            policy: Policy::Lru,
            now_s: 0,
            secs: 0,
            mins: 0,
        }
    }
}

impl Clock {
    pub fn new(policy: Policy, now_ms: u64) -> Clock {
        let mut c = Clock {
            policy,
            ..Clock::default()
        };
        c.set_now(now_ms);
        c
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// The same time under another policy.
    pub fn with_policy(&self, policy: Policy) -> Clock {
        Clock { policy, ..*self }
    }

    pub fn is_lfu(&self) -> bool {
        matches!(self.policy, Policy::Lfu { .. })
    }

    /// Returns whether the clock changed (the second did). Never goes back: callers'
    /// notions of now differ by a few milliseconds (each batch fixes its own), and a
    /// field stamped one second or minute "ahead" of the clock would read as idle for
    /// 6 days or decayed by 34 hours, i.e. the key just used would be evicted first.
    pub fn set_now(&mut self, now_ms: u64) -> bool {
        let s = now_ms / 1000;
        if s <= self.now_s {
            return false;
        }
        self.now_s = s;
        self.secs = (s & FIELD_MASK) as u32;
        self.mins = (s / 60) as u32 & LFU_MINUTES_MASK;
        true
    }

    /// The current LRU field, placed where [`Stamp`] keeps it (for [`Stamp::touch_lru`]).
    #[inline]
    pub fn lru_bits(&self) -> u64 {
        (self.secs as u64) << EXPIRE_BITS
    }

    /// The field of a key created now.
    pub fn fresh(&self) -> u32 {
        match self.policy {
            Policy::Lru => self.secs,
            Policy::Lfu { .. } => self.mins << 8 | LFU_INIT,
        }
    }

    /// The field after an access; `rand` is uniform in 0..2^32 (the LFU counter grows
    /// with probability 1 / ((counter - 5) * log_factor + 1), as in Redis).
    pub fn touched(&self, old: u32, rand: u32) -> u32 {
        match self.policy {
            Policy::Lru => self.secs,
            Policy::Lfu { log_factor, .. } => {
                let mut c = self.freq(old);
                if c < 255 {
                    let base = c.saturating_sub(LFU_INIT) as u64;
                    let p = 1.0 / (base * log_factor as u64 + 1) as f64;
                    if (rand as f64) < p * (u32::MAX as f64 + 1.0) {
                        c += 1;
                    }
                }
                self.mins << 8 | c
            }
        }
    }

    /// Milliseconds since the access `field` records (LRU reading, 1 s resolution).
    pub fn idle_ms(&self, field: u32) -> u64 {
        let f = field & FIELD_MASK as u32;
        let secs = if self.secs >= f {
            self.secs - f
        } else {
            self.secs + (1 << FIELD_BITS) - f
        };
        secs as u64 * 1000
    }

    /// The counter `field` holds, decayed by the minutes since its last decrement (LFU
    /// reading; Redis's LFUDecrAndReturn).
    pub fn freq(&self, field: u32) -> u32 {
        let counter = field & 255;
        let Policy::Lfu { decay_minutes, .. } = self.policy else {
            return counter;
        };
        if decay_minutes == 0 {
            return counter;
        }
        let then = (field >> 8) & LFU_MINUTES_MASK;
        let elapsed = if self.mins >= then {
            self.mins - then
        } else {
            self.mins + LFU_MINUTES_MASK + 1 - then
        };
        counter.saturating_sub(elapsed / decay_minutes)
    }

    /// How strongly the policy wants the key evicted (larger first): idle milliseconds
    /// under LRU, 255 minus the counter under LFU. A key without a field scores 0.
    pub fn eviction_score(&self, field: Option<u32>) -> u64 {
        let Some(f) = field else { return 0 };
        match self.policy {
            Policy::Lru => self.idle_ms(f),
            Policy::Lfu { .. } => 255 - self.freq(f) as u64,
        }
    }

    /// The LRU field of a key idle `secs` seconds (RESTORE IDLETIME); idle times the
    /// field cannot hold read as its longest, 6.07 days.
    pub fn idle_field(&self, secs: u64) -> u32 {
        let back = secs.min(FIELD_MASK) as u32;
        (self.secs + (1 << FIELD_BITS) - back) & FIELD_MASK as u32
    }

    /// The LFU field of a key with counter `freq` (RESTORE FREQ).
    pub fn freq_field(&self, freq: u8) -> u32 {
        self.mins << 8 | freq as u32
    }

    /// What a snapshot keeps of `field` (None: the key records no access), read at this
    /// clock's time: idle seconds under LRU, the decayed counter under LFU, as Redis's
    /// RDB keeps them (its IDLE and FREQ opcodes).
    pub fn keep(&self, field: Option<u32>) -> Option<Kept> {
        let f = field?;
        Some(match self.policy {
            Policy::Lru => Kept::Idle((self.idle_ms(f) / 1000) as u32),
            Policy::Lfu { .. } => Kept::Freq(self.freq(f) as u8),
        })
    }

    /// The field for a loaded key that kept `kept`: what it says, read at this clock's
    /// time, when it was kept under the same kind of policy (idle times under LRU,
    /// counters under LFU); a fresh field otherwise, as for a new key (Redis's
    /// objectSetLRUOrLFU likewise ignores the other kind).
    pub fn restore(&self, kept: Option<Kept>) -> u32 {
        match (self.policy, kept) {
            (Policy::Lru, Some(Kept::Idle(secs))) => self.idle_field(u64::from(secs)),
            (Policy::Lfu { .. }, Some(Kept::Freq(c))) => self.freq_field(c),
            _ => self.fresh(),
        }
    }
}

/// An access field as a snapshot keeps it, independent of when it is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// Seconds since the last access (LRU policies).
    Idle(u32),
    /// The logarithmic access counter (LFU policies).
    Freq(u8),
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_780_000_000_000;

    #[test]
    fn expiry_and_field_share_the_word_until_2527() {
        let mut s = Stamp::new(NOW + 5, 77);
        assert_eq!((s.expire_at(), s.field()), (NOW + 5, Some(77)));
        s.set_field(FIELD_MASK as u32);
        assert_eq!(
            (s.expire_at(), s.field()),
            (NOW + 5, Some(FIELD_MASK as u32))
        );
        s.set_expire_at(0, 1);
        assert_eq!((s.expire_at(), s.field()), (0, Some(FIELD_MASK as u32)));
        // Past 2^44 ms the expiry takes the word and no access is recorded.
        let far = 1u64 << 50;
        s.set_expire_at(far, 3);
        assert_eq!((s.expire_at(), s.field()), (far, None));
        s.set_field(9);
        assert_eq!((s.expire_at(), s.field()), (far, None));
        s.set_expire_at(EXPIRE_MASK, 4);
        assert_eq!((s.expire_at(), s.field()), (EXPIRE_MASK, Some(4)));
        assert_eq!(Stamp::new(i64::MAX as u64, 0).expire_at(), i64::MAX as u64);
        assert_eq!(Stamp::new(u64::MAX, 0).expire_at(), i64::MAX as u64);
    }

    #[test]
    fn lru_idle_time_counts_whole_seconds_across_the_wrap() {
        let c = Clock::new(Policy::Lru, NOW);
        let f = c.fresh();
        let mut same = c;
        assert!(!same.set_now(NOW / 1000 * 1000 + 999), "same second");
        assert!(!same.set_now(NOW - 1000), "the clock never goes back");
        assert_eq!(same.idle_ms(f), 0);
        assert_eq!(c.idle_ms(f), 0);
        let later = Clock::new(Policy::Lru, NOW + 12_345);
        assert_eq!(later.idle_ms(f), 12_000);
        // The read path's shortcut writes the same field as the general one.
        let s = Stamp::new(NOW + 9, f);
        s.touch_lru(later.lru_bits());
        assert_eq!((s.field(), s.expire_at()), (Some(later.fresh()), NOW + 9));
        let wide = Stamp::new(1 << 50, 0);
        wide.touch_lru(later.lru_bits());
        assert_eq!((wide.field(), wide.expire_at()), (None, 1 << 50));
        assert_eq!(c.idle_ms(c.idle_field(100)), 100_000);
        // The field wraps every 2^19 s: the clock just past a wrap still measures.
        let wrap = ((NOW / 1000) | FIELD_MASK) + 1;
        let before = Clock::new(Policy::Lru, (wrap - 3) * 1000);
        let after = Clock::new(Policy::Lru, (wrap + 4) * 1000);
        assert_eq!(after.idle_ms(before.fresh()), 7000);
    }

    #[test]
    fn lfu_counter_grows_logarithmically_and_decays_per_period() {
        let lfu = Policy::Lfu {
            log_factor: 10,
            decay_minutes: 1,
        };
        let c = Clock::new(lfu, NOW);
        let mut f = c.fresh();
        assert_eq!(c.freq(f), LFU_INIT);
        // Below the initial value every access counts; above it, with probability
        // 1/((c-5)*10+1): rand 0 always increments, rand max never does past 5.
        assert_eq!(c.freq(c.touched(c.freq_field(2), u32::MAX)), 3);
        assert_eq!(c.freq(c.touched(f, u32::MAX)), 6);
        assert_eq!(c.freq(c.touched(c.freq_field(6), u32::MAX)), 6);
        for _ in 0..300 {
            f = c.touched(f, 0);
        }
        assert_eq!(c.freq(f), 255);
        // 30 minutes later the counter has lost 30, and a decay time of 0 keeps it.
        let later = Clock::new(lfu, NOW + 30 * 60_000);
        assert_eq!(later.freq(f), 225);
        assert_eq!(later.eviction_score(Some(f)), 30);
        let keep = Clock::new(
            Policy::Lfu {
                log_factor: 10,
                decay_minutes: 0,
            },
            NOW + 30 * 60_000,
        );
        assert_eq!(keep.freq(f), 255);
        assert_eq!(later.eviction_score(None), 0);
    }
}
