//! The state word: state, generation and half-open probe counters packed in one `u64`, so a
//! transition, a probe admission and a probe verdict are each one compare-and-swap.
//!
//! ```text
//! bits  0..2   state code: closed, open, half-open, or busy (a transition is being written)
//! bits  2..32  generation, 30 bits, wrapping; bumped by every transition
//! bits 32..64  payload: half-open -> admitted, recorded, failed, slow (one byte each)
//!                       busy      -> the code of the state being entered
//!                       otherwise -> zero
//! ```
//!
//! Every actor remembers the generation it saw and acts only through a compare-and-swap that
//! expects it, so an actor from an earlier generation finds the word changed and does nothing.
//! Thirty bits wrap after about a billion transitions; a stale actor would have to stay
//! suspended through exactly that many transitions (each open lasting at least a millisecond)
//! to be mistaken for a current one.

use super::State;

pub(super) const CLOSED: u64 = 0;
pub(super) const OPEN: u64 = 1;
pub(super) const HALF_OPEN: u64 = 2;
pub(super) const BUSY: u64 = 3;

const CODE_MASK: u64 = 0b11;
const GEN_SHIFT: u32 = 2;
const GEN_MASK: u64 = (1 << 30) - 1;
const PAYLOAD_SHIFT: u32 = 32;

/// The most half-open probes one generation can admit: each probe counter is one byte.
pub(super) const MAX_PROBES: u32 = u8::MAX as u32;

/// One value of the state word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Word(u64);

/// The half-open probe counters of one generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Probes {
    /// Probes admitted and not released: in flight plus recorded.
    pub(super) admitted: u8,
    /// Probes that recorded a success or a failure.
    pub(super) recorded: u8,
    /// Recorded probes that failed.
    pub(super) failed: u8,
    /// Recorded probes that were slow.
    pub(super) slow: u8,
}

impl Probes {
    fn to_payload(self) -> u32 {
        u32::from_le_bytes([self.admitted, self.recorded, self.failed, self.slow])
    }

    fn from_payload(payload: u32) -> Self {
        let [admitted, recorded, failed, slow] = payload.to_le_bytes();
        Self {
            admitted,
            recorded,
            failed,
            slow,
        }
    }

    /// Probes admitted and not yet recorded or released.
    pub(super) fn in_flight(self) -> u8 {
        self.admitted.saturating_sub(self.recorded)
    }
}

impl Word {
    pub(super) const INITIAL: Self = Self(CLOSED);

    fn new(code: u64, generation: u32, payload: u32) -> Self {
        Self(
            code | ((u64::from(generation) & GEN_MASK) << GEN_SHIFT)
                | (u64::from(payload) << PAYLOAD_SHIFT),
        )
    }

    pub(super) fn closed(generation: u32) -> Self {
        Self::new(CLOSED, generation, 0)
    }

    pub(super) fn open(generation: u32) -> Self {
        Self::new(OPEN, generation, 0)
    }

    pub(super) fn half_open(generation: u32, probes: Probes) -> Self {
        Self::new(HALF_OPEN, generation, probes.to_payload())
    }

    /// The word held while a transition into `target` writes its side data.
    pub(super) fn busy(generation: u32, target: State) -> Self {
        // State codes are below 4, so the conversion never fails.
        Self::new(
            BUSY,
            generation,
            u32::try_from(code_of(target)).unwrap_or(0),
        )
    }

    pub(super) const fn from_bits(bits: u64) -> Self {
        Self(bits)
    }

    pub(super) const fn bits(self) -> u64 {
        self.0
    }

    pub(super) const fn code(self) -> u64 {
        self.0 & CODE_MASK
    }

    pub(super) fn generation(self) -> u32 {
        // The mask keeps 30 bits, so the conversion never fails.
        u32::try_from((self.0 >> GEN_SHIFT) & GEN_MASK).unwrap_or(0)
    }

    /// The generation the next transition will carry.
    pub(super) fn next_generation(self) -> u32 {
        // Wrapping within 30 bits: `new` masks the value.
        self.generation().wrapping_add(1)
    }

    fn payload(self) -> u32 {
        // A `u64` shifted right by 32 always fits.
        u32::try_from(self.0 >> PAYLOAD_SHIFT).unwrap_or(0)
    }

    pub(super) fn probes(self) -> Probes {
        if self.code() == HALF_OPEN {
            Probes::from_payload(self.payload())
        } else {
            Probes::default()
        }
    }

    /// The state a caller sees: during a transition, the state being entered.
    pub(super) fn state(self) -> State {
        match self.code() {
            CLOSED => State::Closed,
            OPEN => State::Open,
            HALF_OPEN => State::HalfOpen,
            _ => state_of(u64::from(self.payload())),
        }
    }
}

pub(super) const fn code_of(state: State) -> u64 {
    match state {
        State::Closed => CLOSED,
        State::Open => OPEN,
        State::HalfOpen => HALF_OPEN,
    }
}

const fn state_of(code: u64) -> State {
    match code {
        CLOSED => State::Closed,
        OPEN => State::Open,
        _ => State::HalfOpen,
    }
}
