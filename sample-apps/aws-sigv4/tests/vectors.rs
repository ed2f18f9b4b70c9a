//! The signer against AWS's published examples: cases from the SigV4 test
//! suite (credentials `AKIDEXAMPLE`, service `service`, 2015-08-30T12:36:00Z)
//! and the three header-signing examples of the S3 API reference
//! (credentials `AKIAIOSFODNN7EXAMPLE`, bucket `examplebucket`,
//! 2013-05-24T00:00:00Z). The expected strings are copied from those
//! publications, not computed here.

use aws_sigv4::{AmzDate, Credentials, EMPTY_PAYLOAD_SHA256, Request, Scope, Signed, sha256_hex, sign};

const SUITE_HOST: &str = "example.amazonaws.com";
const SUITE_TIME: u64 = 1_440_938_160;
const SUITE_AUTHORIZATION_PREFIX: &str =
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=";

const S3_HOST: &str = "examplebucket.s3.amazonaws.com";
const S3_TIME: u64 = 1_369_353_600;

fn suite_sign(method: &str, path: &str, query: &[(&str, &str)], headers: &[(&str, &str)], payload: &[u8]) -> Signed {
    let credentials = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None, None);
    let payload_sha256 = sha256_hex(payload);
    let request = Request {
        method,
        path,
        query,
        headers,
        payload_sha256: &payload_sha256,
    };
    let scope = Scope {
        region: "us-east-1",
        service: "service",
    };
    sign(&request, &credentials, scope, &AmzDate::from_unix_seconds(SUITE_TIME))
}

fn s3_sign(method: &str, path: &str, query: &[(&str, &str)], headers: &[(&str, &str)], payload_sha256: &str) -> Signed {
    let credentials = Credentials::new(
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        None,
        None,
    );
    let request = Request {
        method,
        path,
        query,
        headers,
        payload_sha256,
    };
    let scope = Scope {
        region: "us-east-1",
        service: "s3",
    };
    sign(&request, &credentials, scope, &AmzDate::from_unix_seconds(S3_TIME))
}

fn authorization(signed: &Signed) -> &str {
    signed
        .headers
        .iter()
        .find(|(name, _)| *name == "authorization")
        .map(|(_, value)| value.as_str())
        .expect("sign adds an authorization header")
}

#[test]
fn get_vanilla() {
    let signed = suite_sign("GET", "/", &[], &[("Host", SUITE_HOST)], b"");
    assert_eq!(
        signed.canonical_request,
        "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        signed.string_to_sign,
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
         bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
    );
    assert_eq!(
        authorization(&signed),
        format!(
            "{SUITE_AUTHORIZATION_PREFIX}host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        )
    );
    assert_eq!(signed.headers[0], ("x-amz-date", "20150830T123600Z".to_owned()));
}

#[test]
fn get_vanilla_query_order_key_case() {
    let query = [("Param2", "value2"), ("Param1", "value1")];
    let signed = suite_sign("GET", "/", &query, &[("Host", SUITE_HOST)], b"");
    assert_eq!(
        signed.signature,
        "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
    );
}

#[test]
fn get_vanilla_query_unreserved() {
    let unreserved = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let signed = suite_sign("GET", "/", &[(unreserved, unreserved)], &[("Host", SUITE_HOST)], b"");
    assert_eq!(
        signed.signature,
        "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"
    );
}

#[test]
fn get_vanilla_utf8_query() {
    let signed = suite_sign("GET", "/", &[("\u{1234}", "bar")], &[("Host", SUITE_HOST)], b"");
    assert!(
        signed.canonical_request.starts_with("GET\n/\n%E1%88%B4=bar\n"),
        "{}",
        signed.canonical_request
    );
    assert_eq!(
        signed.signature,
        "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"
    );
}

#[test]
fn get_utf8() {
    let signed = suite_sign("GET", "/\u{1234}", &[], &[("Host", SUITE_HOST)], b"");
    assert!(
        signed.canonical_request.starts_with("GET\n/%E1%88%B4\n"),
        "{}",
        signed.canonical_request
    );
    assert_eq!(
        signed.signature,
        "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"
    );
}

#[test]
fn post_vanilla() {
    let signed = suite_sign("POST", "/", &[], &[("Host", SUITE_HOST)], b"");
    assert_eq!(
        signed.signature,
        "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
    );
}

#[test]
fn post_x_www_form_urlencoded() {
    let headers = [
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Host", SUITE_HOST),
    ];
    let signed = suite_sign("POST", "/", &[], &headers, b"Param1=value1");
    assert_eq!(
        signed.canonical_request,
        "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\n\
         x-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n\
         9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"
    );
    assert_eq!(
        signed.string_to_sign,
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
         42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281"
    );
    assert_eq!(
        authorization(&signed),
        format!(
            "{SUITE_AUTHORIZATION_PREFIX}content-type;host;x-amz-date, Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"
        )
    );
}

#[test]
fn s3_get_object_with_range() {
    let headers = [
        ("Host", S3_HOST),
        ("Range", "bytes=0-9"),
        ("x-amz-content-sha256", EMPTY_PAYLOAD_SHA256),
    ];
    let signed = s3_sign("GET", "/test.txt", &[], &headers, EMPTY_PAYLOAD_SHA256);
    assert_eq!(
        authorization(&signed),
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
         SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
         Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    );
}

#[test]
fn s3_put_object() {
    let payload_sha256 = sha256_hex(b"Welcome to Amazon S3.");
    assert_eq!(
        payload_sha256,
        "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
    );
    let headers = [
        ("Host", S3_HOST),
        ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        ("x-amz-content-sha256", payload_sha256.as_str()),
    ];
    let signed = s3_sign("PUT", "/test$file.text", &[], &headers, &payload_sha256);
    assert!(
        signed.canonical_request.starts_with("PUT\n/test%24file.text\n"),
        "{}",
        signed.canonical_request
    );
    assert_eq!(
        signed.string_to_sign,
        "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\
         9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d"
    );
    assert_eq!(
        signed.signature,
        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
    );
}

#[test]
fn s3_list_objects() {
    let headers = [("Host", S3_HOST), ("x-amz-content-sha256", EMPTY_PAYLOAD_SHA256)];
    let signed = s3_sign(
        "GET",
        "/",
        &[("max-keys", "2"), ("prefix", "J")],
        &headers,
        EMPTY_PAYLOAD_SHA256,
    );
    assert_eq!(
        signed.signature,
        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
    );
}
