//! First-start duties: settle the signing and encryption secrets, and create the first admin.
//!
//! In development, missing secrets are generated once and kept in the settings table so sessions
//! and sealed credentials survive restarts (and every instance sharing the database agrees). In
//! production they must come from configuration; `Config::validate` already refused to start without.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::auth::password;
use crate::config::Config;
use crate::ids;
use crate::io::Platform;
use crate::store::users::User;
use crate::store::{Store, StoreError};

pub(crate) struct Secrets {
    pub jwt: String,
    pub credentials: String,
}

pub(crate) async fn secrets(
    config: &Config,
    store: &Store,
    platform: &dyn Platform,
) -> Result<Secrets, StartError> {
    Ok(Secrets {
        jwt: secret(config.jwt_secret.as_ref().map(|s| s.expose()), "jwt_secret", store, platform)
            .await?,
        credentials: secret(
            config.gateway_secret.as_ref().map(|s| s.expose()),
            "gateway_secret",
            store,
            platform,
        )
        .await?,
    })
}

async fn secret(
    configured: Option<&str>,
    setting: &'static str,
    store: &Store,
    platform: &dyn Platform,
) -> Result<String, StartError> {
    if let Some(value) = configured {
        return Ok(value.to_owned());
    }
    let mut bytes = [0u8; 32];
    platform.random_bytes(&mut bytes);
    let fresh = URL_SAFE_NO_PAD.encode(bytes);
    let setting = crate::store::settings::Setting::DevSecret(setting);
    Ok(store.text_or_insert(setting, &fresh, platform.now_ms()).await?)
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Bootstrap(String),
}

/// With no user yet, creates the configured admin; without `ADMIN_PASSWORD`, generates a strong
/// password and logs it once (only the instance that wins the insert logs it).
pub(crate) async fn first_admin(
    config: &Config,
    store: &Store,
    platform: &dyn Platform,
) -> Result<(), StartError> {
    if store.count_users().await? > 0 {
        return Ok(());
    }
    let (password, generated) = match &config.admin_password {
        Some(p) => (p.expose().to_owned(), false),
        None => (ids::base62(24, |b| platform.random_bytes(b)), true),
    };
    let mut salt = [0u8; password::SALT_LEN];
    platform.random_bytes(&mut salt);
    let hash = password::hash(&password, &salt).map_err(StartError::Bootstrap)?;
    let now = platform.now_ms();
    let user = User {
        id: ids::new_id(platform, "usr"),
        username: config.admin_username.clone(),
        password_hash: hash,
        role: "admin".into(),
        token_version: 0,
        created_at: now,
        updated_at: now,
    };
    if store.create_first_user(&user).await? {
        if generated {
            tracing::warn!(
                "created admin user {:?} with generated password {password} — it is shown only \
                 this once; log in and change it (POST /api/auth/password)",
                user.username
            );
        } else {
            tracing::info!("created admin user {:?} from ADMIN_PASSWORD", user.username);
        }
    }
    Ok(())
}
