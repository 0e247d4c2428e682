//! Standard Webhooks signatures (<https://www.standardwebhooks.com>): the
//! secret is `whsec_` and the key in base64; a message is signed as
//! `v1,<base64 of HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")>`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::path::Path;

/// A signing key.
#[derive(Clone)]
pub struct Secret(ring::hmac::Key);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl Secret {
    /// `whsec_<base64>` (the prefix may be left out), surrounding
    /// whitespace ignored.
    pub fn parse(text: &str) -> Result<Secret, String> {
        let t = text.trim();
        let b64 = t.strip_prefix("whsec_").unwrap_or(t);
        let key = STANDARD
            .decode(b64)
            .map_err(|e| format!("not a Standard Webhooks secret (whsec_ and base64): {e}"))?;
        if key.len() < 16 {
            return Err(format!(
                "the key is {} bytes; use at least 16 (24 to 64 recommended)",
                key.len()
            ));
        }
        Ok(Secret(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key)))
    }

    /// Reads and parses a secret file, naming it in errors.
    pub fn read(path: &Path) -> Result<Secret, String> {
        let text = crate::secret_file::read(path, "webhook secret_file")?;
        Secret::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// A new random secret in the `whsec_` form.
    pub fn generate() -> Result<String, String> {
        let mut key = [0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
            .map_err(|_| "no randomness available".to_string())?;
        Ok(format!("whsec_{}", STANDARD.encode(key)))
    }

    /// The `webhook-signature` header's value.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut ctx = ring::hmac::Context::with_key(&self.0);
        ctx.update(id.as_bytes());
        ctx.update(b".");
        ctx.update(timestamp.to_string().as_bytes());
        ctx.update(b".");
        ctx.update(body);
        format!("v1,{}", STANDARD.encode(ctx.sign().as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the specification's reference libraries.
    #[test]
    fn signs_like_the_reference_implementation() {
        let s = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = s.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn bad_secrets_are_named() {
        assert!(Secret::parse("whsec_!!!").unwrap_err().contains("base64"));
        assert!(Secret::parse("whsec_YWJj").unwrap_err().contains("3 bytes"));
        let g = Secret::generate().unwrap();
        assert!(g.starts_with("whsec_"));
        Secret::parse(&g).unwrap();
    }
}
