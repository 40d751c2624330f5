//! Which of a provider's credentials a request uses: smooth weighted round robin among those the
//! upstream has not refused (401/403: disabled, stored with why) and that are not resting (429:
//! for the upstream's `Retry-After`, a minute when it gives none). Resting is this instance's own
//! memory, like the breakers; a disabled credential is also remembered here at once, before the
//! route cache (5 seconds) sees the stored change.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::provider::{Credential, Provider};

/// How long a credential rests after a 429 without `Retry-After`.
pub(crate) const DEFAULT_REST_MS: i64 = 60_000;

/// Every credential of a provider was refused by its upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AllDisabled;

/// Credential states, by `provider_id/credential_id`.
#[derive(Debug, Default)]
pub(crate) struct Keyring {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Resting until (ms), or `i64::MAX` for disabled.
    until: HashMap<String, i64>,
    /// Smooth weighted round robin: each credential's current weight.
    current: HashMap<String, i64>,
}

fn slot(provider: &Provider, credential: &Credential) -> String {
    format!("{}/{}", provider.id, credential.id)
}

impl State {
    /// The credentials a request may use now.
    fn usable<'a>(&self, provider: &'a Provider, now_ms: i64) -> Vec<&'a Credential> {
        provider
            .credentials
            .iter()
            .filter(|c| c.disabled.is_none())
            .filter(|c| self.until.get(&slot(provider, c)).is_none_or(|&t| t <= now_ms))
            .collect()
    }
}

impl Keyring {
    /// How many credentials of `provider` a request could use now.
    pub(crate) fn available(&self, provider: &Provider, now_ms: i64) -> usize {
        self.state.lock().map_or(0, |s| s.usable(provider, now_ms).len())
    }

    /// The credential for the next request to `provider` (`Ok(None)`: it has none, as local
    /// servers): smooth weighted round robin among the usable ones (each gets its weight's share,
    /// spread out, the same on every run); when every one rests, the one that rests least (the
    /// upstream's answer then says why). `Err` when every one is disabled: a refused key is never
    /// sent again. A provider with one credential (most) takes no lock.
    pub(crate) fn pick<'a>(
        &self,
        provider: &'a Provider,
        now_ms: i64,
    ) -> Result<Option<&'a Credential>, AllDisabled> {
        let first = provider.credentials.first();
        if provider.credentials.len() < 2 {
            return match first {
                Some(c) if c.disabled.is_some() => Err(AllDisabled),
                other => Ok(other),
            };
        }
        let Ok(mut state) = self.state.lock() else { return Ok(first) };
        let state = &mut *state;
        let usable = state.usable(provider, now_ms);
        if usable.is_empty() {
            return provider
                .credentials
                .iter()
                .filter(|c| c.disabled.is_none())
                .map(|c| (c, *state.until.get(&slot(provider, c)).unwrap_or(&0)))
                .filter(|(_, until)| *until != i64::MAX)
                .min_by_key(|(_, until)| *until)
                .map(|(c, _)| Some(c))
                .ok_or(AllDisabled);
        }
        let total: i64 = usable.iter().map(|c| i64::from(c.weight.max(1))).sum();
        let mut best: Option<(&Credential, i64)> = None;
        for c in &usable {
            let cw = state.current.entry(slot(provider, c)).or_insert(0);
            *cw += i64::from(c.weight.max(1));
            if best.is_none_or(|(_, b)| *cw > b) {
                best = Some((c, *cw));
            }
        }
        let Some((chosen, _)) = best else { return Ok(first) };
        if let Some(cw) = state.current.get_mut(&slot(provider, chosen)) {
            *cw -= total;
        }
        Ok(Some(chosen))
    }

    /// `credential` was rate limited: rest it until `until_ms`.
    pub(crate) fn rest(&self, provider: &Provider, credential: &Credential, until_ms: i64) {
        if let Ok(mut state) = self.state.lock() {
            let t = state.until.entry(slot(provider, credential)).or_insert(0);
            *t = (*t).max(until_ms);
        }
    }

    /// `credential` was refused: never use it again on this instance (until the provider's
    /// credentials change: its id changes with them) — unless no other could be used now, in one
    /// step so two refusals at once cannot both pass; whether it was disabled.
    pub(crate) fn disable_unless_last(
        &self,
        provider: &Provider,
        credential: &Credential,
        now_ms: i64,
    ) -> bool {
        let Ok(mut state) = self.state.lock() else { return false };
        let others =
            state.usable(provider, now_ms).iter().filter(|c| c.id != credential.id).count();
        if others == 0 {
            return false;
        }
        state.until.insert(slot(provider, credential), i64::MAX);
        true
    }

    /// Takes back [`Keyring::disable_unless_last`] (another instance disabled the others first).
    pub(crate) fn undisable(&self, provider: &Provider, credential: &Credential) {
        if let Ok(mut state) = self.state.lock() {
            state.until.remove(&slot(provider, credential));
        }
    }

    /// Forgets the state of credentials re-enabled through the admin API.
    pub(crate) fn clear(&self) {
        if let Ok(mut state) = self.state.lock() {
            *state = State::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(weights: &[u32]) -> Provider {
        let credentials = weights
            .iter()
            .enumerate()
            .map(|(i, &weight)| Credential {
                id: format!("c{i}"),
                label: None,
                sealed: String::new(),
                weight,
                disabled: None,
            })
            .collect();
        Provider {
            id: "p".into(),
            name: "p".into(),
            protocol: crate::provider::Protocol::OpenaiChat,
            base_url: "http://up.test/v1".into(),
            auth_scheme: crate::provider::AuthScheme::Bearer,
            credentials,
            extra_headers: Default::default(),
            isolation: Default::default(),
            quirks: Default::default(),
            enabled: true,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn credentials_share_by_weight_and_skip_the_resting_and_the_disabled() {
        let ring = Keyring::default();
        let p = provider(&[1, 3]);
        let pick = |now| ring.pick(&p, now).unwrap().unwrap().id.clone();
        let picks: Vec<String> = (0..8).map(|_| pick(0)).collect();
        assert_eq!(picks.iter().filter(|id| *id == "c1").count(), 6, "{picks:?}");
        ring.rest(&p, &p.credentials[1], 1000);
        assert!((0..4).all(|_| pick(500) == "c0"));
        assert_eq!(ring.available(&p, 500), 1);
        assert_eq!(ring.available(&p, 1000), 2, "rested until its time");
        assert!(ring.disable_unless_last(&p, &p.credentials[0], 1000));
        assert_eq!(pick(500), "c1", "all resting: the least resting, never the disabled");
        assert!(!ring.disable_unless_last(&p, &p.credentials[1], 1000), "never the last");
        assert_eq!(pick(1000), "c1");
        ring.undisable(&p, &p.credentials[0]);
        assert_eq!(ring.available(&p, 1000), 2, "taken back");
        // Stored as disabled (after a restart) counts the same.
        let mut stored = provider(&[1]);
        stored.credentials[0].disabled =
            Some(crate::provider::Disabled { reason: "401".into(), at: 1 });
        assert_eq!(Keyring::default().pick(&stored, 0), Err(AllDisabled));
        assert_eq!(Keyring::default().pick(&provider(&[]), 0), Ok(None));
    }
}
