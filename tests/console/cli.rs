//! The command line: vendor tooling, installation id, help, and clear start-up errors.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

fn console(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_byoc-console"))
        .args(args)
        .env("RUST_LOG", "error")
        .output()
        .expect("runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_lists_the_subcommands() {
    let out = console(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for sub in ["serve", "demo", "installation-id", "vendor"] {
        assert!(help.contains(sub), "{sub} missing from:\n{help}");
    }
    let serve = text(&console(&["serve", "--help"]).stdout);
    for flag in [
        "--listen",
        "--data-dir",
        "--secure-cookies",
        "--session-idle-minutes",
        "--trust-key",
        "BYOC_DATA_DIR",
    ] {
        assert!(serve.contains(flag), "{flag} missing from:\n{serve}");
    }
}

#[test]
fn keygen_then_issue_makes_a_key_that_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let vendor_dir = dir.path().join("vendor");
    let vendor = vendor_dir.to_str().unwrap();
    let out = console(&["vendor", "keygen", "--out", vendor, "--key-id", "cli-test"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let secret = vendor_dir.join("signing-key.json");
    let mode = std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // A second keygen never overwrites the key.
    let again = console(&["vendor", "keygen", "--out", vendor]);
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("exists already"));

    let data = dir.path().join("data");
    let id_out = console(&["installation-id", "--data-dir", data.to_str().unwrap()]);
    let installation_id = text(&id_out.stdout).trim().to_string();
    assert_eq!(installation_id.len(), 36);
    // Stable across runs.
    assert_eq!(
        text(&console(&["installation-id", "--data-dir", data.to_str().unwrap()]).stdout).trim(),
        installation_id
    );

    let secret_path = secret.to_str().unwrap();
    let out = console(&[
        "vendor",
        "issue",
        "--signing-key",
        secret_path,
        "--installation-id",
        &installation_id,
        "--customer",
        "Acme",
        "--billing",
        "payg",
        "--months",
        "1",
        "--price",
        "aku_hours:0=0.12,1000=0.10",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let key = text(&out.stdout).lines().last().unwrap().to_string();
    let public = app::server::vendor::read_public_key(&vendor_dir.join("public-key.json")).unwrap();
    let verified = app::domain::license::verify(&key, &[public]).unwrap();
    assert_eq!(verified.payload.installation_id, installation_id);
    assert_eq!(verified.payload.aku_quota, None);
    let tiers = &verified.payload.pricing.unwrap().dimensions[0].tiers;
    assert_eq!(tiers[1].unit_price.to_string(), "0.10");
}

#[test]
fn issue_refuses_nonsense() {
    let dir = tempfile::tempdir().unwrap();
    let vendor = dir.path().join("v");
    assert!(
        console(&["vendor", "keygen", "--out", vendor.to_str().unwrap()])
            .status
            .success()
    );
    let secret = vendor.join("signing-key.json");
    let base = [
        "vendor",
        "issue",
        "--signing-key",
        secret.to_str().unwrap(),
        "--installation-id",
        "x",
        "--customer",
        "Acme",
    ];
    let cases: &[(&[&str], &str)] = &[
        (
            &["--billing", "prepaid", "--aku", "0", "--months", "12"],
            "--aku must be at least 1",
        ),
        (
            &["--billing", "prepaid", "--aku", "10", "--months", "0"],
            "--months must be at least 1",
        ),
        (
            &[
                "--billing",
                "prepaid",
                "--aku",
                "10",
                "--starts",
                "2027-01-01",
                "--expires",
                "2026-01-01",
            ],
            "--expires must be after the start",
        ),
        (
            &["--billing", "prepaid", "--months", "12"],
            "AKU quota is missing",
        ),
        (
            &["--billing", "payg", "--months", "12"],
            "needs unit prices",
        ),
        (
            &[
                "--billing",
                "prepaid",
                "--aku",
                "10",
                "--expires",
                "next tuesday",
            ],
            "expected YYYY-MM-DD",
        ),
    ];
    for (args, expected) in cases {
        let mut all: Vec<&str> = base.to_vec();
        all.extend_from_slice(args);
        let out = console(&all);
        assert!(!out.status.success(), "{args:?} succeeded");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn a_broken_database_stops_serve_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("console.db"), vec![7u8; 8192]).unwrap();
    let out = console(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("is not a SQLite database"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// "Every interface" in any spelling is refused for brokers inside the network, and a public
/// address that is the private one in another form too (an IPv4-mapped IPv6 address is the
/// IPv4 address it carries).
#[test]
fn broker_addresses_are_compared_in_one_form() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let serve = |extra: &[&str]| {
        let mut args = vec![
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        console(&args)
    };
    for every in ["0.0.0.0", "::", "::ffff:0.0.0.0"] {
        let out = serve(&["--broker-private-address", every]);
        assert!(!out.status.success(), "{every} accepted");
        assert!(
            text(&out.stderr).contains("every interface"),
            "{every}: {}",
            text(&out.stderr)
        );
    }
    let out = serve(&[
        "--broker-private-address",
        "10.9.8.7",
        "--broker-public-address",
        "::ffff:10.9.8.7",
    ]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("both"), "{}", text(&out.stderr));
    assert!(!data.exists(), "refused before anything was made");
}

#[test]
fn front_door_flags_are_checked() {
    for (flag, value, words) in [
        ("--trusted-proxy", "nginx", "trusted proxy"),
        ("--public-url", "console.example.com", "http(s)://HOST"),
        ("--allowed-host", "a b", "not a host name"),
    ] {
        let out = console(&["serve", "--data-dir", "/nonexistent/x", flag, value]);
        assert!(!out.status.success(), "{flag} {value} accepted");
        assert!(
            text(&out.stderr).contains(words),
            "{flag}: {}",
            text(&out.stderr)
        );
    }
}
