//! Credentials and where they come from: fixed values, the JSON credentials file, the
//! environment, or a callback; and the cache the connector signs from, which asks its provider
//! again before the credentials expire and after the server rejected them.
//!
//! Secrets never leave this module in readable form: they are held as [`Secret`]s (zeroed on
//! drop), `Debug` and `Display` of every type here redact them, and no error message quotes
//! them. The cache hands out one shared `Arc<Credentials>` per provider answer, so requests
//! do not each copy the secret.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};
use crate::secret::Secret;

/// How long before expiration credentials are refreshed.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// The environment variables [`EnvProvider`] reads.
pub const ENV_ACCESS_KEY_ID: &str = "OSS_ACCESS_KEY_ID";
/// See [`ENV_ACCESS_KEY_ID`].
pub const ENV_ACCESS_KEY_SECRET: &str = "OSS_ACCESS_KEY_SECRET";
/// See [`ENV_ACCESS_KEY_ID`]; optional.
pub const ENV_SESSION_TOKEN: &str = "OSS_SESSION_TOKEN";

/// An access key pair, optionally with an STS security token and its expiration.
/// `Debug` and `Display` show the access key id only.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The access key id (not secret; it names the key in requests).
    pub access_key_id: String,
    /// The access key secret.
    pub access_key_secret: Secret,
    /// The STS token, sent as `x-oss-security-token`.
    pub security_token: Option<Secret>,
    /// When temporary credentials stop working.
    pub expiration: Option<SystemTime>,
}

impl Credentials {
    /// Long-lived credentials without a token.
    pub fn new(
        access_key_id: impl Into<String>,
        access_key_secret: impl Into<Secret>,
    ) -> Credentials {
        Credentials {
            access_key_id: access_key_id.into(),
            access_key_secret: access_key_secret.into(),
            security_token: None,
            expiration: None,
        }
    }

    /// Adds an STS security token.
    pub fn with_security_token(mut self, token: impl Into<Secret>) -> Credentials {
        self.security_token = Some(token.into());
        self
    }

    /// Adds an expiration time.
    pub fn with_expiration(mut self, expiration: SystemTime) -> Credentials {
        self.expiration = Some(expiration);
        self
    }

    /// True when the credentials expire before `now + margin`.
    pub fn expires_within(&self, margin: Duration, now: SystemTime) -> bool {
        self.expiration.is_some_and(|e| e <= now + margin)
    }

    /// Rejects an empty access key id or secret; `source` names where they came from.
    fn check(&self, source: &str) -> Result<()> {
        if self.access_key_id.trim().is_empty() {
            return Err(invalid(format!("{source}: the access key id is empty")));
        }
        if self.access_key_secret.is_empty() {
            return Err(invalid(format!("{source}: the access key secret is empty")));
        }
        Ok(())
    }
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidCredentials, message)
}

/// `t` in RFC 3339, or its `Debug` form when out of the calendar's range (a caller may set
/// any expiration; formatting must not panic).
fn rfc3339(t: SystemTime) -> String {
    let dt = match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => time::Duration::try_from(d)
            .ok()
            .and_then(|d| OffsetDateTime::UNIX_EPOCH.checked_add(d)),
        Err(e) => time::Duration::try_from(e.duration())
            .ok()
            .and_then(|d| OffsetDateTime::UNIX_EPOCH.checked_sub(d)),
    };
    dt.and_then(|dt| dt.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("{t:?}"))
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
            .field("expiration", &self.expiration.map(rfc3339))
            .finish()
    }
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "access key {}", self.access_key_id)?;
        if self.security_token.is_some() {
            f.write_str(" with a security token")?;
        }
        if let Some(e) = self.expiration {
            write!(f, ", expiring {}", rfc3339(e))?;
        }
        Ok(())
    }
}

/// A source of credentials. Called rarely (the connector caches), from any thread.
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

/// Reads the JSON credentials file (`AccessKeyId`, `AccessKeySecret`, optional
/// `SecurityToken` and `Expiration`; other fields, such as ECS metadata's `Code`, are ignored).
///
/// The file is read again when its modification time or length changed, or when the last
/// credentials read expire within [`REFRESH_MARGIN`] (whoever rotates the file is expected
/// to do so before then).
pub struct FileProvider {
    path: PathBuf,
    loaded: Mutex<Option<Loaded>>,
}

/// What the file held at a given (mtime, length).
struct Loaded {
    credentials: Credentials,
    stamp: (Option<SystemTime>, u64),
}

impl FileProvider {
    /// A provider reading `path` (read on first use).
    pub fn new(path: impl Into<PathBuf>) -> FileProvider {
        FileProvider {
            path: path.into(),
            loaded: Mutex::new(None),
        }
    }

    /// The file this provider reads.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl fmt::Debug for FileProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let loaded = self
            .loaded
            .try_lock()
            .ok()
            .and_then(|l| l.as_ref().map(|l| l.credentials.clone()));
        f.debug_struct("FileProvider")
            .field("path", &self.path)
            .field("loaded", &loaded)
            .finish()
    }
}

impl CredentialsProvider for FileProvider {
    fn credentials(&self) -> Result<Credentials> {
        let io_err = |e: std::io::Error| {
            Error::new(
                ErrorKind::Io,
                format!("cannot read credentials file {}: {e}", self.path.display()),
            )
        };
        let meta = std::fs::metadata(&self.path).map_err(io_err)?;
        let stamp = (meta.modified().ok(), meta.len());
        let mut loaded = lock(&self.loaded);
        if let Some(l) = loaded.as_ref() {
            if l.stamp == stamp
                && !l
                    .credentials
                    .expires_within(REFRESH_MARGIN, SystemTime::now())
            {
                return Ok(l.credentials.clone());
            }
        }
        let text = Zeroizing::new(std::fs::read_to_string(&self.path).map_err(io_err)?);
        let credentials = parse_credentials_json(&text, &self.path)?;
        *loaded = Some(Loaded {
            credentials: credentials.clone(),
            stamp,
        });
        Ok(credentials)
    }
}

/// Parses the credentials file's JSON. Messages name fields, never their values (except
/// `Expiration`, which is not secret).
pub(crate) fn parse_credentials_json(text: &str, path: &Path) -> Result<Credentials> {
    let source = format!("credentials file {}", path.display());
    // serde_json's syntax errors describe the position and the expected token, never the
    // text itself, so they cannot leak the secret.
    let value: Value = serde_json::from_str(text).map_err(|e| {
        let full = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let what = full.strip_suffix(&suffix).unwrap_or(&full);
        invalid(format!(
            "{source}: invalid JSON at line {}, column {}: {what}",
            e.line(),
            e.column()
        ))
    })?;
    let Value::Object(mut obj) = value else {
        return Err(invalid(format!(
            "{source}: the file must hold a JSON object"
        )));
    };
    // Fields are moved out of the parsed object, not cloned: the secret ends up in one
    // `Secret` (which zeroes the String it is made from) instead of also in `obj`.
    let mut field = |name: &str| -> Result<Option<String>> {
        match obj.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(invalid(format!("{source}: {name} must be a string"))),
        }
    };
    let access_key_id = field("AccessKeyId")?
        .ok_or_else(|| invalid(format!("{source}: AccessKeyId is missing or empty")))?;
    let access_key_secret = field("AccessKeySecret")?
        .ok_or_else(|| invalid(format!("{source}: AccessKeySecret is missing or empty")))?;
    let expiration = match field("Expiration")? {
        None => None,
        Some(s) => Some(parse_expiration(&s).ok_or_else(|| {
            invalid(format!(
                "{source}: Expiration {s:?} is not an RFC 3339 UTC time such as 2025-03-14T13:34:56Z"
            ))
        })?),
    };
    let credentials = Credentials {
        access_key_id,
        access_key_secret: access_key_secret.into(),
        security_token: field("SecurityToken")?.map(Secret::from),
        expiration,
    };
    credentials.check(&source)?;
    Ok(credentials)
}

/// `YYYY-MM-DDTHH:MM:SSZ`, and other RFC 3339 forms (fractions, offsets).
pub(crate) fn parse_expiration(s: &str) -> Option<SystemTime> {
    OffsetDateTime::parse(s.trim(), &Rfc3339)
        .ok()
        .map(SystemTime::from)
}

/// Reads `OSS_ACCESS_KEY_ID`, `OSS_ACCESS_KEY_SECRET` and the optional `OSS_SESSION_TOKEN`
/// each time it is asked.
#[derive(Debug, Default)]
pub struct EnvProvider {
    _private: (),
}

impl EnvProvider {
    /// A provider reading the process environment.
    pub fn new() -> EnvProvider {
        EnvProvider::default()
    }

    /// The credentials `lookup` (a variable name → value function) gives; empty = missing.
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Credentials> {
        let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
        let (id, secret) = (get(ENV_ACCESS_KEY_ID), get(ENV_ACCESS_KEY_SECRET));
        let missing: Vec<&str> = [
            (ENV_ACCESS_KEY_ID, id.is_none()),
            (ENV_ACCESS_KEY_SECRET, secret.is_none()),
        ]
        .iter()
        .filter(|(_, m)| *m)
        .map(|(n, _)| *n)
        .collect();
        match (id, secret) {
            (Some(access_key_id), Some(access_key_secret)) => Ok(Credentials {
                access_key_id,
                access_key_secret: access_key_secret.into(),
                security_token: get(ENV_SESSION_TOKEN).map(Secret::from),
                expiration: None,
            }),
            _ => Err(invalid(format!(
                "environment variables {ENV_ACCESS_KEY_ID} and {ENV_ACCESS_KEY_SECRET} must be set \
                 (missing or empty: {})",
                missing.join(", ")
            ))),
        }
    }
}

impl CredentialsProvider for EnvProvider {
    fn credentials(&self) -> Result<Credentials> {
        EnvProvider::from_lookup(|name| std::env::var(name).ok())
    }
}

/// The closure a [`CallbackProvider`] wraps.
pub type CredentialsCallback = Box<dyn Fn() -> Result<Credentials> + Send + Sync>;

/// Asks a closure (e.g. one that calls into Python or C).
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
        f.write_str("CallbackProvider { .. }")
    }
}

impl CredentialsProvider for CallbackProvider {
    fn credentials(&self) -> Result<Credentials> {
        (self.callback)()
    }
}

/// The credentials requests are signed with: a provider's answer, kept until it is within
/// [`REFRESH_MARGIN`] of expiring or until [`CredentialsCache::invalidate`].
///
/// One lock guards the state and is held while the provider is asked, so that concurrent
/// requests wait for one refresh instead of each calling the provider.
pub(crate) struct CredentialsCache {
    provider: Arc<dyn CredentialsProvider>,
    state: Mutex<CacheState>,
    /// While the provider keeps returning credentials that expire soon, ask it at most this
    /// often (rather than on every request).
    min_refresh_interval: Duration,
}

#[derive(Default)]
struct CacheState {
    /// Shared with the requests signing with them: each gets the `Arc`, not a copy.
    credentials: Option<Arc<Credentials>>,
    invalidated: bool,
    last_asked: Option<Instant>,
    /// The connector was freed: the provider (a C callback whose user data the caller may
    /// free now) is never asked again.
    closed: bool,
}

/// Lock a mutex; a poisoned one is still consistent here (plain values, replaced whole).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl CredentialsCache {
    /// Never asks the provider again (a request a detached thread still makes fails as
    /// cancelled). Waits for a call of the provider in progress: once this returns, the
    /// provider is not running and will not run.
    pub(crate) fn close(&self) {
        lock(&self.state).closed = true;
    }

    /// A cache over `provider`, empty until first used.
    pub(crate) fn new(provider: Arc<dyn CredentialsProvider>) -> Self {
        Self::with_min_refresh_interval(provider, Duration::from_secs(1))
    }

    /// Like [`CredentialsCache::new`], with the minimum interval between refreshes of soon
    /// expiring credentials.
    pub(crate) fn with_min_refresh_interval(
        provider: Arc<dyn CredentialsProvider>,
        interval: Duration,
    ) -> Self {
        CredentialsCache {
            provider,
            state: Mutex::default(),
            min_refresh_interval: interval,
        }
    }

    /// The credentials to sign with: cached, or the provider's when none are cached, after
    /// [`invalidate`](Self::invalidate), or when the cached ones expire within
    /// [`REFRESH_MARGIN`]. If that refresh fails but the cached credentials have not expired
    /// (and were not invalidated), they are still used and the failure is logged.
    pub(crate) fn current(&self) -> Result<Arc<Credentials>> {
        let mut state = lock(&self.state);
        if state.closed {
            return Err(Error::new(
                ErrorKind::Cancelled,
                "the connector was freed: its credentials provider is no longer asked",
            ));
        }
        let now = SystemTime::now();
        let due = match &state.credentials {
            None => true,
            Some(_) if state.invalidated => true,
            Some(c) => {
                c.expires_within(REFRESH_MARGIN, now)
                    && state
                        .last_asked
                        .map_or(true, |t| t.elapsed() >= self.min_refresh_interval)
            }
        };
        if !due {
            if let Some(c) = &state.credentials {
                return Ok(Arc::clone(c));
            }
        }
        state.last_asked = Some(Instant::now());
        let fresh = self
            .provider
            .credentials()
            .and_then(|c| c.check("the credentials provider").map(|()| c));
        match fresh {
            Ok(c) => {
                // Warn once per new answer, not on every throttled re-ask of the same one.
                if c.expires_within(REFRESH_MARGIN, now) && state.credentials.as_deref() != Some(&c)
                {
                    log::warn!(
                        "the credentials provider returned {c}, which expires within 5 minutes"
                    );
                }
                let c = Arc::new(c);
                state.credentials = Some(Arc::clone(&c));
                state.invalidated = false;
                Ok(c)
            }
            Err(e) => match &state.credentials {
                Some(old) if !state.invalidated && old.expiration.map_or(true, |x| x > now) => {
                    log::warn!("cannot refresh credentials, still using {old}: {e}");
                    Ok(Arc::clone(old))
                }
                _ => Err(e),
            },
        }
    }

    /// Forgets nothing but marks the cached credentials as rejected by the server
    /// (InvalidAccessKeyId, SecurityTokenExpired, InvalidSecurityToken): the next
    /// [`current`](Self::current) asks the provider again.
    pub(crate) fn invalidate(&self) {
        lock(&self.state).invalidated = true;
    }
}

impl fmt::Debug for CredentialsCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("CredentialsCache");
        match self.state.try_lock() {
            Ok(s) => d
                .field("credentials", &s.credentials)
                .field("invalidated", &s.invalidated),
            Err(_) => d.field("credentials", &"<being refreshed>"),
        };
        d.finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const SECRET: &str = "TestTemporarySecret";
    const TOKEN: &str = "CAISTestSecurityToken/Exa+mple==";

    fn assert_redacted(text: &str) {
        assert!(!text.contains(SECRET), "secret leaked: {text}");
        assert!(!text.contains(TOKEN), "token leaked: {text}");
        assert!(!text.contains("Exa+mple"), "token leaked: {text}");
    }

    fn sts(expiration: Option<SystemTime>) -> Credentials {
        let c = Credentials::new("STS.NTestTemporaryKeyId", SECRET).with_security_token(TOKEN);
        match expiration {
            Some(e) => c.with_expiration(e),
            None => c,
        }
    }

    /// A unique scratch directory, removed on drop.
    struct TempDir(PathBuf);
    impl TempDir {
        fn new(tag: &str) -> TempDir {
            static N: AtomicUsize = AtomicUsize::new(0);
            let p = std::env::temp_dir().join(format!(
                "ossmc-cred-{tag}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Counts calls and returns what `next` holds.
    struct Counting {
        calls: AtomicUsize,
        next: Mutex<Result<Credentials>>,
    }
    impl Counting {
        fn new(c: Credentials) -> Arc<Counting> {
            Arc::new(Counting {
                calls: AtomicUsize::new(0),
                next: Mutex::new(Ok(c)),
            })
        }
        fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }
        fn set(&self, r: Result<Credentials>) {
            *self.next.lock().unwrap() = r;
        }
    }
    impl CredentialsProvider for Counting {
        fn credentials(&self) -> Result<Credentials> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.next.lock().unwrap().clone()
        }
    }

    #[test]
    fn a_closed_cache_never_asks_the_provider_again() {
        let p = Counting::new(sts(None));
        let cache = CredentialsCache::new(p.clone());
        assert!(cache.current().is_ok());
        cache.invalidate();
        cache.close();
        let e = cache.current().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Cancelled);
        assert_eq!(p.calls(), 1);
    }

    #[test]
    fn debug_and_display_redact_secrets() {
        let c = sts(Some(
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_741_959_296),
        ));
        let debug = format!("{c:?}");
        assert_redacted(&debug);
        assert!(debug.contains("STS.NTestTemporaryKeyId") && debug.contains("<redacted>"));
        assert!(debug.contains("2025-03-14T13:34:56Z"), "{debug}");
        assert_eq!(
            c.to_string(),
            "access key STS.NTestTemporaryKeyId with a security token, expiring 2025-03-14T13:34:56Z"
        );
        assert_redacted(&format!("{:?}", StaticProvider::new(c.clone())));
        // Any expiration formats without panicking.
        let far = c
            .clone()
            .with_expiration(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::MAX / 4));
        assert!(far
            .to_string()
            .starts_with("access key STS.NTestTemporaryKeyId"));
        let cb = CallbackProvider::new(Box::new(move || Ok(sts(None))));
        assert_redacted(&format!("{cb:?}"));
        let cache = CredentialsCache::new(Arc::new(cb));
        cache.current().unwrap();
        let debug = format!("{cache:?}");
        assert_redacted(&debug);
        assert!(debug.contains("STS.NTestTemporaryKeyId"), "{debug}");
    }

    #[test]
    fn file_provider_reads_the_seed_format() {
        let dir = TempDir::new("seed");
        let path = dir.0.join("credentials");
        std::fs::write(
            &path,
            format!(
                r#"{{"AccessKeyId": "STS.NTestTemporaryKeyId", "AccessKeySecret": "{SECRET}",
                   "SecurityToken": "{TOKEN}", "Expiration": "2099-03-14T13:34:56Z", "Code": "Success"}}"#
            ),
        )
        .unwrap();
        let p = FileProvider::new(&path);
        let c = p.credentials().unwrap();
        assert_eq!(c.access_key_id, "STS.NTestTemporaryKeyId");
        assert_eq!(c.access_key_secret.expose(), SECRET);
        assert_eq!(c.security_token.as_ref().map(Secret::expose), Some(TOKEN));
        assert_eq!(
            c.expiration.map(rfc3339).as_deref(),
            Some("2099-03-14T13:34:56Z")
        );
        assert_redacted(&format!("{p:?}"));

        // Long-lived keys: no token, no expiration (empty strings count as absent).
        std::fs::write(
            &path,
            r#"{"AccessKeyId": "LTAIabc", "AccessKeySecret": "s3", "SecurityToken": ""}"#,
        )
        .unwrap();
        let c = FileProvider::new(&path).credentials().unwrap();
        assert_eq!((c.security_token, c.expiration), (None, None));
    }

    #[test]
    fn expiration_accepts_rfc3339_forms() {
        let want = SystemTime::UNIX_EPOCH + Duration::from_secs(1_741_959_296);
        assert_eq!(parse_expiration("2025-03-14T13:34:56Z"), Some(want));
        assert_eq!(parse_expiration("2025-03-14T13:34:56.000Z"), Some(want));
        assert_eq!(parse_expiration("2025-03-14T21:34:56+08:00"), Some(want));
        assert_eq!(parse_expiration("2025-03-14 13:34:56"), None);
        assert_eq!(parse_expiration("tomorrow"), None);
    }

    #[test]
    fn file_provider_errors_name_the_problem_not_the_secret() {
        let dir = TempDir::new("errors");
        let path = dir.0.join("credentials");
        let shown = path.display().to_string();
        for (text, want) in [
            (
                format!(r#"{{"AccessKeyId": "", "AccessKeySecret": "{SECRET}"}}"#),
                "AccessKeyId is missing or empty",
            ),
            (
                format!(r#"{{"AccessKeySecret": "{SECRET}", "SecurityToken": "{TOKEN}"}}"#),
                "AccessKeyId is missing or empty",
            ),
            (
                r#"{"AccessKeyId": "LTAIabc"}"#.to_owned(),
                "AccessKeySecret is missing or empty",
            ),
            (
                format!(r#"{{"AccessKeyId": 5, "AccessKeySecret": "{SECRET}"}}"#),
                "AccessKeyId must be a string",
            ),
            (
                format!(
                    r#"{{"AccessKeyId": "a", "AccessKeySecret": "{SECRET}", "Expiration": "soon"}}"#
                ),
                "Expiration \"soon\" is not an RFC 3339 UTC time such as 2025-03-14T13:34:56Z",
            ),
            (
                format!(r#"{{"AccessKeyId": "a" "AccessKeySecret": "{SECRET}"}}"#),
                "invalid JSON at line 1, column 21: expected `,` or `}`",
            ),
            (format!(r#""{SECRET}""#), "the file must hold a JSON object"),
        ] {
            std::fs::write(&path, &text).unwrap();
            let e = FileProvider::new(&path).credentials().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidCredentials, "{text}");
            assert_eq!(
                e.message(),
                format!("credentials file {shown}: {want}"),
                "{text}"
            );
            assert_redacted(&format!("{e:?} {e}"));
        }
        let e = FileProvider::new(dir.0.join("missing"))
            .credentials()
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Io);
        assert!(
            e.message().starts_with("cannot read credentials file"),
            "{}",
            e.message()
        );
    }

    #[test]
    fn file_provider_rereads_on_change_or_near_expiration() {
        let dir = TempDir::new("reread");
        let path = dir.0.join("credentials");
        let write = |id: &str, expiration: &str, mtime: SystemTime| {
            let text = format!(
                r#"{{"AccessKeyId": "{id}", "AccessKeySecret": "{SECRET}", "Expiration": "{expiration}"}}"#
            );
            std::fs::write(&path, text).unwrap();
            std::fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(mtime)
                .unwrap();
        };
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let far = "2099-01-01T00:00:00Z";
        let p = FileProvider::new(&path);

        write("KEY1", far, t0);
        assert_eq!(p.credentials().unwrap().access_key_id, "KEY1");
        // Same length and mtime: the file is not read again.
        write("KEY2", far, t0);
        assert_eq!(p.credentials().unwrap().access_key_id, "KEY1");
        // A new mtime: read again.
        write("KEY2", far, t0 + Duration::from_secs(1));
        assert_eq!(p.credentials().unwrap().access_key_id, "KEY2");

        // Credentials expiring within the margin make every call read the file.
        let soon = rfc3339(SystemTime::now() + Duration::from_secs(60));
        let soon = soon
            .split('.')
            .next()
            .unwrap()
            .trim_end_matches('Z')
            .to_owned()
            + "Z";
        write("KEY3", &soon, t0);
        assert_eq!(p.credentials().unwrap().access_key_id, "KEY3");
        write("KEY4", &soon, t0);
        assert_eq!(p.credentials().unwrap().access_key_id, "KEY4");
    }

    #[test]
    fn env_provider_reads_variables_and_names_missing_ones() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let c = EnvProvider::from_lookup(vars(&[
            ("OSS_ACCESS_KEY_ID", "LTAIabc"),
            ("OSS_ACCESS_KEY_SECRET", SECRET),
            ("OSS_SESSION_TOKEN", TOKEN),
        ]))
        .unwrap();
        assert_eq!(c.access_key_id, "LTAIabc");
        assert_eq!(c.access_key_secret.expose(), SECRET);
        assert_eq!(c.security_token.as_ref().map(Secret::expose), Some(TOKEN));
        let c = EnvProvider::from_lookup(vars(&[
            ("OSS_ACCESS_KEY_ID", "a"),
            ("OSS_ACCESS_KEY_SECRET", "b"),
        ]))
        .unwrap();
        assert_eq!(c.security_token, None);

        let e = EnvProvider::from_lookup(vars(&[
            ("OSS_ACCESS_KEY_ID", "a"),
            ("OSS_ACCESS_KEY_SECRET", ""),
        ]))
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidCredentials);
        assert_eq!(
            e.message(),
            "environment variables OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET must be set \
             (missing or empty: OSS_ACCESS_KEY_SECRET)"
        );
        let e = EnvProvider::from_lookup(vars(&[("OSS_SESSION_TOKEN", TOKEN)])).unwrap_err();
        assert!(e
            .message()
            .ends_with("(missing or empty: OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET)"));
        assert_redacted(&format!("{e:?}"));
    }

    #[test]
    fn cache_asks_once_for_long_lived_credentials_and_again_after_invalidate() {
        let p = Counting::new(sts(None));
        let cache = CredentialsCache::new(p.clone());
        for _ in 0..10 {
            assert_eq!(cache.current().unwrap().access_key_secret.expose(), SECRET);
        }
        assert_eq!(p.calls(), 1);
        p.set(Ok(Credentials::new("KEY2", "s2")));
        cache.invalidate();
        assert_eq!(cache.current().unwrap().access_key_id, "KEY2");
        assert_eq!(cache.current().unwrap().access_key_id, "KEY2");
        assert_eq!(p.calls(), 2);
    }

    #[test]
    fn requests_share_the_cached_credentials_instead_of_copying_the_secret() {
        let p = Counting::new(sts(None));
        let cache = CredentialsCache::new(p.clone());
        let first = cache.current().unwrap();
        let second = cache.current().unwrap();
        assert!(
            Arc::ptr_eq(&first, &second),
            "each request got its own copy"
        );
        assert!(std::ptr::eq(
            first.access_key_secret.expose(),
            second.access_key_secret.expose()
        ));
        // A new answer from the provider is a new shared value.
        cache.invalidate();
        assert!(!Arc::ptr_eq(&first, &cache.current().unwrap()));
    }

    #[test]
    fn dropped_credentials_leave_their_secret_and_token_zeroed() {
        crate::secret::wipe_log::take();
        drop(sts(None));
        assert_eq!(
            crate::secret::wipe_log::take(),
            vec![vec![0u8; SECRET.len()], vec![0u8; TOKEN.len()]]
        );
    }

    #[test]
    fn cache_refreshes_credentials_near_expiration() {
        let p = Counting::new(sts(Some(SystemTime::now() + Duration::from_secs(60))));
        // Interval zero: every call sees expiring credentials and asks again.
        let eager = CredentialsCache::with_min_refresh_interval(p.clone(), Duration::ZERO);
        eager.current().unwrap();
        eager.current().unwrap();
        assert_eq!(p.calls(), 2);
        // Once the provider has fresh ones, they are kept.
        p.set(Ok(sts(Some(SystemTime::now() + Duration::from_secs(3600)))));
        eager.current().unwrap();
        eager.current().unwrap();
        assert_eq!(p.calls(), 3);

        // With a long interval, expiring credentials are not re-asked on every request.
        let p = Counting::new(sts(Some(SystemTime::now() + Duration::from_secs(60))));
        let lazy =
            CredentialsCache::with_min_refresh_interval(p.clone(), Duration::from_secs(3600));
        lazy.current().unwrap();
        lazy.current().unwrap();
        assert_eq!(p.calls(), 1);
    }

    #[test]
    fn cache_falls_back_to_valid_credentials_when_refresh_fails() {
        let p = Counting::new(sts(Some(SystemTime::now() + Duration::from_secs(60))));
        let cache = CredentialsCache::with_min_refresh_interval(p.clone(), Duration::ZERO);
        cache.current().unwrap();
        p.set(Err(Error::new(ErrorKind::Io, "provider down")));
        // Still valid for a minute: used, with a warning.
        assert_eq!(cache.current().unwrap().access_key_secret.expose(), SECRET);
        // Rejected by the server: the error surfaces.
        cache.invalidate();
        assert_eq!(cache.current().unwrap_err().message(), "provider down");
        // Expired ones are never used.
        let p = Counting::new(sts(Some(SystemTime::now() - Duration::from_secs(1))));
        let cache = CredentialsCache::with_min_refresh_interval(p.clone(), Duration::ZERO);
        cache.current().unwrap();
        p.set(Err(Error::new(ErrorKind::Io, "provider down")));
        assert!(cache.current().is_err());
    }

    #[test]
    fn cache_rejects_empty_keys_from_providers() {
        let cache = CredentialsCache::new(Arc::new(CallbackProvider::new(Box::new(|| {
            Ok(Credentials::new("", SECRET))
        }))));
        let e = cache.current().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidCredentials);
        assert_eq!(
            e.message(),
            "the credentials provider: the access key id is empty"
        );
        assert_redacted(&format!("{e:?}"));
    }

    #[test]
    fn cache_is_shared_across_threads_with_one_refresh() {
        let p = Counting::new(sts(None));
        let cache = Arc::new(CredentialsCache::new(p.clone()));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let cache = cache.clone();
                std::thread::spawn(move || {
                    for _ in 0..100 {
                        assert_eq!(
                            cache.current().unwrap().access_key_id,
                            "STS.NTestTemporaryKeyId"
                        );
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(p.calls(), 1);
    }
}
