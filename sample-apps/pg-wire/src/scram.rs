//! The client side of SCRAM-SHA-256 (RFC 5802 with the SHA-256 hash of
//! RFC 7677), without channel binding.
//!
//! The exchange is a small state machine: [`ClientFirst`] produces the first
//! message, takes the server's first message and becomes [`ClientFinal`],
//! which produces the proof and checks the server's signature. A correct
//! signature proves that the server has the password's verifier too, so a
//! server that merely accepts any login is detected.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

type HmacSha256 = Hmac<Sha256>;

/// The SASL mechanism name.
pub const MECHANISM: &str = "SCRAM-SHA-256";

/// The largest iteration count accepted from a server. PostgreSQL uses 4096
/// unless `scram_iterations` (PostgreSQL 16 and later) raises it; the cap keeps
/// a hostile server from making the client hash for minutes.
pub const MAX_ITERATIONS: u32 = 1_000_000;

/// The GS2 header for a client that does not support channel binding.
const GS2_HEADER: &str = "n,,";

/// A failed SCRAM exchange. No variant carries the password or a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScramError {
    /// The server's message does not follow the SCRAM syntax. The text names
    /// the part.
    Malformed(String),
    /// The server's nonce does not extend the client's nonce.
    NonceMismatch,
    /// The server asked for more than [`MAX_ITERATIONS`] iterations.
    TooManyIterations(u64),
    /// The server ended the exchange with `e=VALUE`.
    ServerError(String),
    /// The server's signature is wrong, so it does not have the password's
    /// verifier.
    BadServerSignature,
    /// The server reported a successful login without sending its
    /// signature, so it never proved that it has the password's verifier.
    MissingServerSignature,
}

impl fmt::Display for ScramError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(what) => write!(formatter, "invalid SCRAM message from the server: {what}"),
            Self::NonceMismatch => formatter.write_str("the server's SCRAM nonce does not start with the client's nonce"),
            Self::TooManyIterations(count) => write!(
                formatter,
                "the server asks for {count} SCRAM iterations, more than the maximum of {MAX_ITERATIONS}"
            ),
            Self::ServerError(value) => write!(formatter, "the server ended the SCRAM exchange with error `{value}`"),
            Self::BadServerSignature => formatter.write_str(
                "the server's SCRAM signature is wrong, so it does not know this password; it may not be the intended server",
            ),
            Self::MissingServerSignature => formatter.write_str(
                "the server accepted the login without sending its SCRAM signature, so it never proved that it knows this password; it may not be the intended server",
            ),
        }
    }
}

impl std::error::Error for ScramError {}

/// The client before the server's first message.
pub struct ClientFirst {
    password: Vec<u8>,
    client_first_bare: String,
    client_nonce: String,
}

/// The client after the server's first message, ready to send its proof.
pub struct ClientFinal {
    message: String,
    expected_server_signature: [u8; 32],
}

impl Drop for ClientFirst {
    fn drop(&mut self) {
        self.password.zeroize();
    }
}

impl Drop for ClientFinal {
    fn drop(&mut self) {
        self.expected_server_signature.zeroize();
    }
}

/// Returns a fresh client nonce: 18 random bytes in base64, as libpq sends.
///
/// # Errors
///
/// Returns the error of the system's random number generator.
pub fn random_nonce() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 18];
    getrandom::fill(&mut bytes)?;
    Ok(BASE64.encode(bytes))
}

impl ClientFirst {
    /// Starts an exchange for `username` and `password` with `client_nonce`,
    /// which must be printable ASCII without commas (such as
    /// [`random_nonce`]'s output).
    ///
    /// PostgreSQL takes the user from the startup message and ignores the
    /// SCRAM user name, so its clients pass an empty `username`.
    ///
    /// NOTE: the password is used as its UTF-8 bytes without SASLprep
    /// (RFC 4013). That matches PostgreSQL for every ASCII password. A
    /// non-ASCII password matches only when SASLprep would leave it
    /// unchanged, as it does for NFKC-normalised text without non-ASCII
    /// spaces.
    pub fn new(username: &str, password: &str, client_nonce: &str) -> Self {
        let client_first_bare = format!("n={},r={client_nonce}", escape_sasl_name(username));
        Self {
            password: password.as_bytes().to_vec(),
            client_first_bare,
            client_nonce: client_nonce.to_owned(),
        }
    }

    /// Returns the client's first message, GS2 header included.
    pub fn message(&self) -> String {
        format!("{GS2_HEADER}{}", self.client_first_bare)
    }

    /// Takes the server's first message and computes the client's proof.
    ///
    /// # Errors
    ///
    /// Returns [`ScramError::Malformed`] when the message lacks the nonce,
    /// salt or iteration count or has a mandatory extension,
    /// [`ScramError::NonceMismatch`] when the nonce does not extend the
    /// client's, and [`ScramError::TooManyIterations`] above
    /// [`MAX_ITERATIONS`].
    pub fn server_first(self, server_first: &str) -> Result<ClientFinal, ScramError> {
        let attributes = ServerFirst::parse(server_first)?;
        if attributes.nonce.len() <= self.client_nonce.len() || !attributes.nonce.starts_with(&self.client_nonce) {
            return Err(ScramError::NonceMismatch);
        }

        let mut salted_password = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(&self.password, &attributes.salt, attributes.iterations, &mut salted_password);
        let mut client_key = hmac(&salted_password, b"Client Key");
        let mut stored_key: [u8; 32] = Sha256::digest(client_key).into();
        let mut server_key = hmac(&salted_password, b"Server Key");
        salted_password.zeroize();

        let channel_binding = BASE64.encode(GS2_HEADER);
        let without_proof = format!("c={channel_binding},r={}", attributes.nonce);
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);

        let client_signature = hmac(&stored_key, auth_message.as_bytes());
        let mut proof = [0u8; 32];
        for (index, byte) in proof.iter_mut().enumerate() {
            *byte = client_key[index] ^ client_signature[index];
        }
        let expected_server_signature = hmac(&server_key, auth_message.as_bytes());
        client_key.zeroize();
        stored_key.zeroize();
        server_key.zeroize();

        Ok(ClientFinal {
            message: format!("{without_proof},p={}", BASE64.encode(proof)),
            expected_server_signature,
        })
    }
}

impl ClientFinal {
    /// Returns the client's final message, which carries the proof.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Checks the server's final message.
    ///
    /// # Errors
    ///
    /// Returns [`ScramError::ServerError`] for `e=VALUE`,
    /// [`ScramError::BadServerSignature`] when the signature differs from the
    /// expected one, and [`ScramError::Malformed`] for anything else.
    pub fn verify_server_final(&self, server_final: &str) -> Result<(), ScramError> {
        let first = server_final.split(',').next().unwrap_or_default();
        if let Some(value) = first.strip_prefix("e=") {
            return Err(ScramError::ServerError(shorten(value)));
        }
        let Some(encoded) = first.strip_prefix("v=") else {
            return Err(ScramError::Malformed("the final message has no `v=` signature".to_owned()));
        };
        let signature = BASE64
            .decode(encoded)
            .map_err(|_| ScramError::Malformed("the server signature is not valid base64".to_owned()))?;
        if constant_time_eq(&signature, &self.expected_server_signature) {
            Ok(())
        } else {
            Err(ScramError::BadServerSignature)
        }
    }
}

/// The attributes of the server's first message.
struct ServerFirst {
    nonce: String,
    salt: Vec<u8>,
    iterations: u32,
}

impl ServerFirst {
    /// Parses `r=NONCE,s=SALT,i=COUNT[,extensions]`.
    fn parse(message: &str) -> Result<Self, ScramError> {
        let mut parts = message.split(',');
        let mut next = |key: &str| {
            let part = parts.next().unwrap_or_default();
            if part.starts_with("m=") {
                return Err(ScramError::Malformed("the server requires an unsupported extension (`m=`)".to_owned()));
            }
            part.strip_prefix(key)
                .ok_or_else(|| ScramError::Malformed(format!("expected `{key}` in the first message")))
        };
        let nonce = next("r=")?;
        let salt = next("s=")?;
        let iterations = next("i=")?;

        if nonce.is_empty() || !nonce.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err(ScramError::Malformed("the nonce is empty or not printable ASCII".to_owned()));
        }
        let salt = BASE64
            .decode(salt)
            .map_err(|_| ScramError::Malformed("the salt is not valid base64".to_owned()))?;
        if salt.is_empty() {
            return Err(ScramError::Malformed("the salt is empty".to_owned()));
        }
        let iterations = parse_iterations(iterations)?;
        Ok(Self {
            nonce: nonce.to_owned(),
            salt,
            iterations,
        })
    }
}

fn parse_iterations(text: &str) -> Result<u32, ScramError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ScramError::Malformed(format!("the iteration count `{}` is not a number", shorten(text))));
    }
    let count = text.parse::<u64>().unwrap_or(u64::MAX);
    if count == 0 {
        return Err(ScramError::Malformed("the iteration count is 0".to_owned()));
    }
    if count > u64::from(MAX_ITERATIONS) {
        return Err(ScramError::TooManyIterations(count));
    }
    Ok(count as u32)
}

fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Compares without stopping at the first difference, so the time taken does
/// not reveal how much of a forged signature was right.
fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len() && left.iter().zip(right).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// Escapes `=` and `,` in a SCRAM user name (RFC 5802, section 5.1).
fn escape_sasl_name(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

/// Keeps at most 100 characters of server text and replaces control
/// characters, so a hostile server cannot flood or restyle the terminal.
fn shorten(text: &str) -> String {
    crate::printable(&text.chars().take(100).collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;

    // The SCRAM-SHA-256 example exchange of RFC 7677, section 3.
    const CLIENT_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
    const SERVER_FIRST: &str =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    fn rfc_client() -> ClientFirst {
        ClientFirst::new("user", "pencil", CLIENT_NONCE)
    }

    #[test]
    fn rfc7677_client_first_message() {
        assert_eq!(rfc_client().message(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
    }

    #[test]
    fn rfc7677_client_final_message() {
        let client = rfc_client().server_first(SERVER_FIRST).unwrap();
        assert_eq!(client.message(), CLIENT_FINAL);
    }

    #[test]
    fn rfc7677_server_signature_verifies() {
        let client = rfc_client().server_first(SERVER_FIRST).unwrap();
        assert_eq!(client.verify_server_final(SERVER_FINAL), Ok(()));
    }

    #[test]
    fn wrong_server_signature_is_rejected() {
        let client = rfc_client().server_first(SERVER_FIRST).unwrap();
        let forged = "v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        assert_eq!(client.verify_server_final(forged), Err(ScramError::BadServerSignature));
        let short = "v=AAAA";
        assert_eq!(client.verify_server_final(short), Err(ScramError::BadServerSignature));
    }

    #[test]
    fn wrong_password_changes_proof() {
        let client = ClientFirst::new("user", "pencils", CLIENT_NONCE).server_first(SERVER_FIRST).unwrap();
        assert_ne!(client.message(), CLIENT_FINAL);
        assert_eq!(client.verify_server_final(SERVER_FINAL), Err(ScramError::BadServerSignature));
    }

    #[test]
    fn server_error_is_reported() {
        let client = rfc_client().server_first(SERVER_FIRST).unwrap();
        assert_eq!(
            client.verify_server_final("e=invalid-proof"),
            Err(ScramError::ServerError("invalid-proof".to_owned()))
        );
    }

    #[test]
    fn final_message_without_signature_is_rejected() {
        let client = rfc_client().server_first(SERVER_FIRST).unwrap();
        for message in ["", "x=1", "v=!!!"] {
            assert!(
                matches!(client.verify_server_final(message), Err(ScramError::Malformed(_))),
                "{message:?} was accepted"
            );
        }
    }

    #[test]
    fn nonce_not_extending_client_nonce_is_rejected() {
        for nonce in ["rOprNGfwEbeRWgbNEkqO", "XXprNGfwEbeRWgbNEkqO123", "abc"] {
            let message = format!("r={nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
            assert_eq!(
                rfc_client().server_first(&message).err(),
                Some(ScramError::NonceMismatch),
                "{message}"
            );
        }
    }

    #[test]
    fn malformed_server_first_is_rejected() {
        let nonce = "rOprNGfwEbeRWgbNEkqOabc";
        let cases = [
            String::new(),
            format!("s=W22ZaJ0SNY7soEsUEjb6gQ==,r={nonce},i=4096"),
            format!("r={nonce},s=***,i=4096"),
            format!("r={nonce},s=,i=4096"),
            format!("r={nonce},s=W22ZaJ0SNY7soEsUEjb6gQ=="),
            format!("r={nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0"),
            format!("r={nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=-1"),
            format!("r={nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4k"),
            format!("m=ext,r={nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"),
        ];
        for message in cases {
            assert!(
                matches!(rfc_client().server_first(&message), Err(ScramError::Malformed(_))),
                "{message:?} was accepted"
            );
        }
    }

    #[test]
    fn excessive_iterations_are_rejected() {
        let message = "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999999999999";
        assert_eq!(
            rfc_client().server_first(message).err(),
            Some(ScramError::TooManyIterations(u64::MAX))
        );
        let message = "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1000001";
        assert_eq!(
            rfc_client().server_first(message).err(),
            Some(ScramError::TooManyIterations(1_000_001))
        );
    }

    #[test]
    fn extensions_after_iterations_are_ignored() {
        let message = format!("{SERVER_FIRST},x=extension");
        assert!(rfc_client().server_first(&message).is_ok());
    }

    #[test]
    fn user_name_is_escaped() {
        let client = ClientFirst::new("a=b,c", "pw", "nonce");
        assert_eq!(client.message(), "n,,n=a=3Db=2Cc,r=nonce");
    }

    #[test]
    fn random_nonces_differ_and_are_printable() {
        let first = random_nonce().unwrap();
        let second = random_nonce().unwrap();
        assert_ne!(first, second);
        assert_eq!(first.len(), 24);
        assert!(first.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b','), "{first}");
    }
}
