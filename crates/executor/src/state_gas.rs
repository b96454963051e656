//! `bal@v5.7.0`'s count of inline state-gas credits, frame by frame (EIP-8037 as of that release).
//!
//! Some state gas goes back to the reservoir as soon as the state it paid for is known not to grow: a slot
//! set from zero and restored to zero (`SSTORE` 0→x→0), a `CREATE` whose account is not created. Such a
//! credit *applies* in the frame that makes it up to the state gas that frame has charged net; the rest is
//! *pending* and applies in the parent when the frame succeeds. When a frame fails, `bal@v5.7.0` hands its
//! parent's reservoir all the state gas the frame charged and held **less the credits it applied** (its own
//! and those of the children that succeeded in it): a credit made inside a failed frame is taken back again.
//! revm keeps no such count: its rollback only undoes the credit, so the parent's reservoir comes out larger
//! by the applied credits. The executor's handler keeps this count in the EVM context (the context's chain
//! slot), the wrapped instructions record the credits, and a failed frame's result gives them back before
//! revm settles it (`evm.rs`).

/// The credits of every running frame, innermost last, and those taken back in the transaction.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct StateGasCredits {
    frames: Vec<FrameCredits>,
    discarded: u64,
}

/// The credits of one frame, its successful children's included.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameCredits {
    /// Credited to the reservoir in this frame (taken back when it fails).
    pub(crate) applied: u64,
    /// Credited beyond what the frame had charged: applies in the parent when the frame succeeds, is
    /// dropped when it fails.
    pending: u64,
}

impl StateGasCredits {
    /// Forgets every frame: a new transaction.
    pub(crate) fn clear(&mut self) {
        self.frames.clear();
        self.discarded = 0;
    }

    /// Whether a frame is running.
    pub(crate) fn running(&self) -> bool {
        !self.frames.is_empty()
    }

    /// Credits a failed frame applied, taken back from the reservoir its parent gets. The sender pays for
    /// them, but they are neither state growth nor regular work: `bal@v5.7.0` leaves them out of the
    /// block's gas.
    pub(crate) fn discard(&mut self, applied: u64) {
        self.discarded += applied;
    }

    /// The credits taken back in the transaction so far.
    pub(crate) const fn discarded(&self) -> u64 {
        self.discarded
    }

    /// A frame starts running.
    pub(crate) fn enter(&mut self) {
        self.frames.push(FrameCredits::default());
    }

    /// The running frame ended: its credits, for the parent to take back (failure) or merge (success).
    pub(crate) fn leave(&mut self) -> FrameCredits {
        self.frames.pop().unwrap_or_default()
    }

    /// The running frame credited `amount` of state gas to its reservoir, having charged `charged` net
    /// before it as revm counts (revm subtracts every credit in full, `bal@v5.7.0` only what applies).
    pub(crate) fn credit(&mut self, amount: u64, charged: i64) {
        if let Some(frame) = self.frames.last_mut() {
            frame.credit(amount, charged);
        }
    }

    /// A credit that applies in full in the running frame (the charge it gives back was made there: a
    /// failed `CREATE`'s new account).
    pub(crate) fn credit_in_full(&mut self, amount: u64) {
        if let Some(frame) = self.frames.last_mut() {
            frame.applied += amount;
        }
    }

    /// A child that succeeded hands its credits to the running frame, which has charged `charged` net
    /// (revm's count, the child's merged in).
    pub(crate) fn merge(&mut self, child: FrameCredits, charged: i64) {
        if let Some(frame) = self.frames.last_mut() {
            frame.applied += child.applied;
            // revm has taken the child's pending credits off the merged count too.
            frame.credit(child.pending, charged.saturating_add_unsigned(child.pending));
        }
    }
}

impl FrameCredits {
    fn credit(&mut self, amount: u64, charged: i64) {
        // revm has already taken the pending credits off the frame's count; `bal@v5.7.0` has not.
        let net = charged.saturating_add_unsigned(self.pending);
        let applied = amount.min(u64::try_from(net).unwrap_or(0));
        self.applied += applied;
        self.pending += amount - applied;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credits_apply_up_to_the_frame_charge_and_merge_upwards() {
        let mut credits = StateGasCredits::default();
        credits.enter();
        // The outer frame sets a slot from zero (charged 100, revm's count 100), then calls a frame sharing
        // its storage that restores it: nothing charged there, so the credit is pending.
        credits.enter();
        credits.credit(100, 0);
        let inner = credits.leave();
        assert_eq!(inner, FrameCredits { applied: 0, pending: 100 });
        // On success it applies in the outer frame, whose count after the merge is 100 - 100 = 0.
        credits.merge(inner, 0);
        assert_eq!(credits.leave(), FrameCredits { applied: 100, pending: 0 });

        // A restoration in the frame that charged applies at once; a failed CREATE's refund too.
        credits.enter();
        credits.credit(100, 100);
        credits.credit_in_full(50);
        assert_eq!(credits.leave().applied, 150);
        // Nothing running: nothing to record.
        credits.credit(1, 1);
        assert_eq!(credits.leave(), FrameCredits::default());
    }
}
