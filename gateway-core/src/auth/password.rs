//! Admin password hashing: Argon2id with a per-password random salt, stored as a PHC string.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// Bytes of salt the caller supplies (from `Platform::random_bytes`).
pub(crate) const SALT_LEN: usize = 16;

/// A hash checked against when the user does not exist, so a wrong username costs as much time as
/// a wrong password. Computed once; the result of that check is thrown away.
fn decoy() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash("decoy password", &[0x5a; SALT_LEN]).unwrap_or_default())
}

/// Hashes `password` with Argon2id (default parameters: 19 MiB, 2 passes).
pub(crate) fn hash(password: &str, salt: &[u8; SALT_LEN]) -> Result<String, String> {
    let salt = SaltString::encode_b64(salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches the stored PHC string; `None` checks against a decoy and fails.
pub(crate) fn verify(password: &str, stored: Option<&str>) -> bool {
    let matched = PasswordHash::new(match stored {
        Some(s) => s,
        None => decoy(),
    })
    .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    .unwrap_or(false);
    matched && stored.is_some()
}

/// Password hashing off the request path: at most [`LANES`] hashes at a time (each takes 19 MiB
/// and a core for tens of milliseconds, so a burst of logins queues here instead of taking every
/// core and all that memory), run where the platform runs blocking work.
#[derive(Debug, Default)]
pub(crate) struct Hasher {
    lanes: [futures::lock::Mutex<()>; LANES],
    next: std::sync::atomic::AtomicUsize,
}

/// Concurrent hashes: two logins at once both go at full speed, and a burst holds at most two
/// cores and 38 MiB (on a two-core host the async workers then share the cores with them, as
/// they would with any other process; they are never blocked by a hash).
const LANES: usize = 2;

impl Hasher {
    /// A free lane if there is one, else a turn in the next lane's queue.
    async fn lane(&self) -> futures::lock::MutexGuard<'_, ()> {
        if let Some(free) = self.lanes.iter().find_map(|l| l.try_lock()) {
            return free;
        }
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % LANES;
        self.lanes[i].lock().await
    }

    async fn run<T: Send + 'static>(
        &self,
        platform: &dyn crate::io::Platform,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let _turn = self.lane().await;
        let (tx, rx) = futures::channel::oneshot::channel();
        platform
            .blocking(Box::new(move || {
                let _ = tx.send(work());
            }))
            .await;
        rx.await.ok()
    }

    /// [`verify`], off the request path.
    pub(crate) async fn verify(
        &self,
        platform: &dyn crate::io::Platform,
        password: &str,
        stored: Option<&str>,
    ) -> bool {
        let (password, stored) = (password.to_owned(), stored.map(str::to_owned));
        self.run(platform, move || verify(&password, stored.as_deref())).await.unwrap_or(false)
    }

    /// [`hash`], off the request path.
    pub(crate) async fn hash(
        &self,
        platform: &dyn crate::io::Platform,
        password: &str,
        salt: [u8; SALT_LEN],
    ) -> Result<String, String> {
        let password = password.to_owned();
        let hashed = self.run(platform, move || hash(&password, &salt)).await;
        hashed.unwrap_or_else(|| Err("the password hash did not finish".into()))
    }
}

/// Rules for a new password; returns the reason when it is too weak.
pub(crate) fn check_strength(password: &str) -> Result<(), &'static str> {
    if password.chars().count() < 8 {
        return Err("password must be at least 8 characters");
    }
    if password.len() > 256 {
        return Err("password must be at most 256 bytes");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verifies_only_the_same_password() {
        let stored = hash("correct horse", &[7; SALT_LEN]).unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify("correct horse", Some(&stored)));
        assert!(!verify("correct horsE", Some(&stored)));
    }

    #[test]
    fn different_salts_give_different_hashes() {
        assert_ne!(
            hash("pw-pw-pw-pw", &[1; SALT_LEN]).unwrap(),
            hash("pw-pw-pw-pw", &[2; SALT_LEN]).unwrap()
        );
    }

    #[test]
    fn missing_user_never_verifies() {
        assert!(!verify("anything", None));
    }

    #[test]
    fn weak_passwords_are_refused() {
        assert!(check_strength("short").is_err());
        assert!(check_strength("long enough").is_ok());
    }
}
