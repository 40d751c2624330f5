//! Health monitoring: the persistent-monitoring switch (with its monitoring-only key), statistics,
//! and the public API. The checker that probes due targets is in `jobs.rs`.

pub(crate) mod public;
pub(crate) mod stats;

use crate::auth::vkey;
use crate::store::keys::VirtualKey;
use crate::store::settings::Setting;

/// Turns persistent monitoring on or off. Turning it on the first time creates the monitoring-only
/// key (every model, no body logging); its secret is kept sealed. If an admin deleted that key,
/// turning monitoring on again makes a new one.
pub(crate) async fn set_monitoring(
    inner: &crate::state::Inner,
    on: bool,
) -> Result<(), crate::GatewayError> {
    let now = inner.platform.now_ms();
    if on {
        ensure_monitoring_key(inner, now).await?;
    }
    inner.store.put_flag(Setting::MonitoringEnabled, on, now).await?;
    Ok(())
}

/// Makes sure the monitoring key exists, creating it (again, if an admin deleted it).
async fn ensure_monitoring_key(
    inner: &crate::state::Inner,
    now: i64,
) -> Result<(), crate::GatewayError> {
    if let Some(id) = inner.store.text(Setting::MonitoringKeyId).await? {
        if inner.store.key(&id).await?.is_some() {
            return Ok(());
        }
        inner.store.delete_text_if(Setting::MonitoringKeyId, &id).await?;
    }
    let secret = vkey::generate(|b| inner.platform.random_bytes(b));
    let id = crate::ids::new_id(inner.platform.as_ref(), "key");
    let mut key = VirtualKey::unrestricted(id, "health monitoring".into(), &secret, now);
    key.tags = vec!["monitoring".into()];
    let mut nonce = [0u8; 12];
    inner.platform.random_bytes(&mut nonce);
    let sealed = inner.sealer.seal(&secret, nonce)?;
    inner.store.insert_key(&key).await?;
    // Another instance may have won the race: keep whichever key was recorded first.
    let kept = inner.store.text_or_insert(Setting::MonitoringKeyId, &key.id, now).await?;
    if kept == key.id {
        inner.store.put_text(Setting::MonitoringKeySealed, &sealed, now).await?;
    } else {
        inner.store.delete_key(&key.id).await?;
    }
    Ok(())
}
