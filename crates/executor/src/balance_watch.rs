//! What a speculative transaction's code learnt of account balances: the accounts whose balance it
//! observed, and the sufficiency checks of the value transfers it made. The optimistic mode uses it to keep
//! a speculative result whose only stale read is an account's balance that the transaction only moved
//! (Block-STM's lazy balance updates, for any account rather than the beneficiary and plain transfers'
//! recipients alone): a contract such as WETH, whose balance every deposit and withdrawal changes, would
//! otherwise make each transaction that touches it depend on every earlier one that did.
//!
//! A transaction's code sees a balance through `BALANCE`, `SELFBALANCE`, `SELFDESTRUCT` (which moves all of
//! it), and through the check of every value transfer (`CALL`, `CALLCODE`, `CREATE`, `CREATE2`: the caller
//! must hold the value). The speculative EVM runs those opcodes through [`install`]ed wrappers that note
//! them in a per-thread record, started before a transaction and taken after it ([`BalanceWatch::start`],
//! [`BalanceWatch::finish`]). Everything else that depends on a balance depends only on whether an account
//! is empty, which the optimistic committer checks itself, or concerns the transaction's sender, whose
//! balance must match exactly.

use std::cell::RefCell;

use balnode_primitives::{Address, U256};
use revm::{
    bytecode::opcode,
    handler::instructions::EthInstructions,
    interpreter::{
        Instruction, InstructionContext, InstructionExecResult,
        instructions::{self, utility::IntoAddress},
        interpreter::EthInterpreter,
        interpreter_types::InputsTr,
    },
};

use crate::evm::BalnodeContext;

/// A value transfer's check, as the speculative execution made it: the caller's balance then, and the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TransferCheck {
    pub(crate) from: Address,
    pub(crate) balance: U256,
    pub(crate) value: U256,
}

/// What one transaction's code learnt of balances (see the module docs).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct BalanceWatch {
    /// Accounts whose balance the code read (`BALANCE`, `SELFBALANCE`) or moved whole (`SELFDESTRUCT`).
    pub(crate) observed: Vec<Address>,
    /// The value transfers' checks, in execution order.
    pub(crate) transfers: Vec<TransferCheck>,
}

thread_local! {
    /// The record of the transaction executing on this thread, while one is watched.
    static WATCH: RefCell<Option<BalanceWatch>> = const { RefCell::new(None) };
}

impl BalanceWatch {
    /// Starts recording on this thread (dropping what an unfinished record held).
    pub(crate) fn start() {
        WATCH.with_borrow_mut(|watch| *watch = Some(Self::default()));
    }

    /// Stops recording on this thread and returns the record (empty if none was started).
    pub(crate) fn finish() -> Self {
        WATCH.with_borrow_mut(Option::take).unwrap_or_default()
    }

    fn note(record: impl FnOnce(&mut Self)) {
        WATCH.with_borrow_mut(|watch| {
            if let Some(watch) = watch {
                record(watch);
            }
        });
    }

    /// Whether the transaction's outcome is the same with `address`'s balance moved by `now - read`
    /// throughout: its code never observed that balance, and each transfer from it passes or fails its
    /// check alike.
    pub(crate) fn allows_shift(&self, address: Address, read: U256, now: U256) -> bool {
        if self.observed.contains(&address) {
            return false;
        }
        self.transfers.iter().filter(|check| check.from == address).all(|check| {
            // The balance at the check after the shift; below zero cannot happen on the state the transfers
            // would really see, and counts as failing.
            let shifted = if now >= read {
                check.balance.checked_add(now - read)
            } else {
                check.balance.checked_sub(read - now)
            };
            let passes_now = shifted.is_some_and(|balance| balance >= check.value);
            passes_now == (check.balance >= check.value)
        })
    }
}

/// The context the wrappers run in.
type Ctx<'a, DB> = InstructionContext<'a, BalnodeContext<DB>, EthInterpreter>;

/// `BALANCE`, noting the account read.
fn balance<DB: alloy_evm::Database>(context: Ctx<'_, DB>) -> InstructionExecResult {
    if let Ok(address) = context.interpreter.stack.peek(0) {
        let address = address.into_address();
        BalanceWatch::note(|watch| watch.observed.push(address));
    }
    instructions::host::balance(context)
}

/// `SELFBALANCE` and `SELFDESTRUCT`, noting the executing account.
fn own_balance<const OPCODE: u8, DB: alloy_evm::Database>(
    context: Ctx<'_, DB>,
) -> InstructionExecResult {
    let address = context.interpreter.input.target_address();
    BalanceWatch::note(|watch| watch.observed.push(address));
    if OPCODE == opcode::SELFBALANCE {
        instructions::host::selfbalance(context)
    } else {
        instructions::host::selfdestruct(context)
    }
}

/// The check of a transfer of `value` (when not zero) from the executing account, with its balance now.
fn note_transfer<DB: alloy_evm::Database>(context: &Ctx<'_, DB>, value: Option<U256>) {
    let Some(value) = value.filter(|value| !value.is_zero()) else { return };
    let from = context.interpreter.input.target_address();
    // The executing account is loaded: its code runs.
    let balance = context
        .host
        .journaled_state
        .inner
        .state
        .get(&from)
        .map_or(U256::ZERO, |account| account.info.balance);
    BalanceWatch::note(|watch| watch.transfers.push(TransferCheck { from, balance, value }));
}

/// `CALL` and `CALLCODE` (value third on the stack), noting the transfer's check.
fn call<const KIND: u8, DB: alloy_evm::Database>(context: Ctx<'_, DB>) -> InstructionExecResult {
    note_transfer(&context, context.interpreter.stack.peek(2).ok());
    instructions::contract::call::<KIND, _, _>(context)
}

/// `CREATE` and `CREATE2` (value on top of the stack), noting the transfer's check.
fn create<const IS_CREATE2: bool, DB: alloy_evm::Database>(
    context: Ctx<'_, DB>,
) -> InstructionExecResult {
    note_transfer(&context, context.interpreter.stack.peek(0).ok());
    instructions::contract::create::<IS_CREATE2, _, _>(context)
}

/// Replaces the opcodes through which code learns of balances with wrappers that note them in this
/// thread's record (revm's own instructions otherwise; not for `bal@v5.7.0`'s table, which replaces some of
/// the same opcodes).
pub(crate) fn install<DB: alloy_evm::Database>(
    instructions: &mut EthInstructions<EthInterpreter, BalnodeContext<DB>>,
) {
    let table = instructions.instruction_table_mut();
    table[usize::from(opcode::BALANCE)] = Instruction::new(balance::<DB>);
    table[usize::from(opcode::SELFBALANCE)] =
        Instruction::new(own_balance::<{ opcode::SELFBALANCE }, DB>);
    table[usize::from(opcode::SELFDESTRUCT)] =
        Instruction::new(own_balance::<{ opcode::SELFDESTRUCT }, DB>);
    table[usize::from(opcode::CALL)] = Instruction::new(call::<{ opcode::CALL }, DB>);
    table[usize::from(opcode::CALLCODE)] = Instruction::new(call::<{ opcode::CALLCODE }, DB>);
    table[usize::from(opcode::CREATE)] = Instruction::new(create::<false, DB>);
    table[usize::from(opcode::CREATE2)] = Instruction::new(create::<true, DB>);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(from: Address, balance: u64, value: u64) -> TransferCheck {
        TransferCheck { from, balance: U256::from(balance), value: U256::from(value) }
    }

    #[test]
    fn a_shift_is_allowed_while_no_check_changes_its_outcome() {
        let (weth, other) = (Address::repeat_byte(1), Address::repeat_byte(2));
        let watch = BalanceWatch {
            observed: vec![other],
            transfers: vec![check(weth, 1_000, 10), check(other, 5, 10)],
        };
        let shift =
            |read: u64, now: u64| watch.allows_shift(weth, U256::from(read), U256::from(now));
        // More or less balance, the 10 still moves.
        assert!(shift(1_000, 5_000));
        assert!(shift(1_000, 10));
        // With less than 10 at the check, it would fail.
        assert!(!shift(1_000, 9));
        assert!(!shift(1_000, 0));
        // An observed balance is never shifted.
        assert!(!watch.allows_shift(other, U256::from(5), U256::from(6)));
        // A failed check stays failed only while the balance stays short.
        let failed = BalanceWatch { observed: vec![], transfers: vec![check(weth, 5, 10)] };
        assert!(failed.allows_shift(weth, U256::from(5), U256::from(9)));
        assert!(!failed.allows_shift(weth, U256::from(5), U256::from(10)));
    }
}
