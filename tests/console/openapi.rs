//! The REST API's OpenAPI document: it names every REST row of the endpoint table and nothing
//! else, a validator nobody here wrote accepts it (PyPI `openapi-spec-validator`), its reference
//! page is served from the binary under its own policy, and a property-based tester driven by
//! the document (PyPI `schemathesis`, its default checks) finds no server error, no answer the
//! document does not describe, no input it accepts refused as invalid (422) and none it refuses
//! accepted, against a live console with a token.

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
    let own = service_account(&app, &admin, "schemathesis").await;
    // What the tester's rotates and revokes of its own account go to (see the hooks).
    let other = service_account(&app, &admin, "rotated-and-revoked").await;
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
    // The tester's default checks, as they are: input that fits the document is accepted
    // (2xx), or refused as not found (404) or in the way of the console's state (409: a name
    // taken, the AKU quota); never 422, which is for input the document refuses. But for one
    // rule: a product key is taken only when a vendor key this console trusts signed it, and
    // no schema can state a signature, so every key the tester makes up is refused (422, as
    // the document says). Only those two operations, and only that status, are let through.
    let config = app.dir.path().join("schemathesis.toml");
    std::fs::write(
        &config,
        "[[operations]]\n\
         include-operation-id = [\"preview_license_key\", \"apply_license_key\"]\n\
         checks.positive_data_acceptance.expected-statuses = \
         [\"2xx\", \"3xx\", \"401\", \"403\", \"404\", \"409\", \"422\", \"429\", \"5xx\"]\n",
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

/// A service account of the admin's, with its token.
async fn service_account(app: &TestApp, admin: &reqwest::Client, name: &str) -> Value {
    let created = admin
        .post(app.url("/api/service_account_create"))
        .form(&[("name", name), ("role", "admin"), ("expires", "")])
        .send()
        .await
        .expect("request");
    assert_eq!(created.status(), 200);
    created.json::<Value>().await.expect("json")
}

/// Whether each value fits the schema at each pointer of `doc`, as Python's `jsonschema`
/// (Draft 2020-12, formats checked) reads it, but with the ECMA-262 `$` the document means
/// (Python's also matches before a final line break).
async fn fits(app: &TestApp, doc: &Value, cases: &[(String, Value)]) -> Vec<bool> {
    let file = app.dir.path().join("cases.json");
    let cases: Vec<Value> = cases
        .iter()
        .map(|(pointer, value)| serde_json::json!({ "schema": pointer, "value": value }))
        .collect();
    let input = serde_json::json!({ "components": doc["components"], "cases": cases });
    std::fs::write(&file, serde_json::to_vec(&input).unwrap()).unwrap();
    let script = r#"
import json, re, sys
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

def pattern(validator, pattern, instance, schema):
    if not validator.is_type(instance, "string"):
        return
    ecma = pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith(r"\$") else pattern
    if not re.search(ecma, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")

Ecma = validators.extend(Draft202012Validator, {"pattern": pattern})
data = json.load(open(sys.argv[1]))
out = []
for case in data["cases"]:
    schema = {"$ref": case["schema"], "components": data["components"]}
    v = Ecma(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    out.append(v.is_valid(case["value"]))
print(json.dumps(out))
"#;
    let (code, out) = run(
        "python3",
        vec!["-c".into(), script.into(), file.display().to_string()],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[tokio::test]
async fn the_document_refuses_exactly_what_the_api_refuses_as_invalid() {
    // The API is the judge: each value is sent, and refused as invalid (400 or 422) exactly
    // when the document's schema refuses it. What a schema cannot state (a name taken, the
    // quota) is 409, a refusal of another kind.
    let app = spawn_app_with(Config {
        secure_cookies: false,
        provision_step: std::time::Duration::from_millis(5),
        api_rate: (1_000, 1_000),
        ..Config::default()
    })
    .await;
    let admin = app.activated_admin_client().await;
    let token = service_account(&app, &admin, "semantics").await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let doc = document(&app).await;
    let api = reqwest::Client::new();
    let base = serde_json::json!({
        "name": "base", "kafka_version": "3.9.0", "deployment": "single_zone",
        "vpc_id": "vpc-0a1b2c3d", "subnets": ["subnet-0000aaaa"],
        "data_bucket": "acme-kafka-data", "wal_mode": "object_storage",
        "client_auth": "sasl_scram", "transit_encryption": "tls",
        "endpoint_exposure": "vpc", "size_aku": 3
    });
    let created = api
        .post(app.url("/api/v1/instances"))
        .bearer_auth(&token)
        .json(&base)
        .send()
        .await
        .expect("request");
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    let instance = created.json::<Value>().await.unwrap()["summary"]["id"].clone();

    let long = |n: usize| "a".repeat(n);
    let strings = |values: &[&str]| values.iter().map(|v| Value::from(*v)).collect::<Vec<_>>();
    let with = |field: &str, value: Value| {
        let mut body = base.clone();
        body[field] = value;
        body
    };
    // (operation, schema of the value, value, request body or query)
    let mut cases: Vec<(&str, String, Value)> = Vec::new();
    let mut add = |op: &'static str, schema: &str, values: Vec<Value>| {
        for value in values {
            cases.push((op, format!("#/components/schemas/{schema}"), value));
        }
    };
    add(
        "name",
        "InstanceName",
        strings(&[
            "abc", "a-b", "a1", "abc-", "Abc", "1ab", "ab", "a--b", "a_b", "ab c", " abc", "abc\n",
            "é-ab",
        ])
        .into_iter()
        .chain([long(64), long(65)].map(Value::from))
        .collect(),
    );
    add(
        "description",
        "InstanceDescription",
        strings(&[
            "",
            "text",
            "two\nlines",
            " lead",
            "trail ",
            "tab\tin",
            "\u{85}x",
            "x\u{a0}",
            "a\u{0}b",
            "é ü",
            "\n",
            "x\u{2028}y",
        ])
        .into_iter()
        .chain([long(256), long(257)].map(Value::from))
        .collect(),
    );
    add(
        "kafka_version",
        "KafkaVersion",
        strings(&["3.9.0", "3.7.2", "3.6.0", " 3.9.0", ""]),
    );
    add(
        "vpc_id",
        "VpcId",
        strings(&[
            "vpc-0a1b2c3d",
            "vpc-0a1b2c3",
            "vpc-ABCDEFGH",
            "vsw-0a1b2c3d",
            "vpc0a1b2c3d",
            "vpc-0a1b2c3d0a1b2c3d0a1b2c3d0a1b",
            "vpc-0a1b2c3d0a1b2c3d0a1b2c3d0a1b2",
        ]),
    );
    add(
        "data_bucket",
        "DataBucket",
        strings(&[
            "abc", "a.b", "a.b.c", "a..b", "a.-b", "a-.b", "-ab", "ab-", "ab.", ".ab", "ab", "A-b",
            "a_b",
        ])
        .into_iter()
        .chain([long(63), long(64)].map(Value::from))
        .collect(),
    );
    let tags = |pairs: &[(&str, &str)]| {
        Value::Object(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), Value::from(*v)))
                .collect(),
        )
    };
    let many: Vec<(String, String)> = (0..21).map(|i| (format!("k{i}"), "v".into())).collect();
    let many = |n: usize| {
        Value::Object(
            many[..n]
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                .collect(),
        )
    };
    add(
        "tags",
        "Tags",
        vec![
            tags(&[]),
            tags(&[("env", "prod")]),
            tags(&[("a b", "x y")]),
            tags(&[("team/x@y+z:q_w.e-r", "")]),
            tags(&[(" a", "x")]),
            tags(&[("a ", "x")]),
            tags(&[("a", " x")]),
            tags(&[("a=b", "c")]),
            tags(&[("k", "v\nx=y")]),
            tags(&[("", "v")]),
            tags(&[("k!", "v")]),
            tags(&[("é", "v")]),
            tags(&[(long(64).as_str(), "v")]),
            tags(&[(long(65).as_str(), "v")]),
            tags(&[("k", long(256).as_str())]),
            tags(&[("k", long(257).as_str())]),
            many(20),
            many(21),
        ],
    );
    let body = |pairs: &[(&str, Value)]| {
        let mut body = base.clone();
        for (field, value) in pairs {
            body[*field] = value.clone();
        }
        body
    };
    let subnets =
        |ids: &[&str]| Value::from(ids.iter().map(|s| Value::from(*s)).collect::<Vec<_>>());
    for whole in [
        body(&[]),
        body(&[("subnets", subnets(&["subnet-0000aaaa", "subnet-0000bbbb"]))]),
        body(&[("subnets", subnets(&[]))]),
        body(&[
            ("deployment", "three_zones".into()),
            (
                "subnets",
                subnets(&["subnet-0000aaaa", "subnet-0000bbbb", "subnet-0000cccc"]),
            ),
        ]),
        body(&[
            ("deployment", "three_zones".into()),
            (
                "subnets",
                subnets(&["subnet-0000aaaa", "subnet-0000bbbb", "subnet-0000aaaa"]),
            ),
        ]),
        body(&[
            ("deployment", "three_zones".into()),
            ("subnets", subnets(&["subnet-0000aaaa"])),
        ]),
        body(&[("subnets", subnets(&["subnet-0a1b"]))]),
        body(&[
            ("client_auth", "mtls".into()),
            ("transit_encryption", "plaintext".into()),
        ]),
        body(&[("client_auth", "mtls".into())]),
        body(&[
            ("endpoint_exposure", "internet".into()),
            ("client_auth", "anonymous".into()),
        ]),
        body(&[
            ("endpoint_exposure", "internet".into()),
            ("transit_encryption", "plaintext".into()),
        ]),
        body(&[("endpoint_exposure", "internet".into())]),
        body(&[("client_auth", "anonymous".into())]),
        body(&[("size_aku", 2.into())]),
        body(&[("size_aku", 500.into())]),
        body(&[("size_aku", 501.into())]),
    ] {
        cases.push(("instance", "#/components/schemas/NewInstance".into(), whole));
    }
    let mut add = |op: &'static str, schema: &str, values: Vec<Value>| {
        for value in values {
            cases.push((op, format!("#/components/schemas/{schema}"), value));
        }
    };
    add(
        "topic",
        "TopicName",
        strings(&[
            "orders",
            "orders.v1_eu-2",
            ".",
            "..",
            "...",
            "._",
            ".x",
            "..x",
            "_",
            "_x",
            "__x",
            "-x",
            "a/b",
            " a",
            "a ",
            "x\n",
            "é",
        ])
        .into_iter()
        .chain([long(249), long(250)].map(Value::from))
        .collect(),
    );
    add(
        "kafka_user",
        "KafkaUserName",
        strings(&[
            "app",
            "x.y_z-1",
            "-app",
            ".x",
            "_x",
            "byoc-console",
            "BYOC-Console",
            "byoc-consoles",
            " a",
            "a=b",
            "é",
            "",
        ])
        .into_iter()
        .chain([long(64), long(65)].map(Value::from))
        .collect(),
    );
    add(
        "account",
        "ServiceAccountName",
        strings(&[
            "ci-bot",
            "ci.bot_1",
            "Ci-bot",
            "1ci",
            "ci bot",
            " cib",
            "ci",
            "c\u{212a}x",
        ])
        .into_iter()
        .chain(["c".repeat(32), "c".repeat(33)].map(Value::from))
        .collect(),
    );
    add(
        "expires",
        "ExpiryDate",
        strings(&[
            "",
            "2030-01-01",
            "2020-01-01",
            "2024-02-29",
            "2023-02-29",
            "2030-13-01",
            "2030-1-01",
            " 2030-01-01",
            "9999-12-30",
            "9999-12-31",
            "tomorrow",
        ]),
    );
    add(
        "month",
        "UsageMonth",
        strings(&[
            "", "2000-01", "1999-12", "9999-12", "2024-13", "2024-00", "2024-1", "+2024-01",
            " 2024-01",
        ]),
    );
    add(
        "from",
        "AuditDay",
        strings(&[
            "",
            "2024-02-29",
            "2023-02-29",
            "2024-13-01",
            "2024-1-01",
            "2024-01-01 ",
        ]),
    );

    let schema_says = fits(
        &app,
        &doc,
        &cases
            .iter()
            .map(|(_, schema, value)| (schema.clone(), value.clone()))
            .collect::<Vec<_>>(),
    )
    .await;
    let mut n = 0;
    let mut disagreements = Vec::new();
    for ((op, schema, value), fits) in cases.iter().zip(schema_says) {
        n += 1;
        let unique = |text: &str| format!("{text}{n}");
        let request = match *op {
            "instance" => api.post(app.url("/api/v1/instances")).json(value),
            "topic" => api
                .post(app.url(&format!("/api/v1/instances/{instance}/topics")))
                .json(&serde_json::json!({ "name": value, "partitions": 1 })),
            "kafka_user" => api
                .post(app.url(&format!("/api/v1/instances/{instance}/kafka-users")))
                .json(&serde_json::json!({ "username": value, "mechanism": "SCRAM-SHA-256" })),
            "account" => api
                .post(app.url("/api/v1/service-accounts"))
                .json(&serde_json::json!({ "name": value, "role": "viewer" })),
            "expires" => api
                .post(app.url("/api/v1/service-accounts"))
                .json(&serde_json::json!({ "name": unique("expiry-"), "role": "viewer", "expires": value })),
            "month" => api
                .get(app.url("/api/v1/usage"))
                .query(&[("month", value.as_str().unwrap())]),
            "from" => api
                .get(app.url("/api/v1/audit"))
                .query(&[("from", value.as_str().unwrap())]),
            field => api.post(app.url("/api/v1/instances")).json(&with(field, value.clone())),
        };
        let response = request.bearer_auth(&token).send().await.expect("request");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        assert!(status < 500, "{op} {value}: {status} {text}");
        let accepted = !matches!(status, 400 | 422);
        if accepted != fits {
            disagreements.push(format!(
                "{op} {value} ({schema}): the document {}, the API answered {status} {text}",
                if fits { "accepts" } else { "refuses" }
            ));
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {n} disagree:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}
