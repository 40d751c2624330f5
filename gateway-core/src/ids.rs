//! Random identifiers: row ids, request ids and the random part of virtual keys, all base62 drawn
//! without bias from the platform's secure RNG.

use crate::io::Platform;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `len` base62 characters from `refill`; bytes ≥ 248 are skipped so every character is equally likely.
pub(crate) fn base62(len: usize, mut refill: impl FnMut(&mut [u8])) -> String {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 48];
    while out.len() < len {
        refill(&mut buf);
        for &b in &buf {
            if b < 248 && out.len() < len {
                out.push(char::from(BASE62[usize::from(b % 62)]));
            }
        }
    }
    out
}

/// A new row id such as `prv_3kT…` (20 random characters, ~119 bits).
pub(crate) fn new_id(platform: &dyn Platform, prefix: &str) -> String {
    format!("{prefix}_{}", base62(20, |b| platform.random_bytes(b)))
}

/// A row id that sorts by creation time, such as `log_0Bx7kQ2a…`: 8 base62 characters of the
/// millisecond time (in ASCII order, so text order is time order), then 12 random ones (~71 bits).
/// Rows written in time order then append to the primary-key index instead of splitting pages all
/// over it.
pub(crate) fn sortable_id(platform: &dyn Platform, prefix: &str, now_ms: i64) -> String {
    let mut time = [b'0'; 8];
    let mut t = u64::try_from(now_ms).unwrap_or(0);
    for slot in time.iter_mut().rev() {
        *slot = BASE62[usize::try_from(t % 62).unwrap_or(0)];
        t /= 62;
    }
    let time = String::from_utf8_lossy(&time).into_owned();
    format!("{prefix}_{time}{}", base62(12, |b| platform.random_bytes(b)))
}

/// A request id: the caller's `x-request-id` when it is sane, else a fresh one.
pub(crate) fn request_id(platform: &dyn Platform, incoming: Option<&str>) -> String {
    match incoming {
        Some(id) if (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic()) => {
            id.to_owned()
        }
        _ => format!("req_{}", base62(24, |b| platform.random_bytes(b))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Zeros;
    impl Platform for Zeros {
        fn now_ms(&self) -> i64 {
            0
        }
        fn random_bytes(&self, buf: &mut [u8]) {
            buf.fill(7);
        }
        fn sleep(&self, _: std::time::Duration) -> crate::maybe_send::BoxFuture<'static, ()> {
            Box::pin(async {})
        }
    }

    #[test]
    fn sortable_ids_sort_by_time() {
        let times = [0, 1, 61, 62, 1_700_000_000_000, 1_700_000_000_001, 4_102_444_800_000];
        let ids: Vec<String> = times.iter().map(|t| sortable_id(&Zeros, "log", *t)).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        assert_eq!(ids[0], "log_00000000777777777777");
        assert!(ids.iter().all(|id| id.len() == 4 + 8 + 12));
    }

    #[test]
    fn biased_bytes_are_skipped() {
        let mut calls = 0;
        let s = base62(32, |buf| {
            calls += 1;
            buf.fill(if calls == 1 { 250 } else { 1 });
        });
        assert_eq!(calls, 2);
        assert_eq!(s, "1".repeat(32));
    }

    #[test]
    fn every_character_is_reachable() {
        let mut next = 0u8;
        let s = base62(62, |buf| {
            for b in buf.iter_mut() {
                *b = next;
                next = next.wrapping_add(1);
            }
        });
        assert_eq!(s.as_bytes(), BASE62);
    }
}
