//! Crash safety of `balnode import`: the process is killed with SIGKILL at random moments; after each kill
//! `balnode db check` passes and every block the import reported committed (`--log-commits`) is still there;
//! a last run resumes to the file's end, where the head and its state root are the file's last block's.
//!
//! `make test` kills the import of the rpc-compat chain (54 blocks) 3 times; the 20-kill run over the hive-sync
//! chain (3,000 blocks, from `$BALNODE_FIXTURES`) is ignored there and run by `make soak` and `make conformance`
//! (`BALNODE_CRASH_KILLS` and `BALNODE_CRASH_SEED` override the count and the seed).

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use balnode_import::file::BlockFileReader;
use balnode_primitives::B256;
use balnode_storage_api::{BlockHashReader, ChainInfoReader};
use balnode_storage_mdbx::DatabaseEnv;

use crate::balnode;

/// A chain directory: genesis.json and chain.rlp.
struct Chain {
    genesis: PathBuf,
    file: PathBuf,
}

impl Chain {
    fn at(dir: &Path) -> Self {
        Self { genesis: dir.join("genesis.json"), file: dir.join("chain.rlp") }
    }

    /// The number, hash and state root of the file's last block.
    fn last_block(&self) -> (u64, B256, B256) {
        let last = BlockFileReader::open(&self.file).unwrap().last().unwrap().unwrap();
        let header = &last.block.header;
        (header.number, header.hash_slow(), header.state_root)
    }
}

/// xorshift64: a different set of moments every run, reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound.max(1)
    }
}

/// The store's head number and hash.
fn head(datadir: &str) -> (u64, B256) {
    let store = DatabaseEnv::open(datadir).unwrap();
    let info = store.chain_info().unwrap();
    (info.head_number, info.head_hash)
}

/// What one killed run reported: each committed block's number and hash, in order.
fn run_and_kill(
    chain: &Chain,
    datadir: &str,
    commits_before_kill: u64,
    delay: Duration,
) -> Vec<(u64, B256)> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_balnode"))
        .args(["import", "--log-commits", "--chain"])
        .arg(&chain.genesis)
        .args(["--datadir", datadir])
        .arg(&chain.file)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (sender, receiver) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut committed = Vec::new();
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            // The kill may cut the last line short: a line that does not parse was not reported whole, and
            // counts as not reported.
            let parsed = line.strip_prefix("committed ").and_then(|rest| {
                let (number, hash) = rest.split_once(' ')?;
                Some((number.parse::<u64>().ok()?, hash.parse::<B256>().ok()?))
            });
            if let Some(entry) = parsed {
                committed.push(entry);
                let _ = sender.send(entry);
            }
        }
        committed
    });
    for _ in 0..commits_before_kill {
        if receiver.recv_timeout(Duration::from_secs(120)).is_err() {
            break; // the import ended (or stalled): the kill below finds it done or stops it
        }
    }
    std::thread::sleep(delay);
    // `Child::kill` sends SIGKILL on Unix: no destructor, no flush, no commit runs after it.
    let _ = child.kill();
    child.wait().unwrap();
    reader.join().unwrap()
}

/// Kills `balnode import` of `chain` `kills` times, checking the store after each kill, then imports to the end.
fn import_survives_kills(chain: &Chain, kills: u64) {
    let seed = std::env::var("BALNODE_CRASH_SEED").ok().map_or_else(
        || {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
            now.as_nanos() as u64
        },
        |seed| seed.parse().unwrap(),
    );
    eprintln!("crash test seed {seed} (BALNODE_CRASH_SEED={seed} reproduces the moments)");
    let mut rng = Rng(seed | 1);
    let dir = tempfile::tempdir().unwrap();
    let datadir = dir.path().join("node").display().to_string();
    let genesis = chain.genesis.to_str().unwrap();
    let (ok, _, stderr) = balnode(&["init", "--chain", genesis, "--datadir", &datadir]);
    assert!(ok, "{stderr}");
    let (last, last_hash, last_root) = chain.last_block();

    let mut mid_import = 0;
    for kill in 0..kills {
        let (before, _) = head(&datadir);
        // Spread the kills over what is left: after 0 to 2·(left / kills left) commits, then 0-25 ms into
        // the next block (a block takes milliseconds: a kill lands anywhere in execution, root or commit).
        let left = last - before;
        let commits = rng.below(2 * left / (kills - kill) + 1).min(left.saturating_sub(1));
        let delay = Duration::from_micros(rng.below(25_000));
        let committed = run_and_kill(chain, &datadir, commits, delay);

        let (ok, stdout, stderr) = balnode(&["db", "check", "--datadir", &datadir]);
        assert!(ok, "seed {seed}, kill {kill}: db check fails after the kill:\n{stdout}{stderr}");
        let (number, hash) = head(&datadir);
        if let Some(&(reported, reported_hash)) = committed.last() {
            assert!(
                number >= reported,
                "seed {seed}, kill {kill}: block {reported} was reported committed, the head is {number}"
            );
            let store = DatabaseEnv::open(&datadir).unwrap();
            assert_eq!(
                store.block_hash(reported).unwrap(),
                Some(reported_hash),
                "seed {seed}, kill {kill}: the committed block {reported} is not the reported one"
            );
        }
        assert!(
            number >= before,
            "seed {seed}, kill {kill}: the head went back from {before} to {number}"
        );
        mid_import += u64::from(number < last);
        eprintln!(
            "kill {kill}: after {} reported commits (+{delay:?}), head {before} -> {number} {hash}",
            committed.len()
        );
    }
    assert!(
        mid_import * 2 >= kills,
        "seed {seed}: only {mid_import} of {kills} kills hit a running import"
    );

    let (ok, stdout, stderr) = balnode(&[
        "import",
        "--chain",
        genesis,
        "--datadir",
        &datadir,
        chain.file.to_str().unwrap(),
    ]);
    assert!(ok, "seed {seed}: the resumed import fails: {stderr}");
    assert_eq!(stdout.trim(), format!("head {last} {last_hash}"), "seed {seed}");
    let (ok, stdout, stderr) = balnode(&["db", "check", "--datadir", &datadir]);
    assert!(ok, "seed {seed}: {stdout}{stderr}");
    assert!(stdout.contains(&format!("state root:           {last_root}")), "{stdout}");
}

#[test]
fn import_survives_three_kills_with_no_reported_block_lost() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../crates/import/testdata/chains/rpc-compat");
    import_survives_kills(&Chain::at(&dir), 3);
}

#[test]
#[ignore = "needs the unpacked fixture suites: `make soak` and `make conformance` run it"]
fn import_of_hive_sync_survives_twenty_kills() {
    let fixtures = std::env::var_os("BALNODE_FIXTURES")
        .expect("BALNODE_FIXTURES must name the unpacked fixtures (make soak sets it)");
    let kills = std::env::var("BALNODE_CRASH_KILLS").map_or(20, |kills| kills.parse().unwrap());
    import_survives_kills(&Chain::at(&Path::new(&fixtures).join("chains/hive-sync")), kills);
}
