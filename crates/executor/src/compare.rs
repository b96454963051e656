//! Comparing the outputs of two execution modes (the differential checks).

use crate::BlockExecutionOutput;

/// The first difference between a sequential output and another mode's, if any: receipts, gas, requests,
/// block access list, then state changes.
pub fn first_output_difference(
    sequential: &BlockExecutionOutput,
    parallel: &BlockExecutionOutput,
) -> Option<String> {
    if let Some(index) = (0..sequential.receipts.len().max(parallel.receipts.len()))
        .find(|&index| sequential.receipts.get(index) != parallel.receipts.get(index))
    {
        return Some(format!(
            "receipt {index}: sequential {:?}, parallel {:?}",
            sequential.receipts.get(index),
            parallel.receipts.get(index)
        ));
    }
    if (sequential.gas_used, sequential.blob_gas_used)
        != (parallel.gas_used, parallel.blob_gas_used)
    {
        return Some(format!(
            "gas (used, blob): sequential {:?}, parallel {:?}",
            (sequential.gas_used, sequential.blob_gas_used),
            (parallel.gas_used, parallel.blob_gas_used)
        ));
    }
    if sequential.requests != parallel.requests {
        return Some("requests differ".to_owned());
    }
    if let (Some(want), Some(got)) = (&sequential.block_access_list, &parallel.block_access_list)
        && let Some(difference) = balnode_bal::first_difference(want, got)
    {
        return Some(format!("block access list: {difference}"));
    }
    let (want, got) = (&sequential.state, &parallel.state);
    if want.accounts != got.accounts {
        let address = want
            .accounts
            .iter()
            .find(|(address, account)| got.accounts.get(*address) != Some(*account))
            .or_else(|| {
                got.accounts.iter().find(|(address, _)| !want.accounts.contains_key(*address))
            })
            .map(|(address, _)| *address);
        return Some(format!("state: account {address:?}"));
    }
    if want.storage != got.storage {
        return Some("state: storage differs".to_owned());
    }
    if want.bytecodes != got.bytecodes {
        return Some("state: bytecodes differ".to_owned());
    }
    None
}
