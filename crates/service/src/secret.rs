//! Random secrets, their hashes, and password hashing (argon2id, off the async threads).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::{Result, StoreError};

/// 32 random bytes, hex-encoded.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// How session cookies and API tokens are kept in the database.
pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

pub async fn hash_password(password: &str) -> Result<String> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| StoreError::Other(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(|e| StoreError::Other(e.to_string()))?
}

/// A valid argon2id hash of a random password, so a login for an unknown account costs the
/// same time as one for a known account.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$8mM0xqd6Y1cmG3w1nKr2G8mVgnMZ2pdlSGEj4J8mLZQ";

pub async fn verify_password(password: &str, hash: Option<&str>) -> bool {
    let password = password.to_string();
    let known = hash.is_some();
    let hash = hash.unwrap_or(DUMMY_HASH).to_string();
    let ok = tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false);
    ok && known
}
