//! [`StateProviderDatabase`]: revm's view of a storage-api state provider.

use balnode_primitives::{Address, B256, KECCAK256_EMPTY, U256};
use balnode_storage_api::{ProviderError, StateProvider};
use revm::{
    database_interface::{DBErrorMarker, DatabaseRef},
    state::{AccountInfo, Bytecode},
};

/// A storage failure met while executing, carried through revm.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct DatabaseError(#[from] pub ProviderError);

impl DBErrorMarker for DatabaseError {}

/// revm's [`DatabaseRef`] over a [`StateProvider`]: the one place where the executor meets storage.
///
/// It takes `&self`, so parallel workers can share one snapshot.
pub struct StateProviderDatabase<P>(pub P);

impl<P> std::fmt::Debug for StateProviderDatabase<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateProviderDatabase").finish_non_exhaustive()
    }
}

impl<P: StateProvider> DatabaseRef for StateProviderDatabase<P> {
    type Error = DatabaseError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        Ok(self.0.basic_account(address)?.map(|account| AccountInfo {
            balance: account.balance,
            nonce: account.nonce,
            code_hash: account.code_hash(),
            account_id: None,
            code: None,
        }))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        if code_hash == KECCAK256_EMPTY {
            return Ok(Bytecode::default());
        }
        let code = self.0.bytecode_by_hash(code_hash)?.ok_or_else(|| ProviderError::Corrupt {
            table: "Bytecodes",
            key: code_hash.to_string(),
            reason: "an account refers to code the store does not have".to_owned(),
        })?;
        Ok(Bytecode::new_raw(code))
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        Ok(self.0.storage(address, B256::from(index))?.unwrap_or_default())
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        // A block the view does not know (not yet, or never) hashes to zero, as BLOCKHASH specifies for
        // blocks out of range.
        Ok(self.0.block_hash(number)?.unwrap_or_default())
    }
}
