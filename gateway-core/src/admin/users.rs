//! `/api/admin/users`: admins can add and remove admins (never the last one, never themselves).

use serde::Deserialize;

use super::session::hash_new;
use super::{AdminResult, Op, Req, conflict, created, list, no_content, not_found, validate};
use crate::auth::password;
use crate::error::RequestError;
use crate::state::Inner;
use crate::store::users::User;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    username: String,
    password: String,
}

pub(super) async fn route(inner: &Inner, caller: &User, req: Req<'_>) -> AdminResult {
    match req.op()? {
        Op::List => Ok(list(&inner.store.list_users().await?)),
        Op::Create => {
            let input: NewUser = validate::body(req.body)?;
            let username = validate::username(&input.username)?;
            password::check_strength(&input.password)
                .map_err(|m| RequestError::field("password", m))?;
            let now = inner.platform.now_ms();
            let user = User {
                id: crate::ids::new_id(inner.platform.as_ref(), "usr"),
                username,
                password_hash: hash_new(inner, &input.password)?,
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
        Op::Delete(id) if id == caller.id => {
            Err(RequestError::Conflict("you cannot delete yourself".into()).into())
        }
        Op::Delete(id) => {
            if inner.store.user_by_id(id).await?.is_none() {
                return Err(not_found("user", id));
            }
            if inner.store.delete_user(id).await? {
                Ok(no_content())
            } else {
                Err(RequestError::Conflict("the last user cannot be deleted".into()).into())
            }
        }
        Op::Get(_) | Op::Update(_) => Err(RequestError::MethodNotAllowed.into()),
    }
}
