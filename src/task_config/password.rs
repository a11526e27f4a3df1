//! DM's password ciphertext (`dm/pkg/encrypt`): base64 (standard) of
//! `iv (16 bytes) || '@' || AES-256-CFB(plaintext)`, keyed by the 32 bytes
//! of the master's `secret-key-path` file.
//!
//! PURE: the key arrives as text and the IV of an encryption is the
//! caller's (randomness is I/O). DM decrypts on input and stores the
//! plaintext; without a key every password is plaintext.

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::Aes256;
use base64::Engine;

const BLOCK: usize = 16;
const IV_SEPARATOR: u8 = b'@';

/// The AES-256 key of `secret-key-path`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey([u8; 32]);

impl std::fmt::Debug for SecretKey {
    /// Never prints the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

impl SecretKey {
    pub fn new(bytes: [u8; 32]) -> SecretKey {
        SecretKey(bytes)
    }

    /// The key file's content: 64 hex characters, surrounding whitespace
    /// trimmed. The error is the cause DM puts into 20067.
    pub fn from_hex(text: &str) -> Result<SecretKey, String> {
        let hex = text.trim();
        if hex.len() != 64 {
            return Err(format!(
                "the secret key must be 32 bytes (64 hex characters), got {} characters",
                hex.len()
            ));
        }
        let mut key = [0u8; 32];
        hex::decode_to_slice(hex, &mut key)
            .map_err(|_| format!("encoding/hex: invalid byte in {hex:?}"))?;
        Ok(SecretKey(key))
    }

    /// CFB-128 over `data` in place (the key stream is the same both ways;
    /// the feedback is always the ciphertext).
    fn cfb(&self, iv: &[u8; BLOCK], data: &mut [u8], decrypting: bool) {
        let cipher = Aes256::new(&self.0.into());
        let mut feedback = *iv;
        for chunk in data.chunks_mut(BLOCK) {
            let mut stream = feedback.into();
            cipher.encrypt_block(&mut stream);
            let mut next = [0u8; BLOCK];
            for (i, byte) in chunk.iter_mut().enumerate() {
                let input = *byte;
                *byte ^= stream[i];
                next[i] = if decrypting { input } else { *byte };
            }
            feedback = next;
        }
    }

    /// DM's `Encrypt` with the given IV, base64-encoded.
    pub fn encrypt(&self, iv: [u8; BLOCK], plaintext: &str) -> String {
        let mut body = plaintext.as_bytes().to_vec();
        self.cfb(&iv, &mut body, false);
        let mut out = Vec::with_capacity(BLOCK + 1 + body.len());
        out.extend_from_slice(&iv);
        out.push(IV_SEPARATOR);
        out.extend_from_slice(&body);
        base64::engine::general_purpose::STANDARD.encode(out)
    }

    /// DM's `Decrypt` of a base64 ciphertext; `None` when it is not one.
    pub fn decrypt(&self, ciphertext_b64: &str) -> Option<String> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(ciphertext_b64)
            .ok()?;
        if raw.len() < BLOCK + 1 || raw[BLOCK] != IV_SEPARATOR {
            return None;
        }
        let iv: [u8; BLOCK] = raw[..BLOCK].try_into().ok()?;
        let mut body = raw[BLOCK + 1..].to_vec();
        self.cfb(&iv, &mut body, true);
        // Go keeps arbitrary bytes in a string; invalid UTF-8 is replaced.
        Some(String::from_utf8_lossy(&body).into_owned())
    }
}

/// DM's `DecryptOrPlaintext`: the plaintext of a DM ciphertext, else the
/// text unchanged (always unchanged without a key).
pub fn decrypt_or_plaintext(key: Option<&SecretKey>, text: &str) -> String {
    key.and_then(|k| k.decrypt(text))
        .unwrap_or_else(|| text.to_string())
}
