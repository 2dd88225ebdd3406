//! Content hashes (sha256, hex): of inputs, factor files, SQL steps and
//! published files, as the manifest records them.

use sha2::{Digest, Sha256};

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A content hash taken piece by piece (a file as it is written or read):
/// the byte count and the sha256 (hex) of everything given to `update`.
#[derive(Default)]
pub struct ContentHash {
    sha: Sha256,
    len: u64,
}

impl ContentHash {
    pub fn update(&mut self, bytes: &[u8]) {
        self.sha.update(bytes);
        self.len += bytes.len() as u64;
    }

    /// (size in bytes, sha256 hex)
    pub fn finish(self) -> (u64, String) {
        (self.len, hex::encode(self.sha.finalize()))
    }
}
