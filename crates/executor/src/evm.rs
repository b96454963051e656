//! The EVM the block executor drives: revm's mainnet EVM, run by our handler where a profile's Amsterdam
//! rules differ from revm's.
//!
//! `bal@v5.7.0`'s EIP-8037 charges the state gas of a creation transaction's new account and of each
//! EIP-7702 authorization (a new account plus a delegation indicator) as *intrinsic* state gas, and gives
//! back the new-account part of an authorization whose authority already exists to the state-gas
//! reservoir: the receipt's gas goes down, the block's state gas stays at the worst case. revm 43 (with
//! EIP-2780) charges these at run time instead; without EIP-2780 it charges no state gas for them at all.
//! [`IntrinsicStateGasHandler`] overrides the two handler steps concerned, through revm's `Handler` trait.
//!
//! The handler also settles a failed transaction frame the `bal@v5.7.0` way (all the state gas the frame
//! charged goes back to the reservoir, and so to the sender; revm refills the part drawn from regular gas to
//! regular gas, which an exceptional halt consumes), and gives back the state gas of accounts created and
//! destroyed in the transaction.
//!
//! `bal@v5.7.0` predates EIP-8246, which revm 43 implements: there a `SELFDESTRUCT` to itself of an account
//! created in the same transaction burns its balance with an EIP-7708 `Burn` log, and at the end of the
//! transaction every account marked for deletion burns what it holds then (ETH received after it
//! self-destructed, a priority fee), one log each in address order, before it is deleted. The profile
//! switches off revm's EIP-8246 clearing (so the accounts stay marked and the commit deletes them), the
//! wrapped `SELFDESTRUCT` burns at the instruction, and [`IntrinsicStateGasHandler`]'s `post_execution`
//! emits the end-of-transaction logs.
//!
//! Inside the frames, [`install_reservoir_refills`] replaces the state-gas-charging instructions in revm's
//! instruction table: refills go to the reservoir rather than LIFO into regular gas, `CREATE` charges the
//! new account's state gas upfront, before the new address is read, whatever the destination, and a
//! `CALL`'s new-account charge is never given back. Between the frames, the handler's `run_exec_loop` (revm's
//! loop) keeps the count of inline credits per frame ([`StateGasCredits`], carried in the context's chain
//! slot, [`BalnodeContext`]) and takes a failed frame's credits off what it returns.

use alloy_evm::{Database, Evm, EvmEnv, eth::EthEvmContext, precompiles::PrecompilesMap};

use crate::state_gas::{FrameCredits, StateGasCredits};
use balnode_primitives::{Address, Bytes};
use revm::{
    Context, ExecuteEvm, Journal, SystemCallEvm,
    bytecode::opcode,
    context::{
        BlockEnv, CfgEnv, ContextSetters, ContextTr, Evm as RevmEvm, JournalTr, Transaction, TxEnv,
        result::{EVMError, HaltReason, InvalidTransaction, ResultAndState, ResultGas},
    },
    context_interface::{
        Cfg,
        cfg::gas_params::{GasId, GasParams},
        journaled_state::account::JournaledAccountTr,
        transaction::TransactionType,
    },
    handler::{
        EthFrame, EvmTr, EvmTrError, FrameResult, Handler, ItemOrResult, MainnetHandler,
        instructions::EthInstructions, pre_execution,
    },
    inspector::NoOpInspector,
    interpreter::{
        GasTracker, InitialAndFloorGas, Instruction, InstructionContext, InstructionExecResult,
        InstructionResult, InterpreterAction, instructions, interpreter::EthInterpreter,
        interpreter_action::FrameInit, interpreter_action::FrameInput,
        interpreter_types::LoopControl,
    },
    primitives::{
        B256, Log, LogData, U256,
        eip7708::{BURN_LOG_TOPIC, ETH_TRANSFER_LOG_ADDRESS},
        hardfork::SpecId,
    },
    state::EvmState,
};

/// alloy-evm's Ethereum context, with `bal@v5.7.0`'s per-frame state-gas credits as its chain data (unused
/// under the latest profile).
pub(crate) type BalnodeContext<DB> =
    Context<BlockEnv, TxEnv, CfgEnv, DB, Journal<DB>, StateGasCredits>;

/// revm's mainnet EVM over that context.
type Inner<DB> = RevmEvm<
    BalnodeContext<DB>,
    NoOpInspector,
    EthInstructions<EthInterpreter, BalnodeContext<DB>>,
    PrecompilesMap,
    EthFrame,
>;

/// The EVM alloy-evm's factory builds.
pub(crate) type EthInner<DB> = RevmEvm<
    EthEvmContext<DB>,
    NoOpInspector,
    EthInstructions<EthInterpreter, EthEvmContext<DB>>,
    PrecompilesMap,
    EthFrame,
>;

/// The block executor's EVM: revm's, with [`IntrinsicStateGasHandler`] when the profile asks for it.
pub(crate) struct BalnodeEvm<DB: Database> {
    inner: Inner<DB>,
    /// Run transactions with [`IntrinsicStateGasHandler`] rather than revm's mainnet handler.
    intrinsic_state_gas: bool,
    /// With `Some`, transactions run with [`DeferredRewardHandler`]: the beneficiary is not paid, and the
    /// fee it would have had is kept here (the optimistic mode pays it when it commits).
    deferred_reward: Option<U256>,
}

impl<DB: Database> BalnodeEvm<DB> {
    /// The EVM alloy-evm's factory built (its gas table as the profile wants it), moved onto our context,
    /// with `bal@v5.7.0`'s handler and instructions when `bal_v5_7` is set.
    pub(crate) fn new(eth: EthInner<DB>, bal_v5_7: bool) -> Self {
        let RevmEvm { ctx, inspector, instruction, precompiles, .. } = eth;
        let mut instructions = EthInstructions::new(
            revm::interpreter::instruction_table(),
            *instruction.gas_table(),
            instruction.spec,
        );
        if bal_v5_7 {
            install_reservoir_refills(&mut instructions);
        }
        let ctx = ctx.with_chain(StateGasCredits::default());
        let inner = RevmEvm::new_with_inspector(ctx, inspector, instructions, precompiles);
        Self { inner, intrinsic_state_gas: bal_v5_7, deferred_reward: None }
    }

    /// From now on, do not pay the beneficiary its fees: keep each transaction's fee
    /// ([`Self::deferred_reward`]). Only under revm's own rules (not `bal@v5.7.0`'s handler).
    pub(crate) fn defer_rewards(&mut self) {
        debug_assert!(
            !self.intrinsic_state_gas,
            "rewards are deferred only under the latest rules"
        );
        self.deferred_reward = Some(U256::ZERO);
    }

    /// From now on, note in this thread's [`BalanceWatch`](crate::balance_watch::BalanceWatch) how
    /// transactions' code learns of balances (the optimistic mode's speculation). Only under revm's own
    /// rules, as [`Self::defer_rewards`].
    pub(crate) fn watch_balances(&mut self) {
        debug_assert!(
            !self.intrinsic_state_gas,
            "balances are watched only under the latest rules"
        );
        crate::balance_watch::install(&mut self.inner.instruction);
    }

    /// The fee the last transaction owed the beneficiary, when rewards are deferred.
    pub(crate) const fn deferred_reward(&self) -> Option<U256> {
        self.deferred_reward
    }

    /// The state-gas credits the last transaction's failed frames applied and `bal@v5.7.0` took back
    /// ([`StateGasCredits::discarded`]): paid by the sender, left out of the block's regular gas.
    pub(crate) fn discarded_state_gas(&self) -> u64 {
        self.inner.ctx.chain.discarded()
    }

    /// Whether transactions run under `bal@v5.7.0`'s Amsterdam rules ([`IntrinsicStateGasHandler`]).
    pub(crate) const fn runs_bal_v5_7(&self) -> bool {
        self.intrinsic_state_gas
    }

    /// The most regular and the most state gas `tx` can add to the block under `bal@v5.7.0`'s EIP-8037,
    /// which its inclusion check holds against what is left of each: the gas limit less the intrinsic
    /// state gas (capped at the transaction gas cap), and the gas limit less the intrinsic regular gas.
    /// (The later rule, alloy-evm's, counts the whole gas limit in both.)
    pub(crate) fn bal_v5_7_worst_case_gas(&self, tx: &TxEnv) -> (u64, u64) {
        let cfg = &self.inner.ctx.cfg;
        let params = &cfg.gas_params;
        let regular = params.initial_tx_gas_for_tx(tx, None).initial_regular_gas();
        let state =
            intrinsic_state_gas(params, tx.kind().is_create(), tx.authorization_list_len() as u64);
        let limit = tx.gas_limit();
        (limit.saturating_sub(state).min(cfg.tx_gas_limit_cap()), limit.saturating_sub(regular))
    }
}

impl<DB: Database> std::fmt::Debug for BalnodeEvm<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BalnodeEvm")
            .field("intrinsic_state_gas", &self.intrinsic_state_gas)
            .finish_non_exhaustive()
    }
}

impl<DB: Database> Evm for BalnodeEvm<DB> {
    type DB = DB;
    type Tx = TxEnv;
    type Error = EVMError<DB::Error>;
    type HaltReason = HaltReason;
    type Spec = SpecId;
    type BlockEnv = BlockEnv;
    type Precompiles = PrecompilesMap;
    type Inspector = NoOpInspector;

    fn block(&self) -> &BlockEnv {
        &self.inner.ctx.block
    }

    fn cfg_env(&self) -> &CfgEnv<SpecId> {
        &self.inner.ctx.cfg
    }

    fn chain_id(&self) -> u64 {
        self.inner.ctx.cfg.chain_id
    }

    fn transact_raw(&mut self, tx: TxEnv) -> Result<ResultAndState<HaltReason>, Self::Error> {
        if self.deferred_reward.is_some() {
            self.inner.ctx.set_tx(tx);
            let mut handler = DeferredRewardHandler::default();
            let result = handler.run(&mut self.inner);
            let state = self.inner.finalize();
            self.deferred_reward = Some(handler.fee.get());
            return result.map(|result| ResultAndState::new(result, state));
        }
        if !self.intrinsic_state_gas {
            return self.inner.transact(tx);
        }
        self.inner.ctx.set_tx(tx);
        let result = IntrinsicStateGasHandler::default().run(&mut self.inner);
        // As revm's own `transact`: the journal is finalised (cleared) whatever the outcome.
        let state = self.inner.finalize();
        result.map(|result| ResultAndState::new(result, state))
    }

    fn transact_system_call(
        &mut self,
        caller: Address,
        contract: Address,
        data: Bytes,
    ) -> Result<ResultAndState<HaltReason>, Self::Error> {
        self.inner.system_call_with_caller(caller, contract, data)
    }

    fn finish(self) -> (DB, EvmEnv<SpecId>) {
        let Context { block: block_env, cfg: cfg_env, journaled_state, .. } = self.inner.ctx;
        (journaled_state.database, EvmEnv { block_env, cfg_env })
    }

    fn set_inspector_enabled(&mut self, _enabled: bool) {
        // Block execution never inspects; the inspector is a no-op.
    }

    fn components(&self) -> (&DB, &NoOpInspector, &PrecompilesMap) {
        (&self.inner.ctx.journaled_state.database, &self.inner.inspector, &self.inner.precompiles)
    }

    fn components_mut(&mut self) -> (&mut DB, &mut NoOpInspector, &mut PrecompilesMap) {
        (
            &mut self.inner.ctx.journaled_state.database,
            &mut self.inner.inspector,
            &mut self.inner.precompiles,
        )
    }
}

/// Defines an instruction that runs revm's and then forgets how much of the state gas charged so far in the
/// frame came from regular gas, so that refills (a failed child, a storage restoration) and the frame's own
/// rollback put it back into the reservoir: `bal@v5.7.0`'s rule, where revm refills LIFO into regular gas.
macro_rules! refilling_the_reservoir {
    ($(#[$doc:meta])* $name:ident => $inner:path) => {
        $(#[$doc])*
        fn $name<DB: Database>(
            context: InstructionContext<'_, BalnodeContext<DB>, EthInterpreter>,
        ) -> InstructionExecResult {
            let InstructionContext { interpreter, host } = context;
            let result = $inner(InstructionContext { interpreter: &mut *interpreter, host: &mut *host });
            interpreter.gas.tracker_mut().set_state_gas_spilled(0);
            result
        }
    };
}

/// `SSTORE` the `bal@v5.7.0` way: a slot set from zero charges state gas (see [`refilling_the_reservoir!`]),
/// and one restored to zero credits it back, which the frame's count of credits records
/// ([`StateGasCredits`]).
fn sstore_counting_credits<DB: Database>(
    context: InstructionContext<'_, BalnodeContext<DB>, EthInterpreter>,
) -> InstructionExecResult {
    let InstructionContext { interpreter, host } = context;
    let charged = interpreter.gas.tracker().state_gas_spent();
    let result =
        instructions::host::sstore::<EthInterpreter, BalnodeContext<DB>>(InstructionContext {
            interpreter: &mut *interpreter,
            host: &mut *host,
        });
    let gas = interpreter.gas.tracker_mut();
    gas.set_state_gas_spilled(0);
    let credited = charged.saturating_sub(gas.state_gas_spent());
    if let Ok(credited @ 1..) = u64::try_from(credited) {
        host.chain.credit(credited, charged);
    }
    result
}
refilling_the_reservoir!(
    /// `CALL`: value to a new account (revm's, before [`call_keeping_new_account_charge`]).
    call_refilling => instructions::contract::call::<{ opcode::CALL }, EthInterpreter, BalnodeContext<DB>>
);

/// `CALL` with value to a new account the `bal@v5.7.0` way: the new account's state gas, charged before the
/// call, stays charged whatever happens to the call (the caller lacks the balance, the callee fails). revm
/// gives it back when the callee does not create the account; marking the call as not having charged it
/// turns that off.
fn call_keeping_new_account_charge<DB: Database>(
    context: InstructionContext<'_, BalnodeContext<DB>, EthInterpreter>,
) -> InstructionExecResult {
    let InstructionContext { interpreter, host } = context;
    let result = call_refilling::<DB>(InstructionContext { interpreter: &mut *interpreter, host });
    if let Some(InterpreterAction::NewFrame(FrameInput::Call(inputs))) =
        interpreter.bytecode.action()
    {
        inputs.charged_new_account_state_gas = false;
    }
    result
}

/// `CREATE`/`CREATE2` the `bal@v5.7.0` way: the new account's state gas is part of the upfront cost, so a frame
/// that cannot pay it runs out of gas before the new address is read (and so before it enters the block
/// access list). revm reads the address first; this checks the upfront cost, state gas included, before
/// handing over to revm's instruction.
fn create_charging_upfront<const IS_CREATE2: bool, DB: Database>(
    context: InstructionContext<'_, BalnodeContext<DB>, EthInterpreter>,
) -> InstructionExecResult {
    let state_gas = context.host.cfg.gas_params.create_state_gas();
    if let Some(upfront) = create_upfront_regular_gas::<IS_CREATE2, DB>(&context) {
        let gas = context.interpreter.gas.tracker_mut();
        let from_regular = state_gas.saturating_sub(gas.reservoir());
        if gas.remaining() >= upfront && gas.remaining() - upfront < from_regular {
            return Err(InstructionResult::OutOfGas);
        }
    }
    let InstructionContext { interpreter, host } = context;
    let inner = InstructionContext { interpreter: &mut *interpreter, host: &mut *host };
    let result = if IS_CREATE2 {
        instructions::contract::create::<true, EthInterpreter, BalnodeContext<DB>>(inner)
    } else {
        instructions::contract::create::<false, EthInterpreter, BalnodeContext<DB>>(inner)
    };
    // revm charges nothing for a destination that exists (an address collision, or an address holding only a
    // balance); `bal@v5.7.0` charges whatever the destination, before the gas is forwarded, and gives it back
    // when the creation fails. Take back the forwarded gas, charge, forward 63/64 of what is left.
    let gas = interpreter.gas.tracker_mut();
    if let Some(InterpreterAction::NewFrame(FrameInput::Create(inputs))) =
        interpreter.bytecode.action()
        && !inputs.charged_create_state_gas()
    {
        gas.erase_cost(inputs.gas_limit());
        if !gas.record_state_cost(state_gas) {
            *interpreter.bytecode.action() = None;
            return Err(InstructionResult::OutOfGas);
        }
        let forwarded = host.cfg.gas_params.call_stipend_reduction(gas.remaining());
        // 63/64 of what remains: always affordable.
        let _ = gas.record_regular_cost(forwarded);
        inputs.set_gas_limit(forwarded);
        inputs.set_reservoir(gas.reservoir());
        inputs.set_charged_create_state_gas(true);
    }
    gas.set_state_gas_spilled(0);
    result
}

/// The regular gas `CREATE`/`CREATE2` charges before it reads the new address: the base cost, the initcode
/// words (and their hashing for `CREATE2`) and the memory expansion. `None` when the stack or the sizes are
/// such that revm's instruction fails on its own.
fn create_upfront_regular_gas<const IS_CREATE2: bool, DB: Database>(
    context: &InstructionContext<'_, BalnodeContext<DB>, EthInterpreter>,
) -> Option<u64> {
    let stack = &context.interpreter.stack;
    let (offset, len) = (stack.peek(1).ok()?, stack.peek(2).ok()?);
    let len = usize::try_from(len).ok()?;
    let params = &context.host.cfg.gas_params;
    let mut gas = if IS_CREATE2 { params.create2_cost(len) } else { params.create_cost() };
    if len != 0 {
        let offset = usize::try_from(offset).ok()?;
        gas += params.initcode_cost(len);
        let words = offset.checked_add(len)?.div_ceil(32);
        let memory = context.interpreter.gas.memory();
        if words > memory.words_num {
            gas += params.memory_cost(words).saturating_sub(memory.expansion_cost);
        }
    }
    Some(gas)
}
/// `SELFDESTRUCT` the `bal@v5.7.0` way: revm's (state gas for a new beneficiary refilled to the reservoir, see
/// [`refilling_the_reservoir!`]), and then the burn that EIP-8246 later removed. An account created in this
/// transaction that self-destructs to itself loses its balance there and then, with an EIP-7708 burn log
/// (revm, following EIP-8246, keeps the balance). The burn is journaled like any balance change, so a
/// reverted frame gets the balance and the log back.
fn selfdestruct_burning<DB: Database>(
    context: InstructionContext<'_, BalnodeContext<DB>, EthInterpreter>,
) -> InstructionExecResult {
    let InstructionContext { interpreter, host } = context;
    let address = interpreter.input.target_address;
    let beneficiary =
        interpreter.stack.peek(0).ok().map(|word| Address::from_word(B256::from(word)));
    let result = instructions::host::selfdestruct::<EthInterpreter, BalnodeContext<DB>>(
        InstructionContext { interpreter: &mut *interpreter, host: &mut *host },
    );
    interpreter.gas.tracker_mut().set_state_gas_spilled(0);
    if result != Err(InstructionResult::SelfDestruct) || beneficiary != Some(address) {
        return result;
    }
    // Only an account created in this transaction is destroyed (EIP-6780); revm has marked it.
    let journal = &mut host.journaled_state;
    let destroyed = journal
        .evm_state()
        .get(&address)
        .filter(|account| account.is_selfdestructed_locally())
        .map(|account| account.info.balance);
    let Some(balance) = destroyed.filter(|balance| !balance.is_zero()) else {
        return result;
    };
    match journal.load_account_mut(address) {
        Ok(mut account) => account.data.set_balance(U256::ZERO),
        Err(error) => {
            host.error = Err(error.into());
            return Err(InstructionResult::FatalExternalError);
        }
    }
    journal.log(burn_log(address, balance));
    result
}

/// The EIP-7708 log of ETH burned at `address`, as `bal@v5.7.0` has it: `Burn(address,uint256)` from the
/// system address.
fn burn_log(address: Address, amount: U256) -> Log {
    let topics = vec![BURN_LOG_TOPIC, B256::left_padding_from(address.as_slice())];
    let data = Bytes::copy_from_slice(&amount.to_be_bytes::<32>());
    Log { address: ETH_TRANSFER_LOG_ADDRESS, data: LogData::new_unchecked(topics, data) }
}

/// The burn logs of a transaction's end under `bal@v5.7.0`: every account marked for deletion that still
/// holds a balance (it received ETH after it self-destructed, or it is the fee recipient) loses it, with a
/// burn log each, in address order, after the fees are paid. revm leaves the accounts marked (EIP-8246's
/// clearing is switched off for this profile, see `amsterdam::configure`), so the commit deletes them.
fn finalization_burn_logs<J: JournalTr<State = EvmState>>(journal: &mut J) {
    let mut burned: Vec<(Address, U256)> = journal
        .evm_state()
        .iter()
        .filter(|(_, account)| account.is_selfdestructed() && !account.info.balance.is_zero())
        .map(|(address, account)| (*address, account.info.balance))
        .collect();
    burned.sort_unstable_by_key(|(address, _)| *address);
    for (address, amount) in burned {
        journal.log(burn_log(address, amount));
    }
}

/// Installs the state-gas-charging instructions of `bal@v5.7.0` (see [`refilling_the_reservoir!`]).
pub(crate) fn install_reservoir_refills<DB: Database>(
    instructions: &mut EthInstructions<EthInterpreter, BalnodeContext<DB>>,
) {
    let table = instructions.instruction_table_mut();
    table[usize::from(opcode::SSTORE)] = Instruction::new(sstore_counting_credits::<DB>);
    table[usize::from(opcode::CALL)] = Instruction::new(call_keeping_new_account_charge::<DB>);
    table[usize::from(opcode::CREATE)] = Instruction::new(create_charging_upfront::<false, DB>);
    table[usize::from(opcode::CREATE2)] = Instruction::new(create_charging_upfront::<true, DB>);
    table[usize::from(opcode::SELFDESTRUCT)] = Instruction::new(selfdestruct_burning::<DB>);
}

/// revm's mainnet handler with `bal@v5.7.0`'s intrinsic state gas (see the module docs).
#[derive(Debug)]
pub(crate) struct IntrinsicStateGasHandler<EVM, ERROR> {
    mainnet: MainnetHandler<EVM, ERROR, EthFrame>,
}

impl<EVM, ERROR> Default for IntrinsicStateGasHandler<EVM, ERROR> {
    fn default() -> Self {
        Self { mainnet: MainnetHandler::default() }
    }
}

/// The intrinsic state gas of a transaction: a new account for a creation, a new account and a delegation
/// indicator for each authorization.
fn intrinsic_state_gas(params: &GasParams, is_create: bool, authorizations: u64) -> u64 {
    let new_account = params.new_account_state_gas();
    let creation = if is_create { new_account } else { 0 };
    creation + authorizations * (new_account + params.tx_eip7702_state_gas_bytecode())
}

impl<EVM, ERROR> Handler for IntrinsicStateGasHandler<EVM, ERROR>
where
    EVM: EvmTr<
            Context: ContextTr<Journal: JournalTr<State = EvmState>, Chain = StateGasCredits>,
            Frame = EthFrame,
        >,
    ERROR: EvmTrError<EVM>,
{
    type Evm = EVM;
    type Error = ERROR;
    type HaltReason = HaltReason;

    /// revm's loop over the frames, keeping `bal@v5.7.0`'s count of inline state-gas credits per frame
    /// ([`StateGasCredits`]): a frame that fails gives back to its parent's reservoir the state gas it
    /// charged and held less the credits it applied, which revm's rollback would hand back too.
    fn run_exec_loop(
        &mut self,
        evm: &mut EVM,
        first_frame_input: FrameInit,
    ) -> Result<FrameResult, ERROR> {
        evm.ctx_mut().chain_mut().clear();
        if let ItemOrResult::Result(result) = evm.frame_init(first_frame_input)? {
            return Ok(result);
        }
        evm.ctx_mut().chain_mut().enter();
        loop {
            let (mut result, ran) = match evm.frame_run()? {
                ItemOrResult::Item(init) => match evm.frame_init(init)? {
                    ItemOrResult::Item(_) => {
                        evm.ctx_mut().chain_mut().enter();
                        continue;
                    }
                    // The frame failed before it ran: it credited nothing.
                    ItemOrResult::Result(result) => (result, false),
                },
                ItemOrResult::Result(result) => (result, true),
            };
            let succeeded = result.instruction_result().is_ok();
            let child =
                if ran { evm.ctx_mut().chain_mut().leave() } else { FrameCredits::default() };
            // (The transaction's own frame keeps its credits: `bal@v5.7.0` takes them back at frame
            // boundaries only.)
            let has_parent = evm.ctx_ref().chain().running();
            if !succeeded && has_parent && child.applied > 0 {
                evm.ctx_mut().chain_mut().discard(child.applied);
                // revm's rollback returns `reservoir + net state gas charged`: take the credits off the latter.
                let gas = result.gas_mut().tracker_mut();
                gas.set_state_gas_spent(
                    gas.state_gas_spent().saturating_sub_unsigned(child.applied),
                );
            }
            // A failed CREATE's new account, which revm credits back to the parent once it has the result.
            let refund = result.refundable_state_gas(evm.ctx_ref().cfg().gas_params());
            if let Some(result) = evm.frame_return_result(result)? {
                return Ok(result);
            }
            let charged = evm.frame_stack().get().interpreter.gas.tracker().state_gas_spent();
            let credits = evm.ctx_mut().chain_mut();
            if succeeded {
                credits.merge(child, charged);
            }
            if let Some(refund) = refund {
                credits.credit_in_full(refund);
            }
        }
    }

    fn validate_initial_tx_gas(&self, evm: &mut EVM) -> Result<InitialAndFloorGas, ERROR> {
        let mut gas = self.mainnet.validate_initial_tx_gas(evm)?;
        let ctx = evm.ctx_ref();
        let tx = ctx.tx();
        let state_gas = intrinsic_state_gas(
            ctx.cfg().gas_params(),
            tx.kind().is_create(),
            tx.authorization_list_len() as u64,
        );
        gas.set_initial_state_gas(state_gas);
        if gas.initial_total_gas() > tx.gas_limit() {
            return Err(InvalidTransaction::CallGasCostMoreThanGasLimit {
                gas_limit: tx.gas_limit(),
                initial_gas: gas.initial_total_gas(),
            }
            .into());
        }
        Ok(gas)
    }

    fn apply_eip7702_auth_list(
        &self,
        evm: &mut EVM,
        gas: &mut GasTracker,
    ) -> Result<Option<u64>, ERROR> {
        let ctx = evm.ctx_mut();
        if ctx.tx().tx_type() != TransactionType::Eip7702 {
            return Ok(Some(0));
        }
        let chain_id = ctx.cfg().chain_id();
        let refund = ctx.cfg().gas_params().new_account_state_gas();
        let (tx, journal) = ctx.tx_journal_mut();
        let existing =
            pre_execution::apply_auth_list::<_, ERROR>(chain_id, tx.authorization_list(), journal)?;
        // An authority that exists needs no new account: its share goes back to the reservoir. The block keeps
        // it in both dimensions (the intrinsic charge is what it counts): `post_execution` takes the amount,
        // handed over as revm's "EIP-7702 refund", to put it back into the block's regular gas.
        let existing_share = existing * refund;
        gas.set_reservoir(gas.reservoir() + existing_share);
        Ok(Some(existing_share))
    }

    fn last_frame_result(
        &mut self,
        evm: &mut EVM,
        frame_result: &mut FrameResult,
        parent_gas: &mut GasTracker,
    ) -> Result<(), ERROR> {
        // When the transaction's frame fails, `bal@v5.7.0` gives all the state gas it charged back to the
        // reservoir, which the sender gets back; revm (the later rule) refills the part drawn from regular gas
        // to regular gas, which an exceptional halt then consumes. Forgetting the spill makes revm's rollback
        // put everything into the reservoir.
        if !frame_result.instruction_result().is_ok() {
            frame_result.gas_mut().tracker_mut().set_state_gas_spilled(0);
        }
        self.mainnet.last_frame_result(evm, frame_result, parent_gas)
    }

    fn post_execution(
        &self,
        evm: &mut EVM,
        exec_result: &mut FrameResult,
        init_and_floor_gas: InitialAndFloorGas,
        eip7702_gas_refund: i64,
    ) -> Result<ResultGas, ERROR> {
        // An account created and destroyed in this transaction leaves no state behind: `bal@v5.7.0` gives back
        // the state gas of its creation, its code and the slots it set (revm, following the later EIP text,
        // does not).
        let refill = destroyed_state_gas(
            evm.ctx_ref().cfg().gas_params(),
            evm.ctx_ref().journal_ref().evm_state(),
        );
        if refill > 0 {
            exec_result.gas_mut().tracker_mut().refill_reservoir(refill);
        }
        // Not a refund of revm's kind (capped, from the refund counter): the existing authorities' share is
        // already back in the reservoir (`apply_eip7702_auth_list`).
        let existing_authorities = u64::try_from(eip7702_gas_refund).unwrap_or(0);
        let gas = self.mainnet.post_execution(evm, exec_result, init_and_floor_gas, 0)?;
        // After the fees are paid (a fee recipient marked for deletion burns its fee too), before the logs
        // are taken.
        finalization_burn_logs(evm.ctx_mut().journal_mut());
        // `bal@v5.7.0` counts the existing authorities' share as spent in the block's regular gas (regular =
        // gas used before the share went back - intrinsic and execution state gas) while the sender gets it
        // back: revm's regular gas (spent - state) would drop by it. Count it as spent and as refunded, so the
        // block's regular gas keeps it and the receipt's gas (spent - refunded) does not.
        Ok(gas
            .with_total_gas_spent(gas.total_gas_spent() + existing_authorities)
            .with_refunded(gas.inner_refunded() + existing_authorities))
    }
}

/// The state gas charged for the accounts created and destroyed within the transaction: a new account each,
/// a byte of code deposit for each byte of their code, and a slot set for each slot they hold.
fn destroyed_state_gas(params: &GasParams, state: &EvmState) -> u64 {
    state
        .values()
        .filter(|account| account.is_created() && account.is_selfdestructed())
        .map(|account| {
            let code = account.info.code.as_ref().map_or(0, |code| code.original_bytes().len());
            let slots =
                account.storage.values().filter(|slot| !slot.present_value.is_zero()).count();
            params.new_account_state_gas()
                + params.code_deposit_state_gas(code)
                + slots as u64 * params.get(GasId::sstore_set_state_gas())
        })
        .sum()
}

/// revm's mainnet handler, except that the beneficiary is not paid: the fee is kept in [`Self::fee`]. A
/// transaction that does not itself touch the beneficiary then does not depend on the transactions before it
/// through the fees they paid (the optimistic mode adds the fee when it commits).
pub(crate) struct DeferredRewardHandler<EVM, ERROR> {
    fee: std::cell::Cell<U256>,
    _types: std::marker::PhantomData<(EVM, ERROR)>,
}

impl<EVM, ERROR> Default for DeferredRewardHandler<EVM, ERROR> {
    fn default() -> Self {
        Self { fee: std::cell::Cell::default(), _types: std::marker::PhantomData }
    }
}

impl<EVM, ERROR> Handler for DeferredRewardHandler<EVM, ERROR>
where
    EVM: EvmTr<Context: ContextTr<Journal: JournalTr<State = EvmState>>, Frame = EthFrame>,
    ERROR: EvmTrError<EVM>,
{
    type Evm = EVM;
    type Error = ERROR;
    type HaltReason = HaltReason;

    fn reward_beneficiary(
        &self,
        evm: &mut EVM,
        exec_result: &mut FrameResult,
    ) -> Result<(), ERROR> {
        // The amount revm's `reward_beneficiary` would credit.
        let ctx = evm.ctx_ref();
        if ctx.cfg().is_fee_charge_disabled() {
            return Ok(());
        }
        let basefee = u128::from(revm::context::Block::basefee(ctx.block()));
        let price = ctx.tx().effective_gas_price(basefee);
        let price = if ctx.cfg().spec().into().is_enabled_in(SpecId::LONDON) {
            price.saturating_sub(basefee)
        } else {
            price
        };
        let gas = exec_result.gas();
        let used = gas.used().saturating_sub(gas.reservoir());
        self.fee.set(U256::from(price * u128::from(used)));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_evm::{EvmFactory, eth::EthEvmFactory};
    use balnode_chainspec::AmsterdamProfile;
    use revm::{
        context::{TxEnv, result::ExecutionResult},
        database::{CacheDB, EmptyDB},
        primitives::{TxKind, eip7708::ETH_TRANSFER_LOG_TOPIC},
        state::AccountInfo,
    };

    const SENDER: Address = Address::repeat_byte(0x5e);
    const GAS_LIMIT: u64 = 60_000_000;

    /// The EVM for an Amsterdam block under `profile`, set up the way `execute_block` does, with a funded
    /// [`SENDER`].
    fn evm(profile: AmsterdamProfile) -> BalnodeEvm<CacheDB<EmptyDB>> {
        evm_with_code(profile, &[])
    }

    /// [`evm`] with contracts at some addresses.
    fn evm_with_code(
        profile: AmsterdamProfile,
        contracts: &[(Address, &[u8])],
    ) -> BalnodeEvm<CacheDB<EmptyDB>> {
        let mut db = CacheDB::new(EmptyDB::default());
        db.insert_account_info(
            SENDER,
            AccountInfo { balance: U256::from(10u64.pow(18)), ..Default::default() },
        );
        for (address, code) in contracts {
            let code = revm::bytecode::Bytecode::new_raw(Bytes::copy_from_slice(code));
            db.insert_account_info(*address, AccountInfo::from_bytecode(code));
        }
        let mut env: EvmEnv = EvmEnv::default();
        env.cfg_env.spec = SpecId::AMSTERDAM;
        env.block_env.gas_limit = GAS_LIMIT;
        crate::amsterdam::configure(&mut env.cfg_env, profile, GAS_LIMIT);
        let inner = EthEvmFactory::default().create_evm(db, env).into_inner();
        BalnodeEvm::new(inner, profile == AmsterdamProfile::BalDevnetV5_7)
    }

    fn creation(value: u64, initcode: &[u8], gas_limit: u64) -> TxEnv {
        TxEnv::builder()
            .caller(SENDER)
            .kind(TxKind::Create)
            .value(U256::from(value))
            .data(Bytes::copy_from_slice(initcode))
            .gas_limit(gas_limit)
            .build_fill()
    }

    /// Runs a creation transaction with `value` and `initcode` under `profile`'s Amsterdam.
    fn create(
        profile: AmsterdamProfile,
        value: u64,
        initcode: &[u8],
    ) -> ResultAndState<HaltReason> {
        evm(profile)
            .transact_raw(creation(value, initcode, 1_000_000))
            .expect("a valid transaction")
    }

    #[test]
    fn existing_authority_share_stays_in_the_block_regular_gas() {
        use balnode_primitives::eips::eip7702::{
            Authorization, RecoveredAuthority, RecoveredAuthorization,
        };
        // One authorization whose authority (the sender itself, so it exists) delegates to some code.
        let authorization =
            Authorization { chain_id: U256::ZERO, address: Address::repeat_byte(0xde), nonce: 1 };
        let tx = TxEnv::builder()
            .caller(SENDER)
            .kind(TxKind::Call(Address::repeat_byte(0xca)))
            .gas_limit(1_000_000)
            .authorization_list_recovered(vec![RecoveredAuthorization::new_unchecked(
                authorization,
                RecoveredAuthority::Valid(SENDER),
            )])
            .build_fill();
        let ResultAndState { result, .. } =
            evm(AmsterdamProfile::BalDevnetV5_7).transact_raw(tx).expect("a valid transaction");
        let gas = result.gas();
        // 21,000 + 7,500 regular; a new account (112 bytes) and a delegation (23) at 662 gas a byte, of which
        // the new account goes back to the sender, but not out of the block's accounting.
        assert_eq!(gas.block_regular_gas_used(), 21_000 + 7_500);
        assert_eq!(gas.block_state_gas_used(), (112 + 23) * 662);
        assert_eq!(gas.tx_gas_used(), 21_000 + 7_500 + 23 * 662);
    }

    #[test]
    fn a_failed_frame_gives_up_the_credits_it_applied() {
        use opcode::{CALL, GAS, POP, PUSH0, PUSH1, PUSH20, REVERT, SSTORE, STOP};
        const CHILD: Address = Address::repeat_byte(0xc1);
        const CALLER: Address = Address::repeat_byte(0xca);
        // The child sets slot 0 and restores it (a credit of the slot's state gas), then ends with `last`.
        let child = |last: &[u8]| {
            let mut code = vec![PUSH1, 1, PUSH0, SSTORE, PUSH0, PUSH0, SSTORE];
            code.extend_from_slice(last);
            code
        };
        let mut caller = vec![PUSH0, PUSH0, PUSH0, PUSH0, PUSH0, PUSH20];
        caller.extend_from_slice(CHILD.as_slice());
        caller.extend_from_slice(&[GAS, CALL, POP, STOP]);
        let run = |child: &[u8], to: Address| {
            let mut evm = evm_with_code(
                AmsterdamProfile::BalDevnetV5_7,
                &[(CHILD, child), (CALLER, caller.as_slice())],
            );
            let tx = TxEnv::builder()
                .caller(SENDER)
                .kind(TxKind::Call(to))
                .gas_limit(1 << 24)
                .build_fill();
            evm.transact_raw(tx).expect("a valid transaction");
            evm.discarded_state_gas()
        };
        // A child that reverts after the credit gives it up: 32 bytes at 662 gas (60 M gas limit).
        assert_eq!(run(&child(&[PUSH0, PUSH0, REVERT]), CALLER), 32 * 662);
        // One that succeeds keeps it, and so does the transaction's own frame when it reverts.
        assert_eq!(run(&child(&[STOP]), CALLER), 0);
        assert_eq!(run(&child(&[PUSH0, PUSH0, REVERT]), CHILD), 0);
    }

    #[test]
    fn bal_v5_7_inclusion_discounts_the_other_dimension() {
        assert!(!evm(AmsterdamProfile::Latest).runs_bal_v5_7());
        let old = evm(AmsterdamProfile::BalDevnetV5_7);
        assert!(old.runs_bal_v5_7());
        // A creation: 21,000 + 9,000 regular and 112 bytes at 662 gas (60 M gas limit) of intrinsic gas.
        let (regular, state) = old.bal_v5_7_worst_case_gas(&creation(0, &[], 200_000));
        assert_eq!((regular, state), (200_000 - 112 * 662, 200_000 - 30_000));
        // The regular part is capped at the transaction gas cap (EIP-7825), the state part is not.
        let (regular, state) = old.bal_v5_7_worst_case_gas(&creation(0, &[], 40_000_000));
        assert_eq!((regular, state), (1 << 24, 40_000_000 - 30_000));
    }

    fn topics(result: &ExecutionResult<HaltReason>) -> Vec<B256> {
        assert!(result.is_success(), "{result:?}");
        result.logs().iter().map(|log| log.topics()[0]).collect()
    }

    /// `ADDRESS SELFDESTRUCT`: the new account self-destructs to itself.
    const SELFDESTRUCT_TO_SELF: [u8; 2] = [opcode::ADDRESS, opcode::SELFDESTRUCT];

    #[test]
    fn bal_v5_7_burns_at_selfdestruct_to_self() {
        let ResultAndState { result, state } =
            create(AmsterdamProfile::BalDevnetV5_7, 1_000, &SELFDESTRUCT_TO_SELF);
        // The endowment's transfer log, then the burn at the instruction; nothing is left at the end.
        assert_eq!(topics(&result), [ETH_TRANSFER_LOG_TOPIC, BURN_LOG_TOPIC]);
        let created = SENDER.create(0);
        let burn = &result.logs()[1];
        assert_eq!(burn.address, ETH_TRANSFER_LOG_ADDRESS);
        assert_eq!(burn.topics()[1], B256::left_padding_from(created.as_slice()));
        assert_eq!(U256::from_be_slice(&burn.data.data), U256::from(1_000));
        let account = &state[&created];
        assert!(account.is_selfdestructed() && account.info.balance.is_zero());
    }

    #[test]
    fn watched_code_notes_the_balances_it_observes_and_its_transfers_checks() {
        use crate::balance_watch::{BalanceWatch, TransferCheck};
        let (other, to) = (Address::repeat_byte(0x0b), Address::repeat_byte(0x0a));
        // SELFBALANCE; BALANCE(other); CALL(gas, to, 7, 0, 0, 0, 0); CALL(gas, to, 0, ...).
        let mut initcode = vec![0x47, 0x50, 0x73];
        initcode.extend_from_slice(other.as_slice());
        initcode.extend([0x31, 0x50]);
        for value in [7, 0] {
            initcode.extend([0x60, 0, 0x60, 0, 0x60, 0, 0x60, 0, 0x60, value, 0x73]);
            initcode.extend_from_slice(to.as_slice());
            initcode.extend([0x5a, 0xf1, 0x50]);
        }
        let mut evm = evm(AmsterdamProfile::Latest);
        evm.watch_balances();
        BalanceWatch::start();
        let result = evm.transact_raw(creation(1_000, &initcode, 1_000_000)).expect("valid");
        let watch = BalanceWatch::finish();
        assert!(result.result.is_success(), "{:?}", result.result);
        let created = SENDER.create(0);
        assert_eq!(watch.observed, [created, other]);
        let check =
            TransferCheck { from: created, balance: U256::from(1_000), value: U256::from(7) };
        assert_eq!(watch.transfers, [check]);
        assert_eq!(result.state[&created].info.balance, U256::from(993));
        // Nothing is noted without a record started.
        let mut evm = evm_with_code(AmsterdamProfile::Latest, &[]);
        evm.watch_balances();
        evm.transact_raw(creation(1_000, &initcode, 1_000_000)).expect("valid");
        assert_eq!(BalanceWatch::finish(), BalanceWatch::default());
    }

    #[test]
    fn latest_keeps_the_balance() {
        // EIP-8246 as revm implements it: no burn, the account stays with its balance only.
        let ResultAndState { result, state } =
            create(AmsterdamProfile::Latest, 1_000, &SELFDESTRUCT_TO_SELF);
        assert_eq!(topics(&result), [ETH_TRANSFER_LOG_TOPIC]);
        let account = &state[&SENDER.create(0)];
        assert!(!account.is_selfdestructed());
        assert_eq!(account.info.balance, U256::from(1_000));
    }

    #[test]
    fn end_of_transaction_burns_follow_address_order() {
        // Accounts marked for deletion that still hold ETH burn it, one log each in address order; an empty
        // one and an unmarked one do not. (The fixtures' `finalization_burn_logs*` run this end to end.)
        let mut state = EvmState::default();
        let mut destroyed = revm::state::Account::default();
        destroyed.info.balance = U256::from(7);
        destroyed.mark_selfdestruct();
        let mut empty = revm::state::Account::default();
        empty.mark_selfdestruct();
        let mut kept = revm::state::Account::default();
        kept.info.balance = U256::from(9);
        let (low, high, other) =
            (Address::repeat_byte(1), Address::repeat_byte(2), Address::repeat_byte(3));
        state.insert(high, destroyed.clone());
        state.insert(low, destroyed);
        state.insert(other, kept);
        state.insert(Address::repeat_byte(4), empty);
        let mut journal: revm::Journal<EmptyDB> = revm::Journal::new(EmptyDB::default());
        journal.inner.state = state;
        finalization_burn_logs(&mut journal);
        let burned: Vec<_> = journal.logs().iter().map(|log| log.topics()[1]).collect();
        assert_eq!(
            burned,
            [B256::left_padding_from(low.as_slice()), B256::left_padding_from(high.as_slice())]
        );
    }
}
