//! The relayer's signing key: a hex private key (`private_key`, `FAIRTRAIN_PRIVATE_KEY`), or an
//! encrypted JSON keystore (`keystore`, `FAIRTRAIN_KEYSTORE`, `--keystore`; the format foundry's
//! `cast wallet import` and geth write) that the relayer decrypts itself with alloy's
//! `LocalSigner::decrypt_keystore`, so the plaintext key never travels through another
//! process's environment or arguments.
//!
//! The keystore's password comes, as with foundry's `--password-file` and its prompt, from the
//! first of: a password file (`keystore_password_file`, `FAIRTRAIN_KEYSTORE_PASSWORD_FILE`,
//! `--keystore-password-file`; trailing whitespace and newlines trimmed, as foundry does),
//! the `FAIRTRAIN_KEYSTORE_PASSWORD` variable, or a prompt when standard input is a terminal.

use std::{
    io::IsTerminal,
    path::{Path, PathBuf},
};

use alloy::signers::local::{LocalSignerError, PrivateKeySigner};

/// The variable holding a keystore password.
pub const PASSWORD_VAR: &str = "FAIRTRAIN_KEYSTORE_PASSWORD";

/// Why the relayer's key cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Both a private key and a keystore were given.
    #[error("give the relayer's key either as private_key or as a keystore, not both")]
    Both,
    /// `private_key` is not a hex secp256k1 key.
    #[error("private_key is not a valid key")]
    InvalidKey,
    /// The password file cannot be read.
    #[error("cannot read the keystore password file {path}: {source}")]
    PasswordFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// No password source, and no terminal to ask on.
    #[error(
        "the keystore {path} needs its password: give keystore_password_file \
         (--keystore-password-file, FAIRTRAIN_KEYSTORE_PASSWORD_FILE) or FAIRTRAIN_KEYSTORE_PASSWORD, \
         or start the relayer on a terminal to be asked"
    )]
    NoPassword {
        /// The keystore.
        path: PathBuf,
    },
    /// Reading the password from the terminal failed.
    #[error("cannot read the keystore password from the terminal: {0}")]
    Prompt(std::io::Error),
    /// The password does not open the keystore (its MAC does not match).
    #[error("wrong password for the keystore {path}")]
    WrongPassword {
        /// The keystore.
        path: PathBuf,
    },
    /// The keystore cannot be read or decrypted for another reason.
    #[error("cannot decrypt the keystore {path}: {source}")]
    Keystore {
        /// The keystore.
        path: PathBuf,
        /// The cause.
        source: LocalSignerError,
    },
}

/// Where the password of a keystore comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Password {
    /// A file holding it.
    File(PathBuf),
    /// Given directly (from `FAIRTRAIN_KEYSTORE_PASSWORD`).
    Given(String),
    /// Asked for on the terminal, if standard input is one.
    Prompt,
}

impl Password {
    /// The configured source: the password file if any, else [`PASSWORD_VAR`] if set, else a
    /// prompt.
    pub fn from_env(file: Option<&Path>) -> Self {
        match (file, std::env::var(PASSWORD_VAR)) {
            (Some(file), _) => Self::File(file.to_owned()),
            (None, Ok(password)) => Self::Given(password),
            (None, Err(_)) => Self::Prompt,
        }
    }

    fn read(&self, keystore: &Path) -> Result<String, KeyError> {
        match self {
            Self::File(path) => std::fs::read_to_string(path)
                .map(|p| p.trim_end().to_owned())
                .map_err(|source| KeyError::PasswordFile {
                    path: path.clone(),
                    source,
                }),
            Self::Given(password) => Ok(password.clone()),
            Self::Prompt if std::io::stdin().is_terminal() => rpassword::prompt_password(format!(
                "password of the keystore {}: ",
                keystore.display()
            ))
            .map_err(KeyError::Prompt),
            Self::Prompt => Err(KeyError::NoPassword {
                path: keystore.to_owned(),
            }),
        }
    }
}

/// Decrypts the keystore at `path` with the password from `password`.
///
/// # Errors
///
/// [`KeyError::WrongPassword`] when the password does not open it, [`KeyError::Keystore`] when
/// it cannot be read or is not a keystore, and the password source's errors.
pub fn decrypt(path: &Path, password: &Password) -> Result<PrivateKeySigner, KeyError> {
    let secret = password.read(path)?;
    PrivateKeySigner::decrypt_keystore(path, secret).map_err(|source| match source {
        LocalSignerError::EthKeystoreError(eth_keystore::KeystoreError::MacMismatch) => {
            KeyError::WrongPassword {
                path: path.to_owned(),
            }
        }
        source => KeyError::Keystore {
            path: path.to_owned(),
            source,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A keystore of anvil's account 3 (the relayer of the integration tests) with the
    /// password "relayer-test", written by foundry's
    /// `cast wallet import` (scrypt n = 2^13).
    const KEYSTORE: &str = include_str!("../tests/fixtures/keystore.json");
    const ADDRESS: &str = "0x90F79bf6EB2c4f870365E785982E1f101E93b906";

    fn keystore() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relayer");
        std::fs::write(&path, KEYSTORE).unwrap();
        (dir, path)
    }

    #[test]
    fn the_right_password_opens_the_keystore() {
        let (dir, path) = keystore();
        let signer = decrypt(&path, &Password::Given("relayer-test".into())).unwrap();
        assert_eq!(signer.address().to_string(), ADDRESS);
        // From a file, with the newline an editor or `echo` adds.
        let file = dir.path().join("password");
        std::fs::write(&file, "relayer-test\n").unwrap();
        let signer = decrypt(&path, &Password::File(file)).unwrap();
        assert_eq!(signer.address().to_string(), ADDRESS);
    }

    #[test]
    fn a_wrong_password_is_refused_clearly() {
        let (dir, path) = keystore();
        let err = decrypt(&path, &Password::Given("not-the-password".into())).unwrap_err();
        assert!(matches!(err, KeyError::WrongPassword { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!("wrong password for the keystore {}", path.display())
        );
        let err = decrypt(&path, &Password::File(dir.path().join("missing"))).unwrap_err();
        assert!(matches!(err, KeyError::PasswordFile { .. }), "{err:?}");
        let err = decrypt(
            &dir.path().join("no-keystore"),
            &Password::Given("relayer-test".into()),
        )
        .unwrap_err();
        assert!(matches!(err, KeyError::Keystore { .. }), "{err:?}");
    }
}
