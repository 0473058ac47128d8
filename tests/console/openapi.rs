//! The REST API's OpenAPI document: it names every REST row of the endpoint table and nothing
//! else, a validator nobody here wrote accepts it (PyPI `openapi-spec-validator`), its reference
//! page is served from the binary under its own policy, and a property-based tester driven by
//! the document (PyPI `schemathesis`, every check on) finds no server error, no answer the
//! document does not describe and no crash, against a live console with a token.

use crate::common::*;
use app::server::endpoints::{Access, ENDPOINTS};
use app::server::state::Config;
use serde_json::Value;
use std::collections::BTreeSet;
use std::process::Command;

async fn document(app: &TestApp) -> Value {
    let response = reqwest::get(app.url("/api/v1/openapi.json"))
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

/// Runs a command to its end; answers its exit code and its output (stdout, then stderr).
async fn run(program: &str, args: Vec<String>) -> (i32, String) {
    run_with(program, &[], args).await
}

async fn run_with(program: &str, env: &[(&str, String)], args: Vec<String>) -> (i32, String) {
    let program = program.to_string();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let out = Command::new(&program)
            // Its caches (schemathesis keeps one) go with the test's files, not the checkout.
            .current_dir(std::env::temp_dir())
            .envs(env)
            .args(&args)
            .output()
            .unwrap_or_else(|e| panic!("{program} runs (scripts/setup.sh installs it): {e}"));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text)
    })
    .await
    .expect("joined")
}

#[tokio::test]
async fn the_document_names_every_rest_operation_and_a_validator_accepts_it() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("path item")
                .keys()
                .map(|method| (method.to_uppercase(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    // The table's REST rows, but the document and its page themselves.
    let table: BTreeSet<(String, String)> = ENDPOINTS
        .iter()
        .filter(|e| e.is_rest() && !matches!(e.access, Access::Anyone))
        .map(|e| (e.method.as_str().to_string(), e.path.to_string()))
        .collect();
    assert_eq!(documented, table);

    // Every operation needs the bearer token and answers problems in one shape.
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            for status in ["400", "401", "429", "500"] {
                assert!(responses.contains_key(status), "{method} {path}: {status}");
            }
        }
    }
    // Exact schemas: required fields and enums, not loose objects.
    let summary = &doc["components"]["schemas"]["InstanceSummary"];
    assert!(summary["required"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f == "state"));
    assert_eq!(
        doc["components"]["schemas"]["State"]["enum"],
        serde_json::json!([
            "creating",
            "running",
            "changing",
            "deleting",
            "deleted",
            "suspended",
            "abnormal"
        ])
    );

    // The settings' enums say the strings the API takes and answers.
    use app::domain::instance_spec::{
        ClientAuth, Deployment, EndpointExposure, TransitEncryption, WalMode,
    };
    let catalog: [(&str, Vec<&str>); 5] = [
        (
            "Deployment",
            Deployment::ALL.iter().map(|v| v.as_str()).collect(),
        ),
        ("WalMode", WalMode::ALL.iter().map(|v| v.as_str()).collect()),
        (
            "ClientAuth",
            ClientAuth::ALL.iter().map(|v| v.as_str()).collect(),
        ),
        (
            "TransitEncryption",
            TransitEncryption::ALL.iter().map(|v| v.as_str()).collect(),
        ),
        (
            "EndpointExposure",
            EndpointExposure::ALL.iter().map(|v| v.as_str()).collect(),
        ),
    ];
    for (name, ids) in catalog {
        assert_eq!(
            doc["components"]["schemas"][name]["enum"],
            serde_json::json!(ids),
            "{name}"
        );
    }

    // Request bodies refuse fields they do not have, as the handlers do.
    assert_eq!(
        doc["components"]["schemas"]["NewInstance"]["additionalProperties"],
        false
    );

    let file = app.dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec(&doc).unwrap()).unwrap();
    let (code, out) = run(
        "python3",
        vec![
            "-m".into(),
            "openapi_spec_validator".into(),
            file.display().to_string(),
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("OK"), "{out}");
}

#[tokio::test]
async fn the_reference_page_is_served_from_the_binary_under_its_own_policy() {
    let app = spawn_app().await;
    let client = app.client();
    let moved = client
        .get(app.url("/api/v1/docs"))
        .send()
        .await
        .expect("request");
    assert_eq!(moved.status(), 308);
    assert_eq!(moved.headers()["location"], "/api/v1/docs/");
    let page = client
        .get(app.url("/api/v1/docs/"))
        .send()
        .await
        .expect("request");
    assert_eq!(page.status(), 200);
    assert_eq!(
        page.headers()["content-security-policy"],
        app::rest::openapi::DOCS_POLICY
    );
    let html = page.text().await.unwrap();
    // Its scripts are its own files, none inline and none from elsewhere.
    assert!(html.contains("swagger-ui-bundle.js"), "{html}");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "{html}"
    );
    let init = client
        .get(app.url("/api/v1/docs/swagger-initializer.js"))
        .send()
        .await
        .expect("request");
    assert_eq!(init.status(), 200);
    assert!(init.text().await.unwrap().contains("/api/v1/openapi.json"));
    let bundle = client
        .get(app.url("/api/v1/docs/swagger-ui-bundle.js"))
        .send()
        .await
        .expect("request");
    assert_eq!(bundle.status(), 200);
    assert!(bundle.bytes().await.unwrap().len() > 100_000);
    let missing = client
        .get(app.url("/api/v1/docs/nothing-here.js"))
        .send()
        .await
        .expect("request");
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_answer_the_document_does_not_describe() {
    // The per-token rate limit stays on (documented as 429 with Retry-After on every
    // operation, which the tester waits out); it is raised so that the run stays short.
    let app = spawn_app_with(Config {
        secure_cookies: false,
        provision_step: std::time::Duration::from_millis(5),
        api_rate: (200, 400),
        ..Config::default()
    })
    .await;
    let admin = app.activated_admin_client().await;
    let account = |name: &'static str| {
        let admin = admin.clone();
        let url = app.url("/api/service_account_create");
        async move {
            let created = admin
                .post(url)
                .form(&[("name", name), ("role", "admin"), ("expires", "")])
                .send()
                .await
                .expect("request");
            assert_eq!(created.status(), 200);
            created.json::<Value>().await.expect("json")
        }
    };
    let own = account("schemathesis").await;
    // What the tester's rotates and revokes of its own account go to (see the hooks).
    let other = account("rotated-and-revoked").await;
    let token = own["token"].as_str().unwrap().to_string();
    // An instance for the cases that name one (small ids are what the generator tries first).
    let seeded = reqwest::Client::new()
        .post(app.url("/api/v1/instances"))
        .bearer_auth(&token)
        .json(&serde_json::json!({
            "name": "seeded", "kafka_version": "3.9.0", "deployment": "single_zone",
            "vpc_id": "vpc-0a1b2c3d", "subnets": ["subnet-0000aaaa"],
            "data_bucket": "acme-kafka-data", "wal_mode": "object_storage",
            "client_auth": "sasl_scram", "transit_encryption": "tls",
            "endpoint_exposure": "vpc", "size_aku": 3
        }))
        .send()
        .await
        .expect("request");
    assert_eq!(seeded.status(), 201, "{}", seeded.text().await.unwrap());
    let operations = document(&app).await["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum::<usize>();
    let config = app.dir.path().join("schemathesis.toml");
    // Every check on. Input that fits the document can still break a rule the document cannot
    // state (a name already taken, the AKU quota, an id that does not exist): the positive-data
    // check accepts those documented refusals.
    std::fs::write(
        &config,
        "[checks.positive_data_acceptance]\n\
         expected-statuses = [\"2xx\", \"404\", \"409\", \"422\"]\n",
    )
    .unwrap();
    let report = app.dir.path().join("junit.xml");
    let hooks = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/openapi");
    let environment = vec![
        ("PYTHONPATH", hooks.to_string()),
        ("SCHEMATHESIS_HOOKS", "schemathesis_hooks".to_string()),
        ("BYOC_OWN_ACCOUNT_ID", own["id"].to_string()),
        ("BYOC_OTHER_ACCOUNT_ID", other["id"].to_string()),
    ];
    let (code, out) = run_with(
        "python3",
        &environment,
        vec![
            "-m".into(),
            "schemathesis.cli".into(),
            "--config-file".into(),
            config.display().to_string(),
            "run".into(),
            app.url("/api/v1/openapi.json"),
            "--header".into(),
            format!("Authorization: Bearer {token}"),
            "--checks".into(),
            "all".into(),
            "--rate-limit".into(),
            "auto".into(),
            "--max-examples".into(),
            "40".into(),
            "--seed".into(),
            "1".into(),
            // One worker: hypothesis' source inspection is not thread-safe on CPython 3.11
            // (two workers now and then end in "AST constructor recursion depth mismatch").
            "--workers".into(),
            "1".into(),
            "--report".into(),
            "junit".into(),
            "--report-junit-path".into(),
            report.display().to_string(),
            "--no-color".into(),
        ],
    )
    .await;
    println!("{out}");
    assert_eq!(code, 0, "schemathesis found problems:\n{out}");
    // Every operation was exercised, and cases ran.
    assert!(
        out.contains(&format!("Tested: {operations}")),
        "not every one of the {operations} operations was tested:\n{out}"
    );
    let cases = out
        .lines()
        .find(|l| l.contains(" generated,"))
        .and_then(|l| l.split_whitespace().next()?.parse::<u32>().ok())
        .expect("the count of cases");
    assert!(cases > 1_000, "{cases} cases");
}
