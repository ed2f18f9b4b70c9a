//! Importing existing keys: environment variables and a Lahat desktop data
//! folder with plaintext keys and old keychain items.

use serde_json::{Value, json};

use crate::support::{Lahat, SecretService, assert_success, stdout};

#[test]
fn import_from_env_defaults() {
    let lahat = Lahat::new()
        .env("LAHAT_PASSPHRASE", "import passphrase")
        .env("OPENAI_API_KEY", "sk-openai-from-env")
        .env("ANTHROPIC_API_KEY", "sk-ant-from-env");
    let output = lahat.run(&["--store", "file", "credential", "import", "--from-env"]);
    assert_success(&output, "import --from-env");
    assert!(stdout(&output).contains("imported: environment variable OPENAI_API_KEY -> openai.default"), "{}", stdout(&output));

    for (name, expected) in [("openai.default", "sk-openai-from-env"), ("claude.default", "sk-ant-from-env")] {
        let revealed = lahat.run(&["--store", "file", "credential", "get", name, "--reveal"]);
        assert_eq!(stdout(&revealed), expected, "{name}");
    }

    let again = lahat.run(&["--store", "file", "credential", "import", "--from-env", "--json"]);
    let report: Value = serde_json::from_str(&stdout(&again)).unwrap();
    assert!(report["items"].as_array().unwrap().iter().all(|item| item["outcome"] == "skipped"), "{report}");
    assert!(report["items"].as_array().unwrap().iter().all(|item| item["same_value"] == true), "{report}");
}

#[test]
fn import_from_env_mapping() {
    let lahat = Lahat::new()
        .env("LAHAT_PASSPHRASE", "mapping passphrase")
        .env("BACKUP_TOKEN", "token-value");
    let output = lahat.run(&[
        "--store",
        "file",
        "credential",
        "import",
        "--from-env",
        "BACKUP_TOKEN=backup.main",
        "MISSING_VAR=backup.other",
        "--json",
    ]);
    assert_success(&output, "import with mappings");
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["items"][0]["target"], "backup.main");
    assert_eq!(report["unreadable"][0]["source"], "environment variable MISSING_VAR");

    let bad = lahat.run(&["--store", "file", "credential", "import", "--from-env", "NOEQUALS"]);
    assert_eq!(bad.status.code(), Some(2), "a mapping without `=` is a usage error");
}

/// Builds a Lahat desktop data folder with both generations of stored keys
/// and the keychain items its metadata describes.
fn desktop_folder(service: &SecretService) -> tempfile::TempDir {
    let folder = tempfile::tempdir().unwrap();
    let config = json!({
        "windowBounds": { "width": 1200, "height": 800 },
        "claude_api_key": "sk-ant-plain-main",
        "apiKey": "sk-ant-plain-oldest",
        "dev_openai_api_key": "sk-openai-plain-dev",
        "encryptedApiKey": "djEwAAAAencrypted",
        "theme": "dark",
        "installId": 123456789012345678901234567890u128
    });
    std::fs::write(folder.path().join("config.json"), serde_json::to_string_pretty(&config).unwrap()).unwrap();
    let metadata = json!([
        {
            "id": "k1", "name": "aws.default", "type": "api-key",
            "description": "Backup bucket", "createdAt": "2025-03-01T10:00:00.000Z", "lastUsed": null
        },
        {
            "id": "team:prod/db", "name": "postgres.main", "type": "username-password",
            "description": "Main database", "createdAt": 1740823200000u64, "username": "app_user"
        },
        {
            "id": "k3", "name": "Claude Production", "type": "api-key",
            "description": "Prod key", "createdAt": "2025-03-02T10:00:00Z"
        },
        { "id": "k4", "name": "openai.missing", "type": "api-key" }
    ]);
    std::fs::write(
        folder.path().join("credentials-metadata.json"),
        serde_json::to_string_pretty(&metadata).unwrap(),
    )
    .unwrap();
    // The desktop app used keytar, which stores `service` and `account`.
    service.store_with_attributes(&["service", "lahat-app", "account", "k1_value"], "AKIA-legacy-secret");
    service.store_with_attributes(&["service", "lahat-app", "account", "team:prod/db_password"], "pg-pass:w/ord");
    service.store_with_attributes(&["service", "lahat-app", "account", "k3_value"], "sk-ant-legacy-prod");
    folder
}

#[test]
fn dry_run_changes_nothing() {
    let service = SecretService::start();
    let folder = desktop_folder(&service);
    let lahat = Lahat::with_bus(&service.bus_address);
    let before = std::fs::read(folder.path().join("config.json")).unwrap();

    let output = lahat.run(&[
        "--store",
        "os",
        "credential",
        "import",
        "--from-lahat",
        folder.path().to_str().unwrap(),
        "--dry-run",
        "--wipe-plaintext",
        "--remove-old-items",
    ]);
    assert_success(&output, "import --dry-run");
    assert!(stdout(&output).contains("would-import: config.json key \"claude_api_key\" -> claude.default"), "{}", stdout(&output));
    assert_eq!(std::fs::read(folder.path().join("config.json")).unwrap(), before);
    assert_eq!(service.lookup("claude.default"), None);
    assert!(service.has_item(&["service", "lahat-app", "account", "k1_value"]));
}

#[test]
fn import_from_lahat_folder() {
    let service = SecretService::start();
    let folder = desktop_folder(&service);
    let lahat = Lahat::with_bus(&service.bus_address);

    let output = lahat.run(&[
        "--store",
        "os",
        "credential",
        "import",
        "--from-lahat",
        folder.path().to_str().unwrap(),
        "--wipe-plaintext",
        "--remove-old-items",
        "--json",
    ]);
    assert_success(&output, "import --from-lahat");
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let outcome = |source: &str| {
        report["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|item| item["source"] == source)
            .unwrap_or_else(|| panic!("no item from {source} in {report}"))
            .clone()
    };

    // Plaintext keys: the newer key wins over the oldest `apiKey`.
    assert_eq!(outcome("config.json key \"claude_api_key\"")["outcome"], "imported");
    assert_eq!(outcome("config.json key \"apiKey\"")["outcome"], "skipped");
    assert_eq!(outcome("config.json key \"apiKey\"")["same_value"], false);
    assert_eq!(outcome("config.json key \"dev_openai_api_key\"")["target"], "openai.development");
    assert_eq!(service.lookup("claude.default").as_deref(), Some("sk-ant-plain-main"));
    assert_eq!(service.lookup("openai.development").as_deref(), Some("sk-openai-plain-dev"));

    // Keychain items, including an account with `:` and `/`, a
    // username-password pair and a name that had to change.
    assert_eq!(service.lookup("aws.default").as_deref(), Some("AKIA-legacy-secret"));
    let pair: Value = serde_json::from_str(&service.lookup("postgres.main").unwrap()).unwrap();
    assert_eq!(pair, json!({ "username": "app_user", "password": "pg-pass:w/ord" }));
    let renamed = outcome("keychain item lahat-app/k3_value");
    assert_eq!(renamed["target"], "imported.claude-production");
    assert_eq!(renamed["renamed_from"], "Claude Production");

    let unreadable: Vec<String> = report["unreadable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["source"].as_str().unwrap().to_owned())
        .collect();
    assert!(unreadable.contains(&"config.json key \"encryptedApiKey\"".to_owned()), "{unreadable:?}");
    assert!(unreadable.contains(&"keychain item lahat-app/k4_value".to_owned()), "{unreadable:?}");

    // Descriptions and creation times survive.
    let shown = lahat.run(&["--store", "os", "credential", "show", "postgres.main", "--json"]);
    let shown: Value = serde_json::from_str(&stdout(&shown)).unwrap();
    assert_eq!(shown["description"], "Main database");
    assert_eq!(shown["created"], "2025-03-01T10:00:00Z");
    assert_eq!(shown["kind"], "username-password");

    // Only verified plaintext keys leave config.json; everything else stays.
    let config: Value = serde_json::from_slice(&std::fs::read(folder.path().join("config.json")).unwrap()).unwrap();
    assert!(config.get("claude_api_key").is_none(), "{config}");
    assert!(config.get("dev_openai_api_key").is_none(), "{config}");
    assert_eq!(config["apiKey"], "sk-ant-plain-oldest", "a differing value must stay");
    assert_eq!(config["encryptedApiKey"], "djEwAAAAencrypted");
    assert_eq!(config["theme"], "dark");
    let rewritten = std::fs::read_to_string(folder.path().join("config.json")).unwrap();
    assert!(rewritten.contains("123456789012345678901234567890"), "a big number changed: {rewritten}");
    let backup_path = folder.path().join("config.json.lahat-backup");
    let backup: Value = serde_json::from_slice(&std::fs::read(&backup_path).unwrap()).unwrap();
    assert_eq!(backup["claude_api_key"], "sk-ant-plain-main");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&backup_path).unwrap().permissions().mode() & 0o777, 0o600);

    // Imported old keychain items are gone; none was touched otherwise.
    assert!(!service.has_item(&["service", "lahat-app", "account", "k1_value"]));
    assert!(!service.has_item(&["service", "lahat-app", "account", "team:prod/db_password"]));
}
