//! Providers table.

use super::{Row, Store, StoreError, StoreResult};
use crate::io::Value;
use crate::provider::{AuthScheme, Credential, Disabled, Protocol, Provider};

const COLUMNS: &str = "id, name, protocol, base_url, auth_scheme, credentials_enc, credentials, \
                       extra_headers, isolation, quirks, enabled, created_at, updated_at";

fn decode(r: &Row<'_>) -> StoreResult<Provider> {
    let bad = |column: &str, value: String| StoreError::Decode {
        column: column.into(),
        detail: format!("unknown value {value:?}"),
    };
    let protocol = r.text("protocol")?;
    let auth = r.text("auth_scheme")?;
    Ok(Provider {
        id: r.text("id")?,
        name: r.text("name")?,
        protocol: Protocol::parse(&protocol).ok_or_else(|| bad("protocol", protocol.clone()))?,
        base_url: r.text("base_url")?,
        auth_scheme: AuthScheme::parse(&auth).ok_or_else(|| bad("auth_scheme", auth.clone()))?,
        credentials: match r.opt_text("credentials")? {
            Some(_) => r.json("credentials")?,
            // Written before several credentials: the one key, as it was sealed.
            None => r
                .opt_text("credentials_enc")?
                .map(|sealed| Credential {
                    id: "primary".into(),
                    label: None,
                    sealed,
                    weight: 1,
                    disabled: None,
                })
                .into_iter()
                .collect(),
        },
        extra_headers: r.json("extra_headers")?,
        isolation: r.json("isolation")?,
        quirks: r.json("quirks")?,
        enabled: r.bool("enabled")?,
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
    })
}

fn params(p: &Provider) -> Vec<Value> {
    vec![
        p.name.clone().into(),
        p.protocol.as_str().into(),
        p.base_url.clone().into(),
        p.auth_scheme.as_str().into(),
        p.credentials.first().map(|c| c.sealed.clone()).into(),
        serde_json::to_string(&p.credentials).unwrap_or_else(|_| "[]".into()).into(),
        serde_json::to_string(&p.extra_headers).unwrap_or_else(|_| "{}".into()).into(),
        serde_json::to_string(&p.isolation).unwrap_or_else(|_| "{}".into()).into(),
        serde_json::to_string(&p.quirks).unwrap_or_else(|_| "{}".into()).into(),
        p.enabled.into(),
        Value::Integer(p.updated_at),
    ]
}

impl Store {
    pub async fn list_providers(&self) -> StoreResult<super::Listed<Provider>> {
        let sql = format!("SELECT {COLUMNS} FROM providers ORDER BY name");
        self.query_tolerant("providers", &sql, vec![], decode).await
    }

    pub async fn provider(&self, id: &str) -> StoreResult<Option<Provider>> {
        let sql = format!("SELECT {COLUMNS} FROM providers WHERE id = ?");
        self.query_one(&sql, vec![id.into()], decode).await
    }

    pub async fn insert_provider(&self, p: &Provider) -> StoreResult<()> {
        let mut values = params(p);
        values.insert(0, p.id.clone().into());
        values.push(Value::Integer(p.created_at));
        self.execute(
            "INSERT INTO providers (id, name, protocol, base_url, auth_scheme, credentials_enc, \
             credentials, extra_headers, isolation, quirks, enabled, updated_at, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            values,
        )
        .await?;
        Ok(())
    }

    pub async fn update_provider(&self, p: &Provider) -> StoreResult<bool> {
        let mut values = params(p);
        values.push(p.id.clone().into());
        let changed = self
            .execute(
                "UPDATE providers SET name = ?, protocol = ?, base_url = ?, auth_scheme = ?, \
                 credentials_enc = ?, credentials = ?, extra_headers = ?, isolation = ?, quirks = ?, \
                 enabled = ?, \
                 updated_at = ? \
                 WHERE id = ?",
                values,
            )
            .await?;
        Ok(changed == 1)
    }

    /// Marks credential `credential_id` of `provider_id` disabled, with why, unless it is the
    /// provider's last enabled one; whether it is disabled now. A compare-and-set on the stored
    /// list, so instances refusing two keys at once cannot together disable the last.
    pub async fn disable_credential(
        &self,
        provider_id: &str,
        credential_id: &str,
        disabled: Disabled,
    ) -> StoreResult<bool> {
        for _ in 0..4 {
            let before = self
                .query_one(
                    "SELECT credentials FROM providers WHERE id = ?",
                    vec![provider_id.into()],
                    |r| r.opt_text("credentials"),
                )
                .await?;
            let Some(before) = before else { return Ok(false) };
            let Some(mut p) = self.provider(provider_id).await? else { return Ok(false) };
            let others = p
                .credentials
                .iter()
                .filter(|c| c.id != credential_id && c.disabled.is_none())
                .count();
            let Some(c) = p.credentials.iter_mut().find(|c| c.id == credential_id) else {
                return Ok(false);
            };
            if c.disabled.is_some() {
                return Ok(true);
            }
            if others == 0 {
                return Ok(false);
            }
            c.disabled = Some(disabled.clone());
            let json = serde_json::to_string(&p.credentials).unwrap_or_else(|_| "[]".into());
            let changed = self
                .execute(
                    "UPDATE providers SET credentials = ? WHERE id = ? AND credentials IS ?",
                    vec![json.into(), provider_id.into(), before.into()],
                )
                .await?;
            if changed == 1 {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Deletes a provider no model uses; `Ok(None)` when models still point at it.
    pub async fn delete_provider(&self, id: &str) -> StoreResult<Option<bool>> {
        let in_use = self
            .query_one(
                "SELECT COUNT(*) AS n FROM models WHERE provider_id = ?",
                vec![id.into()],
                |r| r.int("n"),
            )
            .await?
            .unwrap_or(0);
        if in_use > 0 {
            return Ok(None);
        }
        let changed = self
            .execute(
                "DELETE FROM providers WHERE id = ? AND NOT EXISTS (SELECT 1 FROM models WHERE provider_id = ?)",
                vec![id.into(), id.into()],
            )
            .await?;
        Ok(Some(changed == 1))
    }
}
