//! What a security review found an outsider could do to a console started with default flags,
//! each tried again here: flooding the audit log without signing in, keeping another user
//! locked out, hiding behind a reverse proxy, a foreign `Host` (DNS rebinding), unbounded or
//! formula user names, password guesses through a stolen session, and the data directory's
//! modes. Clients from other addresses bind to other loopback addresses (127.0.0.2, ...).

use crate::common::*;
use app::domain::refusal_log;
use reqwest::{redirect::Policy, Client};
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;

/// A client whose connections come from `addr` (a loopback address other than 127.0.0.1).
fn client_from(addr: &str) -> Client {
    Client::builder()
        .local_address(addr.parse::<IpAddr>().unwrap())
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

async fn audit_rows(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) FROM audit_log").await
}

#[tokio::test]
async fn a_flood_of_refusals_writes_bounded_rows_and_a_summary_of_the_rest() {
    let app = spawn_app().await;
    let _admin = app.activated_admin_client().await;
    let before = audit_rows(&app).await;
    let bytes_before = app
        .count("SELECT COALESCE(SUM(LENGTH(actor) + LENGTH(COALESCE(target, '')) + LENGTH(COALESCE(detail, ''))), 0) FROM audit_log")
        .await;
    let stranger = client_from("127.0.0.2");
    let long = "x".repeat(30_000);
    let mut refused = 0;
    for i in 0..300 {
        let response = stranger
            .get(app.url(&format!("/api/v1/instances/{i}-{long}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        refused += 1;
    }
    // Cross-site posts to new paths each time, from the same address.
    for i in 0..100 {
        let response = stranger
            .post(app.url(&format!("/api/nothing_{i}")))
            .header("origin", "http://evil.example")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403);
        refused += 1;
    }
    let written = audit_rows(&app).await - before;
    assert!(
        written as usize <= refusal_log::ENTRIES_PER_ADDRESS,
        "{written} entries for {refused} refusals"
    );
    assert!(written >= 2, "the first refusal of each kind is logged");
    let longest = app
        .count("SELECT MAX(LENGTH(target)) FROM audit_log WHERE client_addr = '127.0.0.2'")
        .await;
    assert!(longest <= refusal_log::TARGET_CHARS as i64 + 1, "{longest}");
    // The minute closes: one entry says how many were not logged.
    app.clock.advance(time::Duration::seconds(61));
    app::server::audit::summarise_refusals(&app.state).await;
    let summary: String = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = 'refusals_not_logged' AND target = '127.0.0.2'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let not_logged = refused - written;
    assert!(
        summary.starts_with(&format!("{not_logged} refusals from 127.0.0.2")),
        "{summary}"
    );
    let bytes = app
        .count("SELECT COALESCE(SUM(LENGTH(actor) + LENGTH(COALESCE(target, '')) + LENGTH(COALESCE(detail, ''))), 0) FROM audit_log")
        .await
        - bytes_before;
    assert!(
        bytes < (refusal_log::ENTRIES_PER_ADDRESS as i64 + 1) * refusal_log::ENTRY_BYTES_MAX as i64,
        "{bytes} bytes of audit text for {refused} refusals"
    );
    // The chain is still whole.
    assert_eq!(
        byoc_console::admin::verify_audit(&app.dir.path().join("data"))
            .await
            .unwrap()
            .map(|_| ()),
        Ok(())
    );
}

#[tokio::test]
async fn a_stranger_failing_for_the_admin_does_not_lock_the_admin_out() {
    let app = spawn_app().await;
    let _setup = app.activated_admin_client().await;
    let stranger = client_from("127.0.0.2");
    let mut locked = false;
    for _ in 0..8 {
        let response = app.login(&stranger, ADMIN, "not-the-password-1").await;
        if response.status() == 429 {
            let body = error_body(response).await;
            assert!(
                body["TooManyAttempts"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("Too many failed sign-ins from your address"),
                "{body}"
            );
            locked = true;
            break;
        }
        assert_eq!(response.status(), 422);
    }
    assert!(locked, "the stranger's own guesses are throttled");
    // The admin, from another address, while the stranger goes on.
    let admin = client_from("127.0.0.3");
    assert_eq!(app.login(&admin, ADMIN, ADMIN_PASSWORD).await.status(), 200);
    assert_eq!(
        app.login(&stranger, ADMIN, ADMIN_PASSWORD).await.status(),
        429,
        "the stranger's address stays throttled, even with the right password"
    );
}

#[tokio::test]
async fn an_administrators_password_reset_lifts_the_throttle() {
    let app = spawn_app().await;
    let _setup = app.activated_admin_client().await;
    let client = app.client();
    for _ in 0..5 {
        assert_eq!(
            app.login(&client, ADMIN, "wrong-password-xyz")
                .await
                .status(),
            422
        );
    }
    assert_eq!(
        app.login(&client, ADMIN, ADMIN_PASSWORD).await.status(),
        429
    );
    let data_dir = app.dir.path().join("data");
    let (temporary, _) = byoc_console::admin::reset_password(&data_dir, ADMIN)
        .await
        .unwrap();
    assert_eq!(app.login(&client, ADMIN, &temporary).await.status(), 200);
    let detail: String = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = 'user_password_reset' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(detail.contains("failed sign-ins forgotten"), "{detail}");
}

#[tokio::test]
async fn wrong_current_passwords_are_throttled_and_audited() {
    let app = spawn_app().await;
    let admin = app.activated_admin_client().await;
    let change = |current: &'static str| {
        let (app, admin) = (&app, &admin);
        async move {
            app.post_form(
                admin,
                "/api/password_change",
                &[
                    ("current_password", current),
                    ("new_password", "Brand-New-Quiet-Lamp-77"),
                    ("new_password_confirm", "Brand-New-Quiet-Lamp-77"),
                ],
            )
            .await
        }
    };
    for _ in 0..5 {
        let response = change("guess-number-one").await;
        assert_eq!(response.status(), 422, "{}", response.text().await.unwrap());
    }
    let response = change("guess-number-six").await;
    assert_eq!(response.status(), 429);
    // Even the right one waits: the guesser cannot tell it from a wrong one.
    assert_eq!(change(ADMIN_PASSWORD).await.status(), 429);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'password_change' AND outcome = 'failure'")
            .await,
        5
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'password_change' AND outcome = 'refused'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_foreign_host_is_refused_before_any_handler() {
    let app = spawn_app().await;
    let client = app.client();
    // A DNS-rebinding page: its Host and Origin are both the attacker's name.
    for (method, path) in [("GET", "/metrics"), ("GET", "/"), ("POST", "/api/setup")] {
        let response = client
            .request(method.parse().unwrap(), app.url(path))
            .header("host", "evil.example")
            .header("origin", "http://evil.example")
            .form(&SETUP_FORM)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 421, "{method} {path}");
        let text = response.text().await.unwrap();
        assert!(
            text.contains("evil.example") && text.contains("--public-url"),
            "{text}"
        );
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users").await,
        0,
        "setup did not run"
    );
    // This host by loopback address or localhost: answered.
    let port = app.addr.port();
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}")] {
        let response = client
            .get(app.url("/healthz"))
            .header("host", &host)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{host}");
    }
}

#[tokio::test]
async fn with_a_public_url_only_its_host_and_this_hosts_loopback_are_answered() {
    use app::domain::net::AllowedHosts;
    let app = spawn_app_with(app::server::Config {
        secure_cookies: false,
        provision_step: std::time::Duration::from_millis(5),
        allowed_hosts: AllowedHosts::new(vec!["console.example.com".into()], None),
        public_origin: Some("https://console.example.com".into()),
        ..app::server::Config::default()
    })
    .await;
    let client = app.client();
    let status = |path: &'static str, host: &'static str| {
        let (app, client) = (&app, &client);
        async move {
            client
                .get(app.url(path))
                .header("host", host)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(status("/metrics", "console.example.com").await, 200);
    assert_eq!(status("/metrics", "127.0.0.1").await, 200);
    assert_eq!(status("/metrics", "192.0.2.77:8080").await, 421);
    assert_eq!(status("/metrics", "evil.example").await, 421);
    // The health check answers probes by any address (it says nothing but "ok").
    assert_eq!(status("/healthz", "192.0.2.77:8080").await, 200);
    // The configured origin posts; another origin does not.
    let setup = |origin: &'static str| {
        let (app, client) = (&app, &client);
        async move {
            client
                .post(app.url("/api/setup"))
                .header("origin", origin)
                .form(&SETUP_FORM)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(setup("https://other.example.com").await, 403);
    assert_eq!(setup("https://console.example.com").await, 200);
}

#[tokio::test]
async fn user_names_are_bounded_at_the_door_and_csv_cells_are_never_formulas() {
    let app = spawn_app().await;
    let admin = app.activated_admin_client().await;
    let before = audit_rows(&app).await;
    let long = "a".repeat(60_000);
    for name in [long.as_str(), "=hyperlink(\"http://evil.example\",\"x\")"] {
        let response = app.login(&app.client(), name, "whatever-password").await;
        assert_eq!(response.status(), 422);
        let body = error_body(response).await;
        assert_eq!(body["Invalid"]["field"], "username", "{body}");
    }
    assert_eq!(audit_rows(&app).await, before, "nothing written");

    // A formula already on disk (written by hand, or before the rule) is exported as text.
    let mut tx = app.pool.begin().await.unwrap();
    app::server::store::audit::append_in(
        &mut tx,
        app::server::store::audit::Entry {
            at: app.state.clock.unix(),
            actor: "=HYPERLINK(\"http://evil.example\",\"x\")",
            action: "login",
            target: Some("+cmd|' /C calc'!A0"),
            client_addr: Some("127.0.0.1"),
            outcome: "failure",
            detail: Some("@SUM(1)"),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let csv = admin
        .get(app.url("/audit.csv"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let mut found = false;
    for record in reader.records() {
        let record = record.unwrap();
        for cell in record.iter() {
            let formula = cell.starts_with(['=', '+', '@', '\t', '\r'])
                || (cell.starts_with('-') && cell.parse::<f64>().is_err());
            assert!(!formula, "a live formula in the export: {cell:?}");
        }
        if record.get(2) == Some("'=HYPERLINK(\"http://evil.example\",\"x\")") {
            assert_eq!(record.get(4), Some("'+cmd|' /C calc'!A0"));
            assert_eq!(record.get(7), Some("'@SUM(1)"));
            found = true;
        }
    }
    assert!(found, "{csv}");
}

#[tokio::test]
async fn the_data_directory_is_owner_only_when_made_here_and_refused_when_others_can_write() {
    let app = spawn_app().await;
    let data = app.dir.path().join("data");
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&data), 0o700);
    for file in [
        "console.db",
        "console.db-wal",
        "console.db-shm",
        "console.lock",
    ] {
        let path = data.join(file);
        if path.exists() || file == "console.db" {
            assert_eq!(mode(&path), 0o600, "{file}");
        }
    }
    // An existing directory that only its owner writes is left as it is.
    let shared = tempfile::tempdir().unwrap();
    std::fs::set_permissions(shared.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    app::server::db::open(shared.path())
        .await
        .unwrap()
        .close()
        .await;
    assert_eq!(mode(shared.path()), 0o755);
    // A world-writable one (1777) is refused with the reason, and not changed.
    let open_dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(open_dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let error = app::server::db::open(open_dir.path()).await.unwrap_err();
    assert!(error.to_string().contains("writable by others"), "{error}");
    assert_eq!(mode(open_dir.path()), 0o1777);
    assert!(!open_dir.path().join("console.db").exists());
}

/// This host's first address that is not loopback (a client through the proxy must come from
/// somewhere other than this host for the loopback rule to mean anything).
fn external_address() -> String {
    let out = std::process::Command::new("hostname")
        .arg("-I")
        .output()
        .expect("hostname runs");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .find(|a| {
            a.parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| !ip.is_loopback())
        })
        .expect("this host has an IPv4 address besides loopback")
        .to_string()
}

fn free_port(ip: &str) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A real nginx (Debian's, installed by scripts/test.sh) in front of the console, configured as
/// docs/operations.md shows, on this host's external address and on loopback.
struct Nginx {
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn nginx_in_front_of(console: std::net::SocketAddr, listen: &[(String, u16)]) -> Nginx {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let listens: String = listen
        .iter()
        .map(|(ip, port)| format!("    listen {ip}:{port};\n"))
        .collect();
    let conf = format!(
        "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{}}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
         server {{\n{listens}    location / {{\n      proxy_pass http://{console};\n\
         proxy_set_header Host $host;\n      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
         proxy_set_header X-Forwarded-Proto $scheme;\n    }}\n  }}\n}}\n"
    );
    std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
    let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("nginx is installed (scripts/test.sh installs Debian's nginx)");
    let child = std::process::Command::new(nginx)
        .args(["-p", &d.to_string(), "-c", &format!("{d}/nginx.conf")])
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("nginx starts");
    let proxy = Nginx { child, _dir: dir };
    // Ready when every listener accepts a connection.
    for (ip, port) in listen {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while tokio::net::TcpStream::connect((ip.as_str(), *port))
            .await
            .is_err()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "nginx listens on {ip}:{port}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    proxy
}

#[tokio::test]
async fn behind_a_real_proxy_the_client_is_the_one_it_forwards_for() {
    let external = external_address();
    let trusting = |proxies: &[&str]| app::server::Config {
        secure_cookies: false,
        provision_step: std::time::Duration::from_millis(5),
        trusted_proxies: app::domain::net::TrustedProxies::parse(proxies.iter().copied()).unwrap(),
        ..app::server::Config::default()
    };
    let app = spawn_app_with(trusting(&["127.0.0.1"])).await;
    let _setup = app.activated_admin_client().await;
    let (outside, inside) = (free_port(&external), free_port("127.0.0.1"));
    let _proxy = nginx_in_front_of(
        app.addr,
        &[(external.clone(), outside), ("127.0.0.1".into(), inside)],
    )
    .await;
    let from_outside = format!("http://{external}:{outside}");
    let from_inside = format!("http://127.0.0.1:{inside}");
    let stranger = app.client();

    // /metrics: a stranger through the proxy is not loopback, even claiming to be.
    for forged in [None, Some("127.0.0.1")] {
        let mut request = stranger.get(format!("{from_outside}/metrics"));
        if let Some(forged) = forged {
            request = request.header("x-forwarded-for", forged);
        }
        assert_eq!(
            request.send().await.unwrap().status(),
            403,
            "forged: {forged:?}"
        );
    }
    // nginx passes a client's own `Forwarded` header through: it names nobody.
    for forwarded in ["for=127.0.0.1", "proto=http", "for=unknown"] {
        let response = stranger
            .get(format!("{from_outside}/metrics"))
            .header("forwarded", forwarded)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "Forwarded: {forwarded}");
    }
    // This host's own scraper through the proxy still is.
    let scrape = stranger
        .get(format!("{from_inside}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(scrape.status(), 200);

    // A stranger's failed sign-ins through the proxy throttle the stranger, recorded with
    // the stranger's address, and nobody else behind the proxy.
    for _ in 0..5 {
        let response = stranger
            .post(format!("{from_outside}/api/login"))
            .form(&[("username", ADMIN), ("password", "not-the-password-1")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422);
    }
    let locked = stranger
        .post(format!("{from_outside}/api/login"))
        .form(&[("username", ADMIN), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(locked.status(), 429);
    let admin = app.client();
    let signed_in = admin
        .post(format!("{from_inside}/api/login"))
        .form(&[("username", ADMIN), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200);
    let addresses: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT client_addr FROM audit_log WHERE action = 'login' AND outcome = 'failure'",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(addresses, vec![external.clone()]);

    // Without --trusted-proxy the forwarded header is not believed: every client through the
    // proxy is the proxy (127.0.0.1), which is why the flag exists.
    let untrusting = spawn_app_with(trusting(&[])).await;
    let port = free_port(&external);
    let _plain = nginx_in_front_of(untrusting.addr, &[(external.clone(), port)]).await;
    let open = stranger
        .get(format!("http://{external}:{port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(open.status(), 200, "the proxy's own address is loopback");
}
