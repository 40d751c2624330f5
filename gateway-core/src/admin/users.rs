//! `/api/admin/users`: admins can add and remove admins (never the last one, never themselves).

use serde::Deserialize;

use super::session::hash_new;
use super::{AdminResult, conflict, created, list, no_content, not_found, validate};
use crate::auth::password;
use crate::error::RequestError;
use crate::routes::UserOp;
use crate::state::Inner;
use crate::store::users::User;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    username: String,
    password: String,
}

pub(super) async fn route(
    inner: &Inner,
    caller: &User,
    op: UserOp,
    id: &str,
    body: &[u8],
) -> AdminResult {
    match op {
        UserOp::List => Ok(list(&inner.store.list_users().await?)),
        UserOp::Create => {
            let input: NewUser = validate::body(body)?;
            let username = validate::username(&input.username)?;
            password::check_strength(&input.password)
                .map_err(|m| RequestError::field("password", m))?;
            let now = inner.platform.now_ms();
            let user = User {
                id: crate::ids::new_id(inner.platform.as_ref(), "usr"),
                username,
                password_hash: hash_new(inner, &input.password).await?,
                role: "admin".into(),
                token_version: 0,
                created_at: now,
                updated_at: now,
            };
            inner
                .store
                .insert_user(&user)
                .await
                .map_err(conflict(format!("user `{}` already exists", user.username)))?;
            Ok(created(&user))
        }
        UserOp::Delete if id == caller.id => {
            Err(RequestError::Conflict("you cannot delete yourself".into()).into())
        }
        UserOp::Delete => {
            if inner.store.user_by_id(id).await?.is_none() {
                return Err(not_found("user", id));
            }
            if inner.store.delete_user(id).await? {
                Ok(no_content())
            } else {
                Err(RequestError::Conflict("the last user cannot be deleted".into()).into())
            }
        }
    }
}
