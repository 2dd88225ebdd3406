//! Content hashes (sha256, hex): of inputs, factor files, SQL steps and
//! published files, as the manifest records them.

use sha2::{Digest, Sha256};

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
