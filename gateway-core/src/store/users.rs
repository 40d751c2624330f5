//! Admin users.

use serde::Serialize;

use super::{Row, Store, StoreResult};
use crate::io::Value;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: String,
    pub username: String,
    #[serde(skip)]
    pub password_hash: String,
    pub role: String,
    #[serde(skip)]
    pub token_version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

fn decode(r: &Row<'_>) -> StoreResult<User> {
    Ok(User {
        id: r.text("id")?,
        username: r.text("username")?,
        password_hash: r.text("password_hash")?,
        role: r.text("role")?,
        token_version: r.int("token_version")?,
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
    })
}

const COLUMNS: &str = "id, username, password_hash, role, token_version, created_at, updated_at";

/// Values for `INSERT … (id, username, password_hash, role, token_version, created_at, updated_at)`
/// with a fresh token version.
fn insert_params(user: &User) -> Vec<Value> {
    vec![
        user.id.clone().into(),
        user.username.clone().into(),
        user.password_hash.clone().into(),
        user.role.clone().into(),
        Value::Integer(user.created_at),
        Value::Integer(user.updated_at),
    ]
}

impl Store {
    pub async fn count_users(&self) -> StoreResult<i64> {
        Ok(self
            .query_one("SELECT COUNT(*) AS n FROM users", vec![], |r| r.int("n"))
            .await?
            .unwrap_or(0))
    }

    /// Creates the first admin only if no user exists yet; false when another instance won.
    pub async fn create_first_user(&self, user: &User) -> StoreResult<bool> {
        let changed = self
            .execute(
                "INSERT INTO users (id, username, password_hash, role, token_version, created_at, updated_at) \
                 SELECT ?, ?, ?, ?, 0, ?, ? WHERE NOT EXISTS (SELECT 1 FROM users)",
                insert_params(user),
            )
            .await?;
        Ok(changed == 1)
    }

    pub async fn insert_user(&self, user: &User) -> StoreResult<()> {
        self.execute(
            "INSERT INTO users (id, username, password_hash, role, token_version, created_at, updated_at) \
             VALUES (?, ?, ?, ?, 0, ?, ?)",
            insert_params(user),
        )
        .await?;
        Ok(())
    }

    pub async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE username = ?");
        self.query_one(&sql, vec![username.into()], decode).await
    }

    pub async fn user_by_id(&self, id: &str) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE id = ?");
        self.query_one(&sql, vec![id.into()], decode).await
    }

    pub async fn list_users(&self) -> StoreResult<Vec<User>> {
        let sql = format!("SELECT {COLUMNS} FROM users ORDER BY created_at");
        self.query_as(&sql, vec![], decode).await
    }

    /// Replaces the password hash and revokes every session issued before.
    pub async fn set_password(&self, id: &str, hash: &str, now_ms: i64) -> StoreResult<()> {
        self.execute(
            "UPDATE users SET password_hash = ?, token_version = token_version + 1, updated_at = ? WHERE id = ?",
            vec![hash.into(), Value::Integer(now_ms), id.into()],
        )
        .await?;
        Ok(())
    }

    /// Revokes every session of the user (logout).
    pub async fn bump_token_version(&self, id: &str, now_ms: i64) -> StoreResult<()> {
        self.execute(
            "UPDATE users SET token_version = token_version + 1, updated_at = ? WHERE id = ?",
            vec![Value::Integer(now_ms), id.into()],
        )
        .await?;
        Ok(())
    }

    /// Deletes a user unless it is the last one; true when deleted.
    pub async fn delete_user(&self, id: &str) -> StoreResult<bool> {
        let changed = self
            .execute(
                "DELETE FROM users WHERE id = ? AND (SELECT COUNT(*) FROM users) > 1",
                vec![id.into()],
            )
            .await?;
        Ok(changed == 1)
    }
}
