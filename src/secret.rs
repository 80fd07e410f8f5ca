//! [`Secret`]: text that must not outlive its use in readable form (the access key secret,
//! the security token). Its bytes are overwritten with zeros when it is dropped, so a core
//! dump, a swapped-out page or a later allocation reusing the memory does not hold it, and
//! `Debug` never shows it.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// A secret string, zeroed on drop. Read it with [`Secret::expose`], only where it is used
/// (signing), never to keep a copy.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    // A boxed str rather than a String: no spare capacity, so the bytes zeroed on drop are
    // all the bytes the secret was ever held in (a String could have left copies behind
    // when it grew).
    text: Box<str>,
}

impl Secret {
    /// Takes `text`; a `String` given here is zeroed once copied.
    pub fn new(text: impl Into<Secret>) -> Secret {
        text.into()
    }

    /// The secret, for signing.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// True when the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Overwrites every byte with zero, in place (what drop does).
    fn wipe(&mut self) {
        self.text.zeroize();
        #[cfg(test)]
        wipe_log::record(self.text.as_bytes());
    }
}

impl From<&str> for Secret {
    fn from(text: &str) -> Secret {
        Secret { text: text.into() }
    }
}

impl From<String> for Secret {
    fn from(mut text: String) -> Secret {
        // Copied into an exactly sized box, then the String's buffer (and its spare capacity)
        // is zeroed: `into_boxed_str` could reallocate and free the old buffer unwiped.
        let secret = Secret::from(text.as_str());
        text.zeroize();
        secret
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.wipe();
    }
}

impl ZeroizeOnDrop for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// What each wipe on this thread left in the secret's buffer just before it was freed: lets
/// tests see that drop zeroes the bytes without reading freed memory.
#[cfg(test)]
pub(crate) mod wipe_log {
    use std::cell::RefCell;

    thread_local! {
        static WIPED: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    }

    pub(super) fn record(bytes: &[u8]) {
        WIPED.with(|w| w.borrow_mut().push(bytes.to_vec()));
    }

    /// The buffers wiped on this thread since the last call.
    pub(crate) fn take() -> Vec<Vec<u8>> {
        WIPED.with(|w| std::mem::take(&mut *w.borrow_mut()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_zeroes_every_byte_of_the_secret_and_of_each_clone() {
        wipe_log::take();
        let secret = Secret::new("hunter2-secret");
        let copy = secret.clone();
        assert_eq!(copy.expose(), "hunter2-secret");
        drop(secret);
        drop(copy);
        assert_eq!(wipe_log::take(), vec![vec![0u8; 14], vec![0u8; 14]]);
    }

    #[test]
    fn a_string_handed_over_keeps_its_text() {
        let mut text = String::with_capacity(64);
        text.push_str("from-a-string");
        let secret = Secret::from(text);
        assert_eq!(secret.expose(), "from-a-string");
        assert!(!secret.is_empty());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let secret = Secret::new("hunter2-secret");
        assert_eq!(format!("{secret:?}"), "<redacted>");
        assert_eq!(format!("{:?}", Some(&secret)), "Some(<redacted>)");
    }

    #[test]
    fn secret_is_zeroize_on_drop() {
        fn zeroes_on_drop<T: ZeroizeOnDrop>() {}
        zeroes_on_drop::<Secret>();
    }
}
