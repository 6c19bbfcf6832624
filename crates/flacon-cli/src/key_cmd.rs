//! `flacon key generate` and `flacon key check`.

use clap::Subcommand;
use flacon::SecretKey;

use crate::CliError;

#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Print a new random key (64 hex characters, 256 bits).
    Generate,
    /// Exit 1 with the reason if KEY is too weak to sign cookies with.
    Check {
        /// The key to check.
        key: String,
    },
}

pub(crate) fn run(cmd: &KeyCommand) -> Result<(), CliError> {
    match cmd {
        KeyCommand::Generate => {
            let key = SecretKey::generate().map_err(|e| CliError::new("random", e))?;
            println!("{}", String::from_utf8_lossy(key.as_bytes()));
            Ok(())
        }
        KeyCommand::Check { key } => {
            SecretKey::from_text(key)
                .check_strength()
                .map_err(|e| CliError::new("weak-key", e))?;
            println!("ok: the key is strong enough to sign cookies");
            Ok(())
        }
    }
}
