//! AWS credentials for connectors that speak the S3 API: the environment variables
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, optional `AWS_SESSION_TOKEN`), else the
//! shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`, default `~/.aws/credentials`) at
//! profile `AWS_PROFILE` (default `default`), in the order botocore and the AWS CLI use.
//!
//! The file is INI as botocore reads it with Python's `configparser`: `[profile]` headers,
//! `key = value` or `key: value` lines (keys compared without regard to case), whole-line
//! comments starting with `#` or `;`, and indented lines continuing the previous value
//! (nested settings such as `s3 =` blocks, which credentials do not use). Errors name the
//! file, line and column, and never quote a line: lines hold secrets.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::credentials::{Credentials, CredentialsProvider};
use crate::error::{Error, ErrorKind, Result};
use crate::secret::Secret;

/// The access key id variable.
pub const ENV_AWS_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
/// The secret access key variable.
pub const ENV_AWS_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
/// The optional session token variable.
pub const ENV_AWS_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";
/// Where the shared credentials file is, if not `~/.aws/credentials`.
pub const ENV_AWS_SHARED_CREDENTIALS_FILE: &str = "AWS_SHARED_CREDENTIALS_FILE";
/// The profile to read from the shared credentials file, if not `default`.
pub const ENV_AWS_PROFILE: &str = "AWS_PROFILE";

/// The default credentials of an S3 connector: the AWS environment variables, else the
/// shared credentials file's profile. Both are read again each time it is asked (after the
/// server rejected the credentials, say), so a rotated file is picked up.
#[derive(Debug, Default)]
pub struct AwsProvider {
    _private: (),
}

impl AwsProvider {
    /// A provider reading the process environment and the shared credentials file.
    pub fn new() -> AwsProvider {
        AwsProvider::default()
    }

    /// The credentials `lookup` (variable name → value) points to; `home` is the home
    /// directory for `~`.
    fn resolve(
        lookup: impl Fn(&str) -> Option<String>,
        home: Option<PathBuf>,
    ) -> Result<Credentials> {
        let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
        match (get(ENV_AWS_ACCESS_KEY_ID), get(ENV_AWS_SECRET_ACCESS_KEY)) {
            (Some(id), Some(secret)) => {
                return Ok(Credentials {
                    access_key_id: id,
                    access_key_secret: secret.into(),
                    security_token: get(ENV_AWS_SESSION_TOKEN).map(Secret::from),
                    expiration: None,
                })
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(Error::new(
                    ErrorKind::InvalidCredentials,
                    format!(
                        "environment variables {ENV_AWS_ACCESS_KEY_ID} and \
                         {ENV_AWS_SECRET_ACCESS_KEY} must both be set, or neither (to use the \
                         shared credentials file)"
                    ),
                ))
            }
            (None, None) => {}
        }
        let path = match get(ENV_AWS_SHARED_CREDENTIALS_FILE) {
            Some(p) => expand_home(&p, home.as_deref()),
            None => match &home {
                Some(h) => h.join(".aws").join("credentials"),
                None => {
                    return Err(Error::new(
                        ErrorKind::InvalidCredentials,
                        format!(
                            "no S3 credentials: {ENV_AWS_ACCESS_KEY_ID} is not set, and without \
                             HOME there is no ~/.aws/credentials (set \
                             {ENV_AWS_SHARED_CREDENTIALS_FILE})"
                        ),
                    ))
                }
            },
        };
        let profile = get(ENV_AWS_PROFILE).unwrap_or_else(|| "default".to_owned());
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => Zeroizing::new(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::new(
                    ErrorKind::InvalidCredentials,
                    format!(
                        "no S3 credentials: {ENV_AWS_ACCESS_KEY_ID} and \
                         {ENV_AWS_SECRET_ACCESS_KEY} are not set, and there is no shared \
                         credentials file {}",
                        path.display()
                    ),
                )
                .with_source(e))
            }
            Err(e) => {
                return Err(Error::new(
                    ErrorKind::Io,
                    format!("cannot read credentials file {}: {e}", path.display()),
                )
                .with_source(e))
            }
        };
        parse_shared_credentials(&text, &path, &profile)
    }
}

impl CredentialsProvider for AwsProvider {
    fn credentials(&self) -> Result<Credentials> {
        AwsProvider::resolve(
            |name| std::env::var(name).ok(),
            std::env::var_os("HOME").map(PathBuf::from),
        )
    }
}

/// `~` or `~/rest` against `home`; anything else as it is.
fn expand_home(p: &str, home: Option<&Path>) -> PathBuf {
    match (p.strip_prefix('~'), home) {
        (Some(""), Some(h)) => h.to_path_buf(),
        (Some(rest), Some(h)) if rest.starts_with('/') => h.join(&rest[1..]),
        _ => PathBuf::from(p),
    }
}

/// One `key = value` of a section, with where it was.
struct Entry {
    key: String,
    value: Zeroizing<String>,
}

/// Parses a shared credentials file and returns `profile`'s credentials
/// (`aws_access_key_id`, `aws_secret_access_key`, optional `aws_session_token`).
pub(crate) fn parse_shared_credentials(
    text: &str,
    path: &Path,
    profile: &str,
) -> Result<Credentials> {
    let at = |line: usize, col: usize, why: &str| {
        Error::new(
            ErrorKind::InvalidCredentials,
            format!("credentials file {}:{line}:{col}: {why}", path.display()),
        )
    };
    // The wanted profile's entries and the line of its header.
    let mut found: Option<(usize, Vec<Entry>)> = None;
    let mut current: Option<String> = None;
    let mut last_was_entry = false;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim_end();
        let body = line.trim_start();
        let indent = line.len() - body.len();
        if body.is_empty() || body.starts_with('#') || body.starts_with(';') {
            continue;
        }
        if indent > 0 && last_was_entry {
            // Continues the previous value (a nested block): credentials never use it.
            continue;
        }
        if let Some(rest) = body.strip_prefix('[') {
            let Some(end) = rest.find(']') else {
                return Err(at(n, indent + 1, "a section header lacks its closing ]"));
            };
            let after = &rest[end + 1..];
            if !after.trim().is_empty() {
                let spaces = after.len() - after.trim_start().len();
                return Err(at(
                    n,
                    indent + end + 3 + spaces,
                    "unexpected text after a section header",
                ));
            }
            let name = rest[..end].trim().to_owned();
            if name.is_empty() {
                return Err(at(n, indent + 2, "the section name is empty"));
            }
            if name == profile && found.is_none() {
                found = Some((n, Vec::new()));
            }
            current = Some(name);
            last_was_entry = false;
            continue;
        }
        let Some(sep) = body.find(['=', ':']) else {
            return Err(at(
                n,
                indent + 1,
                "expected `key = value`, a [profile] header or a comment",
            ));
        };
        let key = body[..sep].trim();
        if key.is_empty() {
            return Err(at(n, indent + 1, "a value has no key"));
        }
        let Some(section) = &current else {
            return Err(at(n, indent + 1, "a value before any [profile] header"));
        };
        last_was_entry = true;
        if section == profile {
            if let Some((_, entries)) = &mut found {
                entries.push(Entry {
                    key: key.to_ascii_lowercase(),
                    value: Zeroizing::new(body[sep + 1..].trim().to_owned()),
                });
            }
        }
    }
    let Some((header_line, entries)) = found else {
        return Err(Error::new(
            ErrorKind::InvalidCredentials,
            format!(
                "credentials file {} has no [{profile}] profile",
                path.display()
            ),
        ));
    };
    // The last of a repeated key wins, as in configparser's non-strict reading.
    let get = |k: &str| {
        entries
            .iter()
            .rev()
            .find(|e| e.key == k)
            .map(|e| e.value.as_str())
            .filter(|v| !v.is_empty())
    };
    let missing = |k: &str| {
        Error::new(
            ErrorKind::InvalidCredentials,
            format!(
                "credentials file {}: profile [{profile}] (line {header_line}) has no {k}",
                path.display()
            ),
        )
    };
    let id = get("aws_access_key_id").ok_or_else(|| missing("aws_access_key_id"))?;
    let secret = get("aws_secret_access_key").ok_or_else(|| missing("aws_secret_access_key"))?;
    Ok(Credentials {
        access_key_id: id.to_owned(),
        access_key_secret: secret.into(),
        security_token: get("aws_session_token").map(Secret::from),
        expiration: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const FILE: &str = "\
# comment
; another
[default]
aws_access_key_id = AKIDDEFAULT
aws_secret_access_key = s3cr3t/default+==

[dev]
AWS_ACCESS_KEY_ID: AKIDDEV
aws_secret_access_key=devsecret
aws_session_token = tok/en==
s3 =
    addressing_style = path
region = us-west-2
";

    fn parse(text: &str, profile: &str) -> Result<Credentials> {
        parse_shared_credentials(text, Path::new("/h/.aws/credentials"), profile)
    }

    #[test]
    fn profiles_are_read_like_botocore() {
        let c = parse(FILE, "default").unwrap();
        assert_eq!(c.access_key_id, "AKIDDEFAULT");
        assert_eq!(c.access_key_secret.expose(), "s3cr3t/default+==");
        assert!(c.security_token.is_none());
        let c = parse(FILE, "dev").unwrap();
        assert_eq!(c.access_key_id, "AKIDDEV");
        assert_eq!(c.access_key_secret.expose(), "devsecret");
        assert_eq!(c.security_token.as_ref().unwrap().expose(), "tok/en==");
    }

    #[test]
    fn errors_name_file_line_and_column_never_the_secret() {
        let cases = [
            (
                "[default]\naws_access_key_id = A\n  [broken\n",
                // An indented line after a value continues it; this one follows a header.
                None,
            ),
            (
                "[default\naws_secret_access_key = SECRETVALUE\n",
                Some("credentials file /h/.aws/credentials:1:1: a section header lacks its closing ]"),
            ),
            (
                "aws_secret_access_key = SECRETVALUE\n",
                Some("credentials file /h/.aws/credentials:1:1: a value before any [profile] header"),
            ),
            (
                "[default]\n  SECRETVALUE\n",
                Some("credentials file /h/.aws/credentials:2:3: expected `key = value`, a [profile] header or a comment"),
            ),
            (
                "[default]\n= SECRETVALUE\n",
                Some("credentials file /h/.aws/credentials:2:1: a value has no key"),
            ),
            (
                "[default] x\n",
                Some("credentials file /h/.aws/credentials:1:11: unexpected text after a section header"),
            ),
        ];
        for (text, want) in cases {
            let got = parse(text, "default");
            match want {
                None => assert!(got.is_err()),
                Some(w) => {
                    let e = got.unwrap_err();
                    assert_eq!(e.kind(), ErrorKind::InvalidCredentials);
                    assert_eq!(e.message(), w);
                    assert!(!e.to_string().contains("SECRETVALUE"));
                }
            }
        }
        let e = parse(FILE, "prod").unwrap_err();
        assert_eq!(
            e.message(),
            "credentials file /h/.aws/credentials has no [prod] profile"
        );
        let e = parse("[default]\naws_access_key_id = A\n", "default").unwrap_err();
        assert_eq!(
            e.message(),
            "credentials file /h/.aws/credentials: profile [default] (line 1) has no \
             aws_secret_access_key"
        );
    }

    #[test]
    fn environment_first_then_the_profile_of_the_shared_file() {
        let dir = std::env::temp_dir().join(format!("ossmc-aws-cred-{}", std::process::id()));
        std::fs::create_dir_all(dir.join(".aws")).unwrap();
        std::fs::write(dir.join(".aws/credentials"), FILE).unwrap();
        std::fs::write(
            dir.join("other"),
            "[default]\naws_access_key_id=O\naws_secret_access_key=o\n",
        )
        .unwrap();
        let run = |vars: &[(&str, &str)]| {
            let vars: HashMap<String, String> = vars
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
            AwsProvider::resolve(|n| vars.get(n).cloned(), Some(dir.clone()))
        };
        let c = run(&[
            ("AWS_ACCESS_KEY_ID", "ENV"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_PROFILE", "dev"),
        ])
        .unwrap();
        assert_eq!(c.access_key_id, "ENV");
        assert_eq!(run(&[]).unwrap().access_key_id, "AKIDDEFAULT");
        assert_eq!(
            run(&[("AWS_PROFILE", "dev")]).unwrap().access_key_id,
            "AKIDDEV"
        );
        assert_eq!(
            run(&[("AWS_SHARED_CREDENTIALS_FILE", "~/other")])
                .unwrap()
                .access_key_id,
            "O"
        );
        let e = run(&[("AWS_ACCESS_KEY_ID", "ENV")]).unwrap_err();
        assert!(e.message().contains("must both be set"), "{e}");
        let e = run(&[("AWS_SHARED_CREDENTIALS_FILE", "~/missing")]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidCredentials);
        assert!(
            e.message().contains("there is no shared credentials file"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
