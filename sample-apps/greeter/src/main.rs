//! Greets the person named by the first argument with the text stored in the
//! `demo.greeting` credential.

wit_bindgen::generate!({
    path: "../../wit",
    world: "lahat:vault/app",
});

use lahat::vault::credentials::{Error, get_credential};

fn main() {
    let who = std::env::args().nth(1).unwrap_or_else(|| "world".to_owned());
    match get_credential("demo.greeting") {
        Ok(greeting) => println!("{greeting}, {who}!"),
        Err(err) => {
            eprintln!("greeter: cannot read demo.greeting: {}", describe(&err));
            std::process::exit(1);
        }
    }
}

fn describe(err: &Error) -> String {
    match err {
        Error::InvalidName(reason) => format!("invalid name ({reason})"),
        Error::NotDeclared => "not declared in lahat.toml".to_owned(),
        Error::NotGranted => "not granted to this app".to_owned(),
        Error::NotFound => "not set; store it with `lahat credential set demo.greeting`".to_owned(),
        Error::Expired => "expired".to_owned(),
        Error::Unavailable(message) => format!("vault unavailable: {message}"),
    }
}
