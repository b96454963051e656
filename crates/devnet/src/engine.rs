//! The chain driver behind the Engine API: [`Chain`] as balnode-rpc's [`EngineHandle`].

use balnode_primitives::{B64, B256, Block, Bytes, TxEnvelope};
use balnode_rpc::engine::{
    BuildAttributes, BuiltPayload, EngineError, EngineHandle, ForkchoiceState, ForkchoiceUpdated,
    PayloadId, PayloadStatus as EnginePayloadStatus, PayloadStatusEnum,
};

use crate::{
    builder::{BlockAttributes, BuildError, Payload},
    chain::{Chain, ChainError, PayloadStatus},
};

impl From<PayloadStatus> for EnginePayloadStatus {
    fn from(status: PayloadStatus) -> Self {
        match status {
            PayloadStatus::Valid { latest_valid_hash } => {
                Self::new(PayloadStatusEnum::Valid, Some(latest_valid_hash))
            }
            PayloadStatus::Invalid { latest_valid_hash, error } => {
                Self::new(PayloadStatusEnum::Invalid { validation_error: error }, latest_valid_hash)
            }
            PayloadStatus::Syncing => Self::new(PayloadStatusEnum::Syncing, None),
            PayloadStatus::Accepted => Self::new(PayloadStatusEnum::Accepted, None),
        }
    }
}

impl From<BuildAttributes> for BlockAttributes {
    fn from(attributes: BuildAttributes) -> Self {
        Self {
            timestamp: attributes.timestamp,
            prev_randao: attributes.prev_randao,
            fee_recipient: attributes.suggested_fee_recipient,
            withdrawals: attributes.withdrawals,
            parent_beacon_block_root: attributes.parent_beacon_block_root,
            slot_number: attributes.slot_number,
            target_gas_limit: attributes.target_gas_limit,
            extra_data: None,
        }
    }
}

/// The Engine API's error for a driver's.
fn engine_error(error: ChainError) -> EngineError {
    match error {
        ChainError::InvalidForkchoiceState(_) => EngineError::InvalidForkchoiceState,
        ChainError::Build(error) if matches!(*error, BuildError::Attributes(_)) => {
            EngineError::InvalidPayloadAttributes(error.to_string())
        }
        error => EngineError::Internal(error.to_string()),
    }
}

impl EngineHandle for Chain {
    fn new_payload(
        &self,
        block: Block,
        block_access_list: Option<Bytes>,
    ) -> Result<EnginePayloadStatus, EngineError> {
        Self::new_payload(self, block, block_access_list).map(Into::into).map_err(engine_error)
    }

    fn forkchoice_updated(
        &self,
        state: ForkchoiceState,
        attributes: Option<BuildAttributes>,
    ) -> Result<ForkchoiceUpdated, EngineError> {
        let attributes = attributes.map(BlockAttributes::from);
        let outcome = Self::forkchoice_updated(
            self,
            state.head_block_hash,
            state.safe_block_hash,
            state.finalized_block_hash,
            attributes.as_ref(),
        )
        .map_err(engine_error)?;
        Ok(ForkchoiceUpdated {
            payload_status: outcome.status.into(),
            payload_id: outcome.payload_id.map(|id: B64| PayloadId(id)),
        })
    }

    fn get_payload(&self, id: PayloadId) -> Result<Option<BuiltPayload>, EngineError> {
        Ok(self.payload(id.0).map(|payload| built(&payload)))
    }

    fn build_block(
        &self,
        parent: B256,
        attributes: BuildAttributes,
        transactions: Option<Vec<TxEnvelope>>,
        extra_data: Option<Bytes>,
    ) -> Result<BuiltPayload, EngineError> {
        let attributes = BlockAttributes { extra_data, ..attributes.into() };
        match self.build_on(parent, &attributes, transactions) {
            Ok(payload) => Ok(built(&payload)),
            Err(error @ (ChainError::NotIncluded(_) | ChainError::NotCanonical(_))) => {
                Err(EngineError::InvalidParams(error.to_string()))
            }
            Err(error) => Err(engine_error(error)),
        }
    }
}

/// A built payload as the Engine API returns it.
fn built(payload: &Payload) -> BuiltPayload {
    BuiltPayload {
        block: payload.block.clone(),
        hash: payload.hash,
        block_access_list: payload.block_access_list.clone(),
        fees: payload.fees,
        requests: payload.requests.clone(),
        blob_sidecars: payload.sidecars.clone(),
    }
}
