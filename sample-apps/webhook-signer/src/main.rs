//! Signs a webhook payload with HMAC-SHA256 under the `webhook.default`
//! signing key and prints the signature header value, `sha256=<hex>`, in the
//! form GitHub's `X-Hub-Signature-256` header and many webhook receivers use.
//!
//! Usage: `lahat run sample-apps/webhook-signer -- PAYLOAD`

wit_bindgen::generate!({
    path: "../../wit",
    world: "lahat:vault/app",
});

use hmac::{Hmac, Mac};
use lahat::vault::credentials::{Error, get_credential};
use sha2::Sha256;

const KEY_NAME: &str = "webhook.default";

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(payload), None) = (args.next(), args.next()) else {
        eprintln!("webhook-signer: expected one argument, the payload to sign");
        std::process::exit(2);
    };
    let key = match get_credential(KEY_NAME) {
        Ok(key) => key,
        Err(err) => {
            eprintln!("webhook-signer: cannot read {KEY_NAME}: {}", describe(&err));
            std::process::exit(1);
        }
    };
    let mut mac = match Hmac::<Sha256>::new_from_slice(key.as_bytes()) {
        Ok(mac) => mac,
        Err(err) => {
            eprintln!("webhook-signer: unusable key: {err}");
            std::process::exit(1);
        }
    };
    mac.update(payload.as_bytes());
    let signature = mac.finalize().into_bytes();
    let hex: String = signature.iter().map(|byte| format!("{byte:02x}")).collect();
    println!("sha256={hex}");
}

fn describe(err: &Error) -> String {
    match err {
        Error::InvalidName(reason) => format!("invalid name ({reason})"),
        Error::NotDeclared => "not declared in lahat.toml".to_owned(),
        Error::NotGranted => "not granted to this app".to_owned(),
        Error::NotFound => format!("not set; store it with `lahat credential set {KEY_NAME}`"),
        Error::Expired => "expired; store a new key".to_owned(),
        Error::Unavailable(message) => format!("vault unavailable: {message}"),
    }
}
