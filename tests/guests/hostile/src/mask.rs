//! The `mask`, `mask-fields` and `request-named-by` modes: print a delivered
//! credential in the forms the host's output masking must catch and in one it
//! cannot, or pass it to the host as a credential name.

use std::io::Write;

use crate::lahat::vault::credentials::get_credential;

/// Prints the credential `name` raw, split over two writes, in hex, in
/// base64 at three alignments, inside JSON, on stderr, and reversed.
pub fn print_forms(name: &str) {
    let value = match get_credential(name) {
        Ok(value) => value,
        Err(err) => {
            eprintln!("hostile: cannot read {name}: {err:?}");
            std::process::exit(1);
        }
    };
    let bytes = value.as_bytes();
    let (head, tail) = value.split_at(value.len() / 2);

    println!("raw: {value}");
    let mut stdout = std::io::stdout();
    let _ = write!(stdout, "split: {head}");
    let _ = stdout.flush();
    let _ = writeln!(stdout, "{tail}");
    println!("hex: {}", hex(bytes, b"0123456789abcdef"));
    println!("hex-upper: {}", hex(bytes, b"0123456789ABCDEF"));
    for prefix in ["", "x", "xy"] {
        let mut shifted = prefix.as_bytes().to_vec();
        shifted.extend_from_slice(bytes);
        println!("base64-{}: {}", prefix.len(), base64(&shifted, STANDARD, true));
        println!("base64url-{}: {}", prefix.len(), base64(&shifted, URL_SAFE, false));
    }
    println!("json: {{\"token\":\"{value}\"}}");
    eprintln!("stderr: {value}");
    println!("reversed: {}", value.chars().rev().collect::<String>());
}

/// Prints each string field of the credential `name`, a flat JSON object,
/// alone on its own line as `field KEY: VALUE`.
pub fn print_fields(name: &str) {
    let value = match get_credential(name) {
        Ok(value) => value,
        Err(err) => {
            eprintln!("hostile: cannot read {name}: {err:?}");
            std::process::exit(1);
        }
    };
    // The test stores a flat object without escapes, so splitting on quotes
    // yields key, value, key, value.
    let strings: Vec<&str> = value.split('"').skip(1).step_by(2).collect();
    for pair in strings.chunks(2) {
        if let [key, field] = pair {
            println!("field {key}: {field}");
        }
    }
}

/// Reads the credential `name`, then requests credentials named by its
/// value: the value itself and `leak.VALUE`. A host that logs or records
/// requested names as given would write the value to its log.
pub fn request_named_by(name: &str) {
    let value = match get_credential(name) {
        Ok(value) => value,
        Err(err) => {
            eprintln!("hostile: cannot read {name}: {err:?}");
            std::process::exit(1);
        }
    };
    for requested in [value.clone(), format!("leak.{value}")] {
        let outcome = match get_credential(&requested) {
            Ok(_) => "delivered".to_owned(),
            Err(err) => format!("{err:?}"),
        };
        println!("request: {outcome}");
    }
}

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn hex(bytes: &[u8], digits: &[u8; 16]) -> String {
    bytes
        .iter()
        .flat_map(|byte| [digits[usize::from(byte >> 4)], digits[usize::from(byte & 15)]])
        .map(char::from)
        .collect()
}

/// Encodes `bytes` in base64 with `alphabet`, with `=` padding when `pad`.
fn base64(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let mut group = [0u8; 3];
        group[..chunk.len()].copy_from_slice(chunk);
        let bits = u32::from(group[0]) << 16 | u32::from(group[1]) << 8 | u32::from(group[2]);
        let chars = chunk.len() + 1;
        for index in 0..4 {
            if index < chars {
                let sextet = (bits >> (18 - 6 * index)) & 63;
                out.push(char::from(alphabet[sextet as usize]));
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}
