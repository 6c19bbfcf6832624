//! `flacon cookie sign` and `flacon cookie decode`.

use std::io::Read as _;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, Subcommand};
use flacon::codec::{from_tagged_json, is_encrypted, to_tagged_json, CookieCipher, CookieCodec};
use flacon::{KeyMatch, KeyRing, SecretKey};

use crate::CliError;

/// Flask's default `PERMANENT_SESSION_LIFETIME`, which is also its age limit for every cookie.
const FLASK_DEFAULT_MAX_AGE: u64 = 31 * 24 * 3600;

#[derive(Debug, Subcommand)]
pub(crate) enum CookieCommand {
    /// Sign a session read on stdin as Flask's tagged JSON; print the cookie value.
    Sign {
        #[command(flatten)]
        key: KeyArgs,
        /// Signing time in Unix seconds (default: now).
        #[arg(long, value_name = "SECS", allow_negative_numbers = true)]
        timestamp: Option<i64>,
    },
    /// Verify a cookie and print its session as Flask's tagged JSON.
    Decode {
        #[command(flatten)]
        key: OptionalKeyArgs,
        /// An older key still accepted (repeatable).
        #[arg(long = "fallback-key", value_name = "K")]
        fallback_keys: Vec<String>,
        /// An older key given as hex bytes (repeatable).
        #[arg(long = "fallback-key-hex", value_name = "HEX")]
        fallback_keys_hex: Vec<String>,
        /// Reject cookies signed more than SECS ago (Flask's default lifetime, 31 days,
        /// unless given).
        #[arg(long, value_name = "SECS", conflicts_with = "no_max_age")]
        max_age: Option<u64>,
        /// Skip the age check entirely.
        #[arg(long)]
        no_max_age: bool,
        /// The time to check the age against, in Unix seconds (default: now).
        #[arg(long, value_name = "SECS")]
        now: Option<u64>,
        /// Decode without checking the signature (no key needed; never trust the result).
        #[arg(long, conflicts_with_all = ["secret_key", "secret_key_hex"])]
        unverified: bool,
        /// The cookie's name, which an encrypted cookie is bound to.
        #[arg(long, value_name = "NAME", default_value = "session")]
        cookie_name: String,
        /// The cookie value.
        cookie: String,
    },
    /// Try the built-in list of published keys (and a wordlist) against cookies: prints the
    /// key that signed one and exits 1, or how many keys were tried and exits 0.
    Audit {
        /// A wordlist to try as well: one key per line, as text or as a Python string
        /// literal (flask-unsign's format). Repeatable.
        #[arg(long, value_name = "FILE")]
        wordlist: Vec<std::path::PathBuf>,
        /// Only the wordlists, not the built-in list.
        #[arg(long)]
        no_built_in: bool,
        /// The cookie values.
        #[arg(required = true)]
        cookies: Vec<String>,
    },
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct KeyArgs {
    /// The secret key as text (its UTF-8 bytes are used).
    #[arg(long, value_name = "K")]
    secret_key: Option<String>,
    /// The secret key as hex bytes.
    #[arg(long, value_name = "HEX")]
    secret_key_hex: Option<String>,
}

#[derive(Debug, Args)]
#[group(required = false, multiple = false)]
pub(crate) struct OptionalKeyArgs {
    /// The secret key as text (its UTF-8 bytes are used).
    #[arg(long, value_name = "K")]
    secret_key: Option<String>,
    /// The secret key as hex bytes.
    #[arg(long, value_name = "HEX")]
    secret_key_hex: Option<String>,
}

fn parse_key(text: Option<&String>, hex: Option<&String>) -> Result<Option<SecretKey>, CliError> {
    match (text, hex) {
        (Some(text), _) => Ok(Some(SecretKey::from_text(text))),
        (None, Some(hex)) => SecretKey::from_hex(hex)
            .map(Some)
            .map_err(|e| CliError::new("usage", e)),
        (None, None) => Ok(None),
    }
}

/// The key to sign with: Flask refuses to sign without one ("no secret key was set"), and an
/// empty key is none.
fn signing_key(key: &KeyArgs) -> Result<SecretKey, CliError> {
    let key = parse_key(key.secret_key.as_ref(), key.secret_key_hex.as_ref())?
        .ok_or_else(|| CliError::new("usage", "a key is required"))?;
    if key.as_bytes().is_empty() {
        return Err(CliError::new(
            "usage",
            "the key is empty; Flask signs nothing without a secret key",
        ));
    }
    Ok(key)
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub(crate) fn run(cmd: CookieCommand) -> Result<(), CliError> {
    match cmd {
        CookieCommand::Audit {
            wordlist,
            no_built_in,
            cookies,
        } => crate::audit::run(&wordlist, no_built_in, &cookies),
        CookieCommand::Sign { key, timestamp } => {
            let key = signing_key(&key)?;
            let timestamp = match timestamp {
                None => now_unix(),
                Some(secs) => u64::try_from(secs).map_err(|_| {
                    CliError::new(
                        "usage",
                        format!("--timestamp is Unix seconds since 1970, not {secs}"),
                    )
                })?,
            };
            let mut input = String::new();
            std::io::stdin()
                .read_to_string(&mut input)
                .map_err(|e| CliError::new("io", e))?;
            let session =
                from_tagged_json(input.trim()).map_err(|e| CliError::new("bad-input", e))?;
            // A session is a dict: Flask (and flacon) load nothing else, so a cookie of
            // anything else would only ever be rejected.
            if session.as_dict().is_none() {
                return Err(CliError::new(
                    "bad-input",
                    format!(
                        "a session is a JSON object ({{\"key\": value, ...}}); this input is of type {}",
                        session.type_name()
                    ),
                ));
            }
            let codec = CookieCodec::flask(&KeyRing::new(key));
            println!("{}", codec.encode(&session, timestamp));
            Ok(())
        }
        CookieCommand::Decode {
            key,
            fallback_keys,
            fallback_keys_hex,
            max_age,
            no_max_age,
            now,
            unverified,
            cookie_name,
            cookie,
        } => {
            let cookie = cookie.trim();
            let current = parse_key(key.secret_key.as_ref(), key.secret_key_hex.as_ref())?;
            let Some(current) = current else {
                if is_encrypted(cookie) {
                    return Err(CliError::new(
                        "encrypted",
                        "this cookie is encrypted (flacon's e1 format): nothing in it can be read without the key; give --secret-key",
                    ));
                }
                if !unverified {
                    return Err(CliError::new(
                        "usage",
                        "give --secret-key, --secret-key-hex or --unverified",
                    ));
                }
                eprintln!("warning: --unverified: the signature and age were NOT checked");
                let codec = CookieCodec::flask(&KeyRing::new(SecretKey::from_text("")));
                let value = codec
                    .decode_unverified(cookie)
                    .map_err(|e| CliError::new(e.kind(), e))?;
                println!("{}", to_tagged_json(&value));
                return Ok(());
            };
            let mut ring = KeyRing::new(current);
            for text in &fallback_keys {
                ring = ring.with_fallback(SecretKey::from_text(text));
            }
            for hex in &fallback_keys_hex {
                let key = SecretKey::from_hex(hex).map_err(|e| CliError::new("usage", e))?;
                ring = ring.with_fallback(key);
            }
            let max_age = if no_max_age {
                None
            } else {
                Some(max_age.unwrap_or(FLASK_DEFAULT_MAX_AGE))
            };
            let now = now.unwrap_or_else(now_unix);
            let decoded = if is_encrypted(cookie) {
                CookieCipher::new(&ring, &cookie_name).decrypt(cookie, max_age, now)
            } else {
                CookieCodec::flask(&ring).decode(cookie, max_age, now)
            }
            .map_err(|e| CliError::new(e.kind(), e))?;
            if let KeyMatch::Fallback(index) = decoded.key {
                eprintln!(
                    "note: signed with fallback key #{}; re-sign it with the current key",
                    index + 1
                );
            }
            println!("{}", to_tagged_json(&decoded.value));
            Ok(())
        }
    }
}
