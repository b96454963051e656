//! The chain specification: fork schedule, blob schedule and genesis of one chain.

use std::collections::BTreeMap;

use alloy_consensus::{EMPTY_OMMER_ROOT_HASH, EMPTY_ROOT_HASH, Header};
use alloy_eips::eip4895::Withdrawals;
use alloy_eips::{eip1559::INITIAL_BASE_FEE, eip7685::EMPTY_REQUESTS_HASH, eip7840::BlobParams};
use alloy_genesis::{ChainConfig, Genesis, GenesisAccount};
use alloy_primitives::{Address, B64, B256, Bytes, U256, keccak256};
use alloy_trie::root::{state_root_unhashed, storage_root_unhashed};
use balnode_primitives::{Account, Block, BlockBody, StateChanges, StorageChanges};
use revm_primitives::hardfork::SpecId;

use crate::{AmsterdamProfile, BLOB_FORKS, ChainSpecError, ForkCondition, Hardfork, HardforkExt};

/// The keccak-256 hash of the RLP of an empty block access list (`0xc0`), the BAL hash of a block that
/// touches nothing, and so of every Amsterdam genesis.
pub const EMPTY_BLOCK_ACCESS_LIST_HASH: B256 = EMPTY_OMMER_ROOT_HASH;

/// The header fields a fork requires beyond the original fifteen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeaderFields {
    /// `baseFeePerGas` (London, EIP-1559).
    pub base_fee: bool,
    /// `withdrawalsRoot` (Shanghai, EIP-4895).
    pub withdrawals_root: bool,
    /// `blobGasUsed` and `excessBlobGas` (Cancun, EIP-4844).
    pub blob_gas: bool,
    /// `parentBeaconBlockRoot` (Cancun, EIP-4788).
    pub parent_beacon_block_root: bool,
    /// `requestsHash` (Prague, EIP-7685).
    pub requests_hash: bool,
    /// `blockAccessListHash` (Amsterdam, EIP-7928).
    pub block_access_list_hash: bool,
    /// `slotNumber` (Amsterdam, EIP-7843).
    pub slot_number: bool,
}

/// A chain: its id, the blocks or times at which forks activate, blob parameters per fork, and its genesis.
#[derive(Debug, Clone)]
pub struct ChainSpec {
    chain_id: u64,
    /// Every scheduled fork with its condition, in fork order.
    forks: BTreeMap<Hardfork, ForkCondition>,
    /// Blob parameters of each blob fork that is scheduled, in fork order.
    blob_schedule: BTreeMap<Hardfork, BlobParams>,
    deposit_contract: Option<Address>,
    genesis: Genesis,
    /// The version of the Amsterdam rules the chain follows.
    amsterdam: AmsterdamProfile,
}

impl ChainSpec {
    /// Builds the spec of a geth-format genesis.
    ///
    /// Checks that the schedule is coherent: block forks in order, time forks in order, and a blob schedule entry
    /// (or a known default) for each scheduled blob fork.
    pub fn from_genesis(genesis: Genesis) -> Result<Self, ChainSpecError> {
        let forks = forks_of(&genesis.config)?;
        Self::from_schedule(genesis, forks)
    }

    /// Builds a spec from a genesis and a fork schedule decided elsewhere (the test suites name forks rather
    /// than give a genesis config); the blob schedule still comes from `genesis.config.blobSchedule`.
    pub(crate) fn from_schedule(
        genesis: Genesis,
        forks: BTreeMap<Hardfork, ForkCondition>,
    ) -> Result<Self, ChainSpecError> {
        let blob_schedule = blob_schedule_of(&genesis.config.blob_schedule, &forks)?;
        Ok(Self {
            chain_id: genesis.config.chain_id,
            deposit_contract: genesis.config.deposit_contract_address,
            forks,
            blob_schedule,
            genesis,
            amsterdam: AmsterdamProfile::default(),
        })
    }

    /// The same chain following another version of the Amsterdam rules.
    #[must_use]
    pub const fn with_amsterdam_profile(mut self, profile: AmsterdamProfile) -> Self {
        self.amsterdam = profile;
        self
    }

    /// The version of the Amsterdam rules the chain follows ([`AmsterdamProfile::Latest`] unless set).
    pub const fn amsterdam_profile(&self) -> AmsterdamProfile {
        self.amsterdam
    }

    /// The chain id (EIP-155).
    pub const fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The genesis this spec was built from.
    pub const fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    /// The deposit contract whose logs become EIP-6110 deposit requests.
    pub const fn deposit_contract(&self) -> Option<Address> {
        self.deposit_contract
    }

    /// The activation condition of `fork`.
    pub fn fork(&self, fork: Hardfork) -> ForkCondition {
        self.forks.get(&fork).copied().unwrap_or(ForkCondition::Never)
    }

    /// Every scheduled fork with its condition, in fork order.
    pub fn forks(&self) -> impl Iterator<Item = (Hardfork, ForkCondition)> + '_ {
        self.forks.iter().map(|(fork, condition)| (*fork, *condition))
    }

    /// Whether `fork` is active for a block with this number and timestamp.
    ///
    /// The merge is decided by [`ForkCondition::is_active_at`]; beyond that, any active timestamp fork
    /// implies it, since every timestamp fork comes after the merge.
    pub fn is_active_at(&self, fork: Hardfork, number: u64, timestamp: u64) -> bool {
        if fork == Hardfork::Paris && self.is_active_at(Hardfork::Shanghai, number, timestamp) {
            return true;
        }
        self.fork(fork).is_active_at(number, timestamp)
    }

    /// The latest fork active for a block with this number and timestamp.
    pub fn fork_at(&self, number: u64, timestamp: u64) -> Hardfork {
        self.forks
            .keys()
            .rev()
            .copied()
            .find(|fork| self.is_active_at(*fork, number, timestamp))
            .unwrap_or(Hardfork::Frontier)
    }

    /// The revm rules for a block with this number and timestamp.
    pub fn spec_id_at(&self, number: u64, timestamp: u64) -> SpecId {
        self.fork_at(number, timestamp).spec_id()
    }

    /// The optional header fields a block with this number and timestamp must carry (and no others).
    pub fn header_fields_at(&self, number: u64, timestamp: u64) -> HeaderFields {
        let active = |fork| self.is_active_at(fork, number, timestamp);
        let cancun = active(Hardfork::Cancun);
        let amsterdam = active(Hardfork::Amsterdam);
        HeaderFields {
            base_fee: active(Hardfork::London),
            withdrawals_root: active(Hardfork::Shanghai),
            blob_gas: cancun,
            parent_beacon_block_root: cancun,
            requests_hash: active(Hardfork::Prague),
            block_access_list_hash: amsterdam,
            slot_number: amsterdam,
        }
    }

    /// The blob parameters in force at `timestamp`, `None` before Cancun.
    pub fn blob_params_at(&self, timestamp: u64) -> Option<BlobParams> {
        self.blob_schedule
            .iter()
            .rev()
            .find(|(fork, _)| self.fork(**fork).is_active_at(u64::MAX, timestamp))
            .map(|(_, params)| *params)
    }

    /// The genesis block's header, with the state root of the genesis allocation and the fields of the forks
    /// active at genesis.
    pub fn genesis_header(&self) -> Header {
        let genesis = &self.genesis;
        let number = genesis.number.unwrap_or_default();
        let fields = self.header_fields_at(number, genesis.timestamp);
        Header {
            parent_hash: genesis.parent_hash.unwrap_or_default(),
            ommers_hash: EMPTY_OMMER_ROOT_HASH,
            beneficiary: genesis.coinbase,
            state_root: genesis_state_root(&genesis.alloc),
            transactions_root: EMPTY_ROOT_HASH,
            receipts_root: EMPTY_ROOT_HASH,
            logs_bloom: Default::default(),
            difficulty: genesis.difficulty,
            number,
            gas_limit: genesis.gas_limit,
            gas_used: 0,
            timestamp: genesis.timestamp,
            extra_data: genesis.extra_data.clone(),
            mix_hash: genesis.mix_hash,
            nonce: B64::from(genesis.nonce),
            base_fee_per_gas: fields
                .base_fee
                .then(|| genesis.base_fee_per_gas.map_or(INITIAL_BASE_FEE, |fee| fee as u64)),
            withdrawals_root: fields.withdrawals_root.then_some(EMPTY_ROOT_HASH),
            blob_gas_used: fields.blob_gas.then(|| genesis.blob_gas_used.unwrap_or_default()),
            excess_blob_gas: fields.blob_gas.then(|| genesis.excess_blob_gas.unwrap_or_default()),
            parent_beacon_block_root: fields.parent_beacon_block_root.then_some(B256::ZERO),
            requests_hash: fields.requests_hash.then_some(EMPTY_REQUESTS_HASH),
            block_access_list_hash: fields
                .block_access_list_hash
                .then_some(EMPTY_BLOCK_ACCESS_LIST_HASH),
            slot_number: fields.slot_number.then(|| genesis.slot_number.unwrap_or_default()),
        }
    }

    /// The hash of the genesis header.
    pub fn genesis_hash(&self) -> B256 {
        self.genesis_header().hash_slow()
    }

    /// The genesis block: its header and an empty body (with an empty withdrawals list from Shanghai on).
    pub fn genesis_block(&self) -> Block {
        let header = self.genesis_header();
        let body = BlockBody {
            transactions: Vec::new(),
            ommers: Vec::new(),
            withdrawals: header.withdrawals_root.map(|_| Withdrawals::default()),
        };
        Block { header, body }
    }

    /// The genesis allocation as state changes, ready for the store's writer.
    pub fn genesis_state(&self) -> StateChanges {
        let mut changes = StateChanges::default();
        for (address, account) in &self.genesis.alloc {
            if let Some(code) = genesis_code(account) {
                changes.bytecodes.insert(keccak256(code), code.clone());
            }
            changes.accounts.insert(*address, Some(genesis_account(account)));
            let slots: BTreeMap<B256, U256> = genesis_storage(account).collect();
            if !slots.is_empty() {
                changes.storage.insert(*address, StorageChanges { wiped: false, slots });
            }
        }
        changes
    }
}

/// The spec as alloy's fork oracle, which alloy-evm's block executor and system calls consult.
impl alloy_hardforks::EthereumHardforks for ChainSpec {
    fn ethereum_fork_activation(&self, fork: Hardfork) -> alloy_hardforks::ForkCondition {
        use alloy_hardforks::ForkCondition as Alloy;
        match self.fork(fork) {
            ForkCondition::Block(block) => Alloy::Block(block),
            ForkCondition::Timestamp(time) => Alloy::Timestamp(time),
            ForkCondition::TotalDifficulty { total_difficulty, fork_block } => {
                // alloy needs a block from which the merge counts as active by number. Unknown, it is never
                // active by number alone (the total difficulty decides); a chain that starts merged is merged
                // from block 0.
                let unknown = if total_difficulty.is_zero() { 0 } else { u64::MAX };
                Alloy::TTD {
                    activation_block_number: fork_block.unwrap_or(unknown),
                    fork_block,
                    total_difficulty,
                }
            }
            ForkCondition::Never => Alloy::Never,
        }
    }
}

/// The state root of a genesis allocation, computed with alloy-trie.
pub fn genesis_state_root(alloc: &BTreeMap<Address, GenesisAccount>) -> B256 {
    state_root_unhashed(alloc.iter().map(|(address, account)| {
        let storage_root = storage_root_unhashed(genesis_storage(account));
        (*address, genesis_account(account).to_trie_account(storage_root))
    }))
}

/// A genesis account as plain state holds it.
fn genesis_account(account: &GenesisAccount) -> Account {
    Account {
        nonce: account.nonce.unwrap_or_default(),
        balance: account.balance,
        bytecode_hash: genesis_code(account).map(keccak256),
    }
}

/// The non-zero storage of a genesis account as slot → value: a zero value is no slot at all.
fn genesis_storage(account: &GenesisAccount) -> impl Iterator<Item = (B256, U256)> + '_ {
    account
        .storage
        .iter()
        .flatten()
        .map(|(slot, value)| (*slot, U256::from_be_bytes(value.0)))
        .filter(|(_, value)| !value.is_zero())
}

/// Code of a genesis account, `None` when it has none.
fn genesis_code(account: &GenesisAccount) -> Option<&Bytes> {
    account.code.as_ref().filter(|code| !code.is_empty())
}

/// The fork schedule of a geth chain config.
fn forks_of(config: &ChainConfig) -> Result<BTreeMap<Hardfork, ForkCondition>, ChainSpecError> {
    let block = |value: Option<u64>| value.map_or(ForkCondition::Never, ForkCondition::Block);
    let time = |value: Option<u64>| value.map_or(ForkCondition::Never, ForkCondition::Timestamp);
    let dao = if config.dao_fork_support { config.dao_fork_block } else { None };
    // geth activates Spurious Dragon's rules with `eip158Block`; `eip155Block` is the same block on every
    // known chain, and the later of the two is the one at which both hold.
    let spurious = match (config.eip155_block, config.eip158_block) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let merge = config.terminal_total_difficulty.map_or(ForkCondition::Never, |ttd| {
        ForkCondition::TotalDifficulty {
            total_difficulty: ttd,
            fork_block: config.merge_netsplit_block,
        }
    });
    let schedule = [
        (Hardfork::Frontier, ForkCondition::Block(0)),
        (Hardfork::Homestead, block(config.homestead_block)),
        (Hardfork::Dao, block(dao)),
        (Hardfork::Tangerine, block(config.eip150_block)),
        (Hardfork::SpuriousDragon, block(spurious)),
        (Hardfork::Byzantium, block(config.byzantium_block)),
        (Hardfork::Constantinople, block(config.constantinople_block)),
        (Hardfork::Petersburg, block(config.petersburg_block)),
        (Hardfork::Istanbul, block(config.istanbul_block)),
        (Hardfork::MuirGlacier, block(config.muir_glacier_block)),
        (Hardfork::Berlin, block(config.berlin_block)),
        (Hardfork::London, block(config.london_block)),
        (Hardfork::ArrowGlacier, block(config.arrow_glacier_block)),
        (Hardfork::GrayGlacier, block(config.gray_glacier_block)),
        (Hardfork::Paris, merge),
        (Hardfork::Shanghai, time(config.shanghai_time)),
        (Hardfork::Cancun, time(config.cancun_time)),
        (Hardfork::Prague, time(config.prague_time)),
        (Hardfork::Osaka, time(config.osaka_time)),
        (Hardfork::Bpo1, time(config.bpo1_time)),
        (Hardfork::Bpo2, time(config.bpo2_time)),
        (Hardfork::Bpo3, time(config.bpo3_time)),
        (Hardfork::Bpo4, time(config.bpo4_time)),
        (Hardfork::Bpo5, time(config.bpo5_time)),
        (Hardfork::Amsterdam, time(config.amsterdam_time)),
    ];
    check_order(&schedule)?;
    if config.terminal_total_difficulty.is_none()
        && let Some((fork, _)) = schedule
            .iter()
            .find(|(fork, condition)| fork.is_timestamp_based() && condition.is_scheduled())
    {
        return Err(ChainSpecError::Schedule(format!(
            "`{}` is scheduled but `terminalTotalDifficulty` is not set: every timestamp fork comes after the merge",
            config_key(*fork)
        )));
    }
    Ok(schedule.into_iter().filter(|(_, condition)| condition.is_scheduled()).collect())
}

/// Checks that block forks and time forks each come in fork order (a later fork never activates earlier), and
/// that no fork is scheduled while one before it is not, as geth does. The DAO, bomb-only and
/// blob-parameter-only forks may be left out.
fn check_order(schedule: &[(Hardfork, ForkCondition)]) -> Result<(), ChainSpecError> {
    let optional = |fork: Hardfork| {
        matches!(
            fork,
            Hardfork::Dao
                | Hardfork::MuirGlacier
                | Hardfork::ArrowGlacier
                | Hardfork::GrayGlacier
                | Hardfork::Bpo1
                | Hardfork::Bpo2
                | Hardfork::Bpo3
                | Hardfork::Bpo4
                | Hardfork::Bpo5
        )
    };
    let mut last_unscheduled: Option<Hardfork> = None;
    for (fork, condition) in schedule.iter().filter(|(fork, _)| !optional(*fork)) {
        match (condition.is_scheduled(), last_unscheduled) {
            (false, None) => last_unscheduled = Some(*fork),
            (true, Some(missing)) => {
                return Err(ChainSpecError::Schedule(format!(
                    "`{}` is set but `{}` is not: {fork} needs {missing} before it",
                    config_key(*fork),
                    config_key(missing)
                )));
            }
            _ => {}
        }
    }
    let mut last_block: Option<(Hardfork, u64)> = None;
    let mut last_time: Option<(Hardfork, u64)> = None;
    for (fork, condition) in schedule {
        let (last, value) = match *condition {
            ForkCondition::Block(n) => (&mut last_block, n),
            ForkCondition::Timestamp(t) => (&mut last_time, t),
            _ => continue,
        };
        if let Some((previous, at)) = *last
            && value < at
        {
            return Err(ChainSpecError::Schedule(format!(
                "`{}` ({value}) is before `{}` ({at}), but {fork} comes after {previous}",
                config_key(*fork),
                config_key(previous)
            )));
        }
        *last = Some((*fork, value));
    }
    Ok(())
}

/// The genesis config key that schedules `fork`, for error messages.
fn config_key(fork: Hardfork) -> &'static str {
    match fork {
        Hardfork::Frontier => "frontier",
        Hardfork::Homestead => "homesteadBlock",
        Hardfork::Dao => "daoForkBlock",
        Hardfork::Tangerine => "eip150Block",
        Hardfork::SpuriousDragon => "eip158Block",
        Hardfork::Byzantium => "byzantiumBlock",
        Hardfork::Constantinople => "constantinopleBlock",
        Hardfork::Petersburg => "petersburgBlock",
        Hardfork::Istanbul => "istanbulBlock",
        Hardfork::MuirGlacier => "muirGlacierBlock",
        Hardfork::Berlin => "berlinBlock",
        Hardfork::London => "londonBlock",
        Hardfork::ArrowGlacier => "arrowGlacierBlock",
        Hardfork::GrayGlacier => "grayGlacierBlock",
        Hardfork::Paris => "terminalTotalDifficulty",
        Hardfork::Shanghai => "shanghaiTime",
        Hardfork::Cancun => "cancunTime",
        Hardfork::Prague => "pragueTime",
        Hardfork::Osaka => "osakaTime",
        Hardfork::Bpo1 => "bpo1Time",
        Hardfork::Bpo2 => "bpo2Time",
        Hardfork::Bpo3 => "bpo3Time",
        Hardfork::Bpo4 => "bpo4Time",
        Hardfork::Bpo5 => "bpo5Time",
        Hardfork::Amsterdam => "amsterdamTime",
        // A fork alloy knows and geth's config does not schedule yet.
        _ => "(no genesis key)",
    }
}

/// The blob parameters the EIPs fix for a fork, where they do: Cancun (EIP-4844), Prague (EIP-7691), Osaka
/// (EIP-7594/7918: Prague's counts, a per-transaction cap and a base cost), and mainnet's BPO1 and BPO2.
fn default_blob_params(fork: Hardfork) -> Option<BlobParams> {
    match fork {
        Hardfork::Cancun => Some(BlobParams::cancun()),
        Hardfork::Prague => Some(BlobParams::prague()),
        Hardfork::Osaka => Some(BlobParams::osaka()),
        Hardfork::Bpo1 => Some(BlobParams::bpo1()),
        Hardfork::Bpo2 => Some(BlobParams::bpo2()),
        _ => None,
    }
}

/// Osaka (EIP-7594, EIP-7918) caps blobs per transaction and adds a base cost; a schedule entry written for
/// Osaka or later in geth's three-field form inherits them.
fn with_fork_extras(fork: Hardfork, params: BlobParams) -> BlobParams {
    if fork >= Hardfork::Osaka {
        let osaka = BlobParams::osaka();
        params
            .with_max_blobs_per_tx(params.max_blobs_per_tx.min(osaka.max_blobs_per_tx))
            .with_blob_base_cost(osaka.blob_base_cost)
    } else {
        params
    }
}

/// The blob schedule of a chain, from its config's `blobSchedule` entries.
///
/// Keys are matched case-insensitively, so geth's `cancun`, hive's `osaka`/`amsterdam` and the test suites'
/// `Cancun`/`BPO1` all work. A scheduled blob fork without an entry takes the EIP's parameters where the EIPs fix
/// them, else the previous fork's (a blob-parameter-only fork with no entry changes nothing).
fn blob_schedule_of(
    entries_by_name: &BTreeMap<String, BlobParams>,
    forks: &BTreeMap<Hardfork, ForkCondition>,
) -> Result<BTreeMap<Hardfork, BlobParams>, ChainSpecError> {
    let mut entries = BTreeMap::new();
    for (key, params) in entries_by_name {
        let fork: Hardfork = key.parse().map_err(|_| ChainSpecError::Field {
            path: format!("config.blobSchedule.{key}"),
            message:
                "not the name of a fork with blobs (cancun, prague, osaka, bpo1..bpo5, amsterdam)"
                    .to_owned(),
        })?;
        if !BLOB_FORKS.contains(&fork) {
            return Err(ChainSpecError::Field {
                path: format!("config.blobSchedule.{key}"),
                message: format!("{fork} has no blobs"),
            });
        }
        if params.max_blob_count < params.target_blob_count || params.update_fraction == 0 {
            return Err(ChainSpecError::Field {
                path: format!("config.blobSchedule.{key}"),
                message: "needs max >= target and a non-zero baseFeeUpdateFraction".to_owned(),
            });
        }
        entries.insert(fork, with_fork_extras(fork, *params));
    }
    let mut schedule = BTreeMap::new();
    let mut previous: Option<BlobParams> = None;
    for fork in BLOB_FORKS {
        if !forks.contains_key(&fork) {
            continue;
        }
        let params = entries.get(&fork).copied().or_else(|| default_blob_params(fork)).or(previous);
        match params {
            Some(params) => {
                schedule.insert(fork, params);
                previous = Some(params);
            }
            None => {
                return Err(ChainSpecError::Field {
                    path: format!("config.blobSchedule.{}", fork.name().to_ascii_lowercase()),
                    message: format!("{fork} is scheduled but has no blob parameters"),
                });
            }
        }
    }
    Ok(schedule)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{mainnet, parse_genesis};

    /// A genesis document with every block fork at 0 and `extra` added to its config.
    fn merged(extra: &str) -> String {
        format!(
            r#"{{"config":{{"chainId":7,"homesteadBlock":0,"eip150Block":0,"eip155Block":0,"eip158Block":0,
            "byzantiumBlock":0,"constantinopleBlock":0,"petersburgBlock":0,"istanbulBlock":0,"berlinBlock":0,
            "londonBlock":0,"terminalTotalDifficulty":0{extra}}},"alloc":{{}}}}"#
        )
    }

    /// The fork active at each (number, timestamp), checked on both sides of each mainnet boundary.
    #[test]
    fn mainnet_fork_boundaries() {
        let spec = mainnet();
        let check = |number, timestamp, fork: Hardfork, spec_id| {
            assert_eq!(spec.fork_at(number, timestamp), fork, "block {number} at {timestamp}");
            assert_eq!(
                spec.spec_id_at(number, timestamp),
                spec_id,
                "block {number} at {timestamp}"
            );
        };
        check(0, 0, Hardfork::Frontier, SpecId::FRONTIER);
        check(1_149_999, 0, Hardfork::Frontier, SpecId::FRONTIER);
        check(1_150_000, 0, Hardfork::Homestead, SpecId::HOMESTEAD);
        check(1_920_000, 0, Hardfork::Dao, SpecId::HOMESTEAD);
        check(2_463_000, 0, Hardfork::Tangerine, SpecId::TANGERINE);
        check(2_675_000, 0, Hardfork::SpuriousDragon, SpecId::SPURIOUS_DRAGON);
        check(4_370_000, 0, Hardfork::Byzantium, SpecId::BYZANTIUM);
        check(7_280_000, 0, Hardfork::Petersburg, SpecId::PETERSBURG);
        check(9_069_000, 0, Hardfork::Istanbul, SpecId::ISTANBUL);
        check(9_200_000, 0, Hardfork::MuirGlacier, SpecId::ISTANBUL);
        check(12_244_000, 0, Hardfork::Berlin, SpecId::BERLIN);
        check(12_964_999, 0, Hardfork::Berlin, SpecId::BERLIN);
        check(12_965_000, 0, Hardfork::London, SpecId::LONDON);
        check(15_050_000, 0, Hardfork::GrayGlacier, SpecId::LONDON);
        check(15_537_393, 1_663_224_150, Hardfork::GrayGlacier, SpecId::LONDON);
        check(15_537_394, 1_663_224_162, Hardfork::Paris, SpecId::MERGE);
        check(17_034_869, 1_681_338_443, Hardfork::Paris, SpecId::MERGE);
        check(17_034_870, 1_681_338_455, Hardfork::Shanghai, SpecId::SHANGHAI);
        check(19_426_587, 1_710_338_135, Hardfork::Cancun, SpecId::CANCUN);
        check(22_431_084, 1_746_612_311, Hardfork::Prague, SpecId::PRAGUE);
        check(23_935_693, 1_764_798_550, Hardfork::Prague, SpecId::PRAGUE);
        check(23_935_694, 1_764_798_551, Hardfork::Osaka, SpecId::OSAKA);
        check(24_000_000, 1_765_290_071, Hardfork::Bpo1, SpecId::OSAKA);
        check(25_000_000, 1_767_747_671, Hardfork::Bpo2, SpecId::OSAKA);
        assert!(!spec.fork(Hardfork::Amsterdam).is_scheduled());
    }

    #[test]
    fn merge_by_total_difficulty_alone() {
        let json = merged("")
            .replace(r#""terminalTotalDifficulty":0"#, r#""terminalTotalDifficulty":1000"#);
        let genesis = parse_genesis(&json).unwrap();
        let spec = ChainSpec::from_genesis(genesis).unwrap();
        // Without the fork block, the number alone cannot say: the total difficulty does.
        assert_eq!(spec.fork_at(50, 0), Hardfork::London);
        let merge = spec.fork(Hardfork::Paris);
        assert!(!merge.is_active_at_total_difficulty(U256::from(999)));
        assert!(merge.is_active_at_total_difficulty(U256::from(1000)));
    }

    #[test]
    fn alloy_sees_the_same_schedule() {
        use alloy_hardforks::EthereumHardforks;
        let spec = mainnet();
        assert!(!spec.is_london_active_at_block(12_964_999));
        assert!(spec.is_london_active_at_block(12_965_000));
        assert!(!spec.is_paris_active_at_block(15_537_393));
        assert!(spec.is_paris_active_at_block(15_537_394));
        assert!(spec.is_osaka_active_at_timestamp(1_764_798_551));
        assert!(!spec.is_amsterdam_active_at_timestamp(u64::MAX));
        assert!(crate::dev().is_amsterdam_active_at_timestamp(0));
        for fork in Hardfork::VARIANTS {
            for (number, timestamp) in
                [(0, 0), (15_537_394, 1_681_338_455), (30_000_000, 1_800_000_000)]
            {
                assert_eq!(
                    spec.is_ethereum_fork_active_at_block(*fork, number)
                        || spec.is_ethereum_fork_active_at_timestamp(*fork, timestamp),
                    spec.is_active_at(*fork, number, timestamp),
                    "{fork} at block {number}, time {timestamp}"
                );
            }
        }
    }

    #[test]
    fn header_fields_follow_the_forks() {
        let spec = mainnet();
        assert_eq!(spec.header_fields_at(12_964_999, 0), HeaderFields::default());
        let london = spec.header_fields_at(12_965_000, 0);
        assert!(london.base_fee && !london.withdrawals_root);
        let shanghai = spec.header_fields_at(17_034_870, 1_681_338_455);
        assert!(shanghai.withdrawals_root && !shanghai.blob_gas);
        let cancun = spec.header_fields_at(19_426_587, 1_710_338_135);
        assert!(cancun.blob_gas && cancun.parent_beacon_block_root && !cancun.requests_hash);
        let prague = spec.header_fields_at(22_431_084, 1_746_612_311);
        assert!(prague.requests_hash && !prague.block_access_list_hash);
        let dev = crate::dev().header_fields_at(0, 0);
        assert!(dev.block_access_list_hash && dev.slot_number && dev.requests_hash);
    }

    #[test]
    fn mainnet_blob_schedule() {
        let spec = mainnet();
        assert_eq!(spec.blob_params_at(1_710_338_134), None);
        assert_eq!(spec.blob_params_at(1_710_338_135), Some(BlobParams::cancun()));
        assert_eq!(spec.blob_params_at(1_746_612_311), Some(BlobParams::prague()));
        assert_eq!(spec.blob_params_at(1_764_798_551), Some(BlobParams::osaka()));
        assert_eq!(spec.blob_params_at(1_765_290_071), Some(BlobParams::bpo1()));
        assert_eq!(spec.blob_params_at(u64::MAX), Some(BlobParams::bpo2()));
    }

    #[test]
    fn blob_schedule_keys_in_any_case_and_inheritance() {
        let json = merged(
            r#","shanghaiTime":0,"cancunTime":0,"pragueTime":0,"osakaTime":10,"bpo3Time":20,"amsterdamTime":30,
            "blobSchedule":{"Cancun":{"target":3,"max":6,"baseFeeUpdateFraction":3338477},
            "osaka":{"target":7,"max":11,"baseFeeUpdateFraction":5007716},
            "BPO3":{"target":20,"max":30,"baseFeeUpdateFraction":9000000}}"#,
        );
        let spec = ChainSpec::from_genesis(parse_genesis(&json).unwrap()).unwrap();
        assert_eq!(
            spec.blob_params_at(0),
            Some(BlobParams::prague()),
            "prague falls back to EIP-7691"
        );
        let osaka = spec.blob_params_at(10).unwrap();
        assert_eq!((osaka.target_blob_count, osaka.max_blob_count), (7, 11));
        assert_eq!(osaka.max_blobs_per_tx, BlobParams::osaka().max_blobs_per_tx);
        assert_eq!(osaka.blob_base_cost, BlobParams::osaka().blob_base_cost);
        assert_eq!(spec.blob_params_at(20).unwrap().max_blob_count, 30);
        // Amsterdam has no entry and no EIP default: it keeps BPO3's.
        assert_eq!(spec.blob_params_at(30).unwrap().max_blob_count, 30);
    }

    #[test]
    fn incoherent_schedules_are_refused() {
        let check = |json: &str, expected: &str| {
            let error =
                ChainSpec::from_genesis(parse_genesis(json).unwrap()).unwrap_err().to_string();
            assert!(error.contains(expected), "`{error}` should contain `{expected}`");
        };
        let check_merged = |extra: &str, expected: &str| {
            let json = merged(extra);
            let error =
                ChainSpec::from_genesis(parse_genesis(&json).unwrap()).unwrap_err().to_string();
            assert!(error.contains(expected), "`{error}` should contain `{expected}`");
        };
        check(
            &merged("")
                .replace(r#""berlinBlock":0"#, r#""berlinBlock":5"#)
                .replace(r#""londonBlock":0"#, r#""londonBlock":3"#),
            "`londonBlock` (3) is before `berlinBlock` (5)",
        );
        check_merged(
            r#","shanghaiTime":20,"cancunTime":10"#,
            "`cancunTime` (10) is before `shanghaiTime` (20)",
        );
        check(
            r#"{"config":{"chainId":7,"homesteadBlock":0,"shanghaiTime":0},"alloc":{}}"#,
            "`shanghaiTime` is set but `eip150Block` is not",
        );
        check_merged(
            r#","shanghaiTime":0,"cancunTime":0,
                "blobSchedule":{"london":{"target":3,"max":6,"baseFeeUpdateFraction":3338477}}"#,
            "field `config.blobSchedule.london`",
        );
        check_merged(
            r#","shanghaiTime":0,"cancunTime":0,"osakaTime":0"#,
            "`osakaTime` is set but `pragueTime` is not",
        );
    }

    #[test]
    fn genesis_state_skips_zero_storage_and_empty_code() {
        let json = r#"{"config":{"chainId":7},"alloc":{
            "0x0000000000000000000000000000000000000001":{"balance":"0x1","code":"0x",
                "storage":{"0x01":"0x00","0x02":"0x05"}},
            "0x0000000000000000000000000000000000000002":{"balance":"0x0","nonce":"0x1","code":"0x6000"}}}"#;
        let spec = ChainSpec::from_genesis(parse_genesis(json).unwrap()).unwrap();
        let state = spec.genesis_state();
        let one = Address::with_last_byte(1);
        let two = Address::with_last_byte(2);
        assert_eq!(state.accounts[&one].unwrap().bytecode_hash, None);
        assert_eq!(state.storage[&one].slots.len(), 1);
        assert_eq!(state.storage[&one].slots[&B256::with_last_byte(2)], U256::from(5));
        assert_eq!(state.accounts[&two].unwrap().nonce, 1);
        assert_eq!(state.bytecodes.len(), 1);
        assert!(!state.storage.contains_key(&two));
    }
}
