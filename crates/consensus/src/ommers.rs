//! Ommer (uncle) rules, which need the block's recent ancestors.

use std::{
    collections::{HashMap, HashSet},
    hash::BuildHasher,
};

use balnode_chainspec::ChainSpec;
use balnode_primitives::{B256, Block, Header};

use crate::{
    ConsensusError,
    body::has_no_ommers,
    constants::{MAX_OMMER_DEPTH, MAX_OMMERS},
    header::{is_proof_of_stake, validate_header_against_parent, validate_header_standalone},
};

/// Where the ommer rules read the chain a block is imported onto: headers by hash, and the ommers those blocks
/// included.
///
/// The import pipeline implements it over the store (and the blocks of the batch not yet written); tests use the
/// implementation for a map of blocks by hash. Only the block's last [`MAX_OMMER_DEPTH`]` + 1` ancestors are
/// asked for their ommers, and only those whose header says they have some.
#[auto_impl::auto_impl(&, Box, std::sync::Arc)]
pub trait AncestorHeaders {
    /// The header of the block with this hash, `None` when unknown.
    fn header_by_hash(&self, hash: B256) -> Option<Header>;

    /// The ommers the block with this hash included, `None` when the block is unknown.
    fn ommers_by_hash(&self, hash: B256) -> Option<Vec<Header>>;
}

impl<S: BuildHasher> AncestorHeaders for HashMap<B256, Block, S> {
    fn header_by_hash(&self, hash: B256) -> Option<Header> {
        self.get(&hash).map(|block| block.header.clone())
    }

    fn ommers_by_hash(&self, hash: B256) -> Option<Vec<Header>> {
        self.get(&hash).map(|block| block.body.ommers.clone())
    }
}

/// Checks a block's ommers against the chain it extends.
///
/// The rules of the execution specs (`validate_ommers`) and geth (`VerifyUncles`):
/// - no ommers after the merge, at most [`MAX_OMMERS`], none twice;
/// - an ommer is none of the block's last `MAX_OMMER_DEPTH + 1` ancestors, and none of the ommers they included;
/// - an ommer's parent is one of those ancestors, but not the block's own parent (that ommer would be a
///   sibling): so an ommer is at most [`MAX_OMMER_DEPTH`] generations older than the block;
/// - each ommer is a valid header on its own and against its parent
///   ([`validate_header_standalone`], [`validate_header_against_parent`]), its seal unchecked as for any header.
///
/// The ommers hash of the header is [`validate_body`](crate::validate_body)'s. Near genesis a block has fewer
/// ancestors, and the walk stops at the first one `ancestors` does not know.
pub fn validate_ommers(
    spec: &ChainSpec,
    header: &Header,
    ommers: &[Header],
    ancestors: &impl AncestorHeaders,
) -> Result<(), ConsensusError> {
    if ommers.is_empty() {
        return Ok(());
    }
    if is_proof_of_stake(spec, header) {
        return Err(ConsensusError::OmmersAfterMerge { ommers_hash: header.ommers_hash });
    }
    if ommers.len() > MAX_OMMERS {
        return Err(ConsensusError::TooManyOmmers { max: MAX_OMMERS, got: ommers.len() });
    }

    // The recent ancestors by hash, and every ommer they included.
    let mut recent: HashMap<B256, Header> = HashMap::new();
    let mut included: HashSet<B256> = HashSet::new();
    let mut hash = header.parent_hash;
    for _ in 0..=MAX_OMMER_DEPTH {
        let Some(ancestor) = ancestors.header_by_hash(hash) else { break };
        if !has_no_ommers(&ancestor) {
            let their_ommers = ancestors
                .ommers_by_hash(hash)
                .ok_or(ConsensusError::AncestorOmmersUnavailable { hash })?;
            included.extend(their_ommers.iter().map(Header::hash_slow));
        }
        let next = ancestor.parent_hash;
        let is_genesis = ancestor.number == 0;
        recent.insert(hash, ancestor);
        if is_genesis {
            break;
        }
        hash = next;
    }

    let mut seen = HashSet::new();
    for (index, ommer) in ommers.iter().enumerate() {
        let hash = ommer.hash_slow();
        if !seen.insert(hash) {
            return Err(ConsensusError::DuplicateOmmer { hash });
        }
        if recent.contains_key(&hash) {
            return Err(ConsensusError::OmmerIsAncestor { hash });
        }
        if included.contains(&hash) {
            return Err(ConsensusError::OmmerAlreadyIncluded { hash });
        }
        if ommer.parent_hash == header.parent_hash {
            return Err(ConsensusError::OmmerIsSibling { hash });
        }
        let Some(parent) = recent.get(&ommer.parent_hash) else {
            let parent = ommer.parent_hash;
            return Err(if ancestors.header_by_hash(parent).is_some() {
                ConsensusError::OmmerParentNotRecent { hash, parent }
            } else {
                ConsensusError::OmmerUnknownParent { hash, parent }
            });
        };
        validate_header_standalone(spec, ommer)
            .and_then(|()| validate_header_against_parent(spec, ommer, parent, ommer.parent_hash))
            .map_err(|source| ConsensusError::InvalidOmmer {
                index,
                hash,
                source: Box::new(source),
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use balnode_primitives::{BlockBody, U256, consensus::proofs::calculate_ommers_root};

    use super::*;
    use crate::test_utils::{child, genesis, spec};

    /// A proof-of-work chain of `length` blocks after genesis, a block every 12 seconds; block 6 includes one
    /// ommer, a side block on block 4. Returns the blocks by hash, the headers in order, and that ommer.
    fn chain(spec: &ChainSpec, length: u64) -> (HashMap<B256, Block>, Vec<Header>, Header) {
        let mut blocks = HashMap::new();
        let mut headers = vec![genesis(spec)];
        let mut included = None;
        for number in 1..=length {
            let parent = headers.last().unwrap();
            let mut header = child(spec, parent, 12 * number);
            let mut ommers = Vec::new();
            if number == 6 {
                let ommer = side_block(spec, &headers[4]);
                header.ommers_hash = calculate_ommers_root(std::slice::from_ref(&ommer));
                included = Some(ommer.clone());
                ommers.push(ommer);
            }
            headers.push(header.clone());
            let body = BlockBody { transactions: Vec::new(), ommers, withdrawals: None };
            blocks.insert(header.hash_slow(), Block { header, body });
        }
        let genesis = headers[0].clone();
        blocks.insert(genesis.hash_slow(), Block { header: genesis, body: BlockBody::default() });
        (blocks, headers, included.unwrap())
    }

    /// A valid block on `parent` that differs from the canonical child (one second later).
    fn side_block(spec: &ChainSpec, parent: &Header) -> Header {
        child(spec, parent, parent.timestamp + 13)
    }

    #[test]
    fn ommers_within_six_generations() {
        let spec = spec("London");
        let (blocks, headers, _) = chain(&spec, 8);
        // Block 9 on block 8: an ommer on block 7 is one generation back, one on block 2 six.
        let block = child(&spec, &headers[8], 12 * 9);
        let recent = side_block(&spec, &headers[7]);
        let oldest = side_block(&spec, &headers[2]);
        assert_eq!(validate_ommers(&spec, &block, &[recent.clone(), oldest], &blocks), Ok(()));
        // Seven generations back: the parent, block 1, is known but too old.
        let too_old = side_block(&spec, &headers[1]);
        assert_eq!(
            validate_ommers(&spec, &block, &[recent, too_old.clone()], &blocks),
            Err(ConsensusError::OmmerParentNotRecent {
                hash: too_old.hash_slow(),
                parent: too_old.parent_hash
            })
        );
        let orphan = Header { parent_hash: B256::repeat_byte(7), ..side_block(&spec, &headers[5]) };
        assert_eq!(
            validate_ommers(&spec, &block, std::slice::from_ref(&orphan), &blocks),
            Err(ConsensusError::OmmerUnknownParent {
                hash: orphan.hash_slow(),
                parent: B256::repeat_byte(7)
            })
        );
    }

    #[test]
    fn ommers_that_are_not_ommers() {
        let spec = spec("London");
        let (blocks, headers, included) = chain(&spec, 8);
        let block = child(&spec, &headers[8], 12 * 9);
        let ancestor = headers[5].clone();
        assert_eq!(
            validate_ommers(&spec, &block, std::slice::from_ref(&ancestor), &blocks),
            Err(ConsensusError::OmmerIsAncestor { hash: ancestor.hash_slow() })
        );
        let sibling = side_block(&spec, &headers[8]);
        assert_eq!(
            validate_ommers(&spec, &block, std::slice::from_ref(&sibling), &blocks),
            Err(ConsensusError::OmmerIsSibling { hash: sibling.hash_slow() })
        );
        let ommer = side_block(&spec, &headers[6]);
        assert_eq!(
            validate_ommers(&spec, &block, &[ommer.clone(), ommer.clone()], &blocks),
            Err(ConsensusError::DuplicateOmmer { hash: ommer.hash_slow() })
        );
        assert_eq!(
            validate_ommers(&spec, &block, std::slice::from_ref(&included), &blocks),
            Err(ConsensusError::OmmerAlreadyIncluded { hash: included.hash_slow() })
        );
        let three = [
            side_block(&spec, &headers[5]),
            side_block(&spec, &headers[6]),
            side_block(&spec, &headers[7]),
        ];
        assert_eq!(
            validate_ommers(&spec, &block, &three, &blocks),
            Err(ConsensusError::TooManyOmmers { max: 2, got: 3 })
        );
    }

    #[test]
    fn an_ommer_is_a_valid_header() {
        let spec = spec("London");
        let (blocks, headers, _) = chain(&spec, 8);
        let block = child(&spec, &headers[8], 12 * 9);
        let ommer = side_block(&spec, &headers[6]);
        let bad = Header { difficulty: ommer.difficulty + U256::from(1), ..ommer.clone() };
        assert_eq!(
            validate_ommers(&spec, &block, std::slice::from_ref(&bad), &blocks),
            Err(ConsensusError::InvalidOmmer {
                index: 0,
                hash: bad.hash_slow(),
                source: Box::new(ConsensusError::DifficultyMismatch {
                    expected: ommer.difficulty,
                    got: bad.difficulty
                }),
            })
        );
        let long_extra = Header { extra_data: vec![0; 33].into(), ..ommer };
        let error = validate_ommers(&spec, &block, &[long_extra], &blocks).unwrap_err();
        assert_eq!(error.exception_names(), &["BlockException.EXTRA_DATA_TOO_BIG"]);
    }

    #[test]
    fn no_ommers_after_the_merge() {
        let spec = spec("Paris");
        let parent = genesis(&spec);
        let block = child(&spec, &parent, 12);
        let blocks: HashMap<B256, Block> = HashMap::new();
        assert_eq!(validate_ommers(&spec, &block, &[], &blocks), Ok(()));
        let error = validate_ommers(&spec, &block, &[parent], &blocks).unwrap_err();
        assert!(matches!(error, ConsensusError::OmmersAfterMerge { .. }));
    }

    #[test]
    fn an_ancestor_without_its_ommers_is_an_error() {
        /// Knows the headers but no bodies.
        struct HeadersOnly(HashMap<B256, Block>);
        impl AncestorHeaders for HeadersOnly {
            fn header_by_hash(&self, hash: B256) -> Option<Header> {
                self.0.header_by_hash(hash)
            }
            fn ommers_by_hash(&self, _: B256) -> Option<Vec<Header>> {
                None
            }
        }
        let spec = spec("London");
        let (blocks, headers, _) = chain(&spec, 8);
        let block = child(&spec, &headers[8], 12 * 9);
        let ommer = side_block(&spec, &headers[7]);
        assert_eq!(
            validate_ommers(&spec, &block, &[ommer], &HeadersOnly(blocks)),
            Err(ConsensusError::AncestorOmmersUnavailable { hash: headers[6].hash_slow() })
        );
    }
}
