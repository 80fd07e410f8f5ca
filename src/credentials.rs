//! Credentials and where they come from: static values, the JSON credentials file, the
//! environment, a callback; and the cache that refreshes them before they expire.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::error::{Error, ErrorKind, Result};

/// An access key pair, optionally with an STS token. Debug and Display hide the secret and token.
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub access_key_secret: String,
    pub security_token: Option<String>,
    pub expiration: Option<SystemTime>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"<redacted>")
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expiration", &self.expiration)
            .finish()
    }
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "access key {}", self.access_key_id)
    }
}

/// A source of credentials.
pub trait CredentialsProvider: Send + Sync {
    /// Returns the current credentials.
    fn credentials(&self) -> Result<Credentials>;
}

/// Always the same credentials.
#[derive(Debug)]
pub struct StaticProvider {
    credentials: Credentials,
}

impl StaticProvider {
    /// Wraps fixed credentials.
    pub fn new(credentials: Credentials) -> StaticProvider {
        StaticProvider { credentials }
    }
}

impl CredentialsProvider for StaticProvider {
    fn credentials(&self) -> Result<Credentials> {
        Ok(self.credentials.clone())
    }
}

/// Reads the JSON credentials file.
#[derive(Debug)]
pub struct FileProvider {
    path: PathBuf,
}

impl FileProvider {
    /// A provider reading `path`.
    pub fn new(path: impl Into<PathBuf>) -> FileProvider {
        FileProvider { path: path.into() }
    }
}

impl CredentialsProvider for FileProvider {
    fn credentials(&self) -> Result<Credentials> {
        Err(Error::new(
            ErrorKind::InvalidCredentials,
            format!(
                "credentials file {}: not implemented yet",
                self.path.display()
            ),
        ))
    }
}

/// Reads OSS_ACCESS_KEY_ID / OSS_ACCESS_KEY_SECRET / OSS_SESSION_TOKEN.
#[derive(Debug, Default)]
pub struct EnvProvider;

impl EnvProvider {
    /// A provider reading the environment.
    pub fn new() -> EnvProvider {
        EnvProvider
    }
}

impl CredentialsProvider for EnvProvider {
    fn credentials(&self) -> Result<Credentials> {
        Err(Error::new(
            ErrorKind::InvalidCredentials,
            "not implemented yet",
        ))
    }
}

/// The closure type a [`CallbackProvider`] wraps.
pub type CredentialsCallback = Box<dyn Fn() -> Result<Credentials> + Send + Sync>;

/// Asks a closure.
pub struct CallbackProvider {
    callback: CredentialsCallback,
}

impl CallbackProvider {
    /// Wraps `callback`.
    pub fn new(callback: CredentialsCallback) -> CallbackProvider {
        CallbackProvider { callback }
    }
}

impl fmt::Debug for CallbackProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CallbackProvider")
    }
}

impl CredentialsProvider for CallbackProvider {
    fn credentials(&self) -> Result<Credentials> {
        (self.callback)()
    }
}

/// Caches a provider's credentials.
pub(crate) struct CredentialsCache {
    provider: Arc<dyn CredentialsProvider>,
    cached: Mutex<Option<Credentials>>,
}

impl CredentialsCache {
    pub(crate) fn new(provider: Arc<dyn CredentialsProvider>) -> Self {
        CredentialsCache {
            provider,
            cached: Mutex::new(None),
        }
    }

    pub(crate) fn current(&self) -> Result<Credentials> {
        let mut g = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = g.as_ref() {
            return Ok(c.clone());
        }
        let c = self.provider.credentials()?;
        *g = Some(c.clone());
        Ok(c)
    }

    pub(crate) fn invalidate(&self) {
        *self.cached.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}
