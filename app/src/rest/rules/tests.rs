//! The document's figures are the domain's: each request field names its rule, and the
//! rule has the constant the domain checks with.

use super::super::openapi::document_for;
use super::*;
use serde_json::{json, Value};

fn document(provider: Option<&str>) -> Value {
    serde_json::to_value(document_for(provider)).expect("the document is JSON")
}

/// A schema through its `$ref` (and an optional parameter's `null` alternative).
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    if let Some(name) = schema["$ref"].as_str() {
        let name = name.rsplit('/').next().expect("a name");
        return resolve(doc, &doc["components"]["schemas"][name]);
    }
    for many in ["oneOf", "anyOf", "allOf"] {
        if let Some(referred) = schema[many]
            .as_array()
            .and_then(|all| all.iter().find(|s| s.get("$ref").is_some()))
        {
            return resolve(doc, referred);
        }
    }
    schema
}

fn field<'a>(doc: &'a Value, schema: &str, field: &str) -> &'a Value {
    let property = &doc["components"]["schemas"][schema]["properties"][field];
    assert!(!property.is_null(), "{schema}.{field}");
    resolve(doc, property)
}

fn parameter<'a>(doc: &'a Value, path: &str, method: &str, name: &str) -> &'a Value {
    let found = doc["paths"][path][method]["parameters"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("{method} {path} {name}"));
    resolve(doc, &found["schema"])
}

#[test]
fn every_figure_of_the_rules_is_the_domains() {
    let doc = document(Some("aws"));
    let name = field(&doc, "NewInstance", "name");
    assert_eq!(name["minLength"], instance::NAME_MIN);
    assert_eq!(name["maxLength"], instance::NAME_MAX);
    assert_eq!(
        field(&doc, "NewInstance", "description")["maxLength"],
        DESCRIPTION_MAX
    );
    let versions: Vec<&str> = KAFKA_VERSIONS.iter().map(|v| v.id).collect();
    assert_eq!(
        field(&doc, "NewInstance", "kafka_version")["enum"],
        json!(versions)
    );
    assert_eq!(
        field(&doc, "NewInstance", "vpc_id")["pattern"],
        format!("^vpc-[a-z0-9]{{{NETWORK_ID_MIN},{NETWORK_ID_MAX}}}$")
    );
    let subnets = field(&doc, "NewInstance", "subnets");
    assert_eq!(subnets["maxItems"], 3);
    assert_eq!(subnets["uniqueItems"], true);
    assert_eq!(
        resolve(&doc, &subnets["items"])["pattern"],
        format!("^subnet-[a-z0-9]{{{NETWORK_ID_MIN},{NETWORK_ID_MAX}}}$")
    );
    let bucket = field(&doc, "NewInstance", "data_bucket");
    assert_eq!(bucket["minLength"], BUCKET_MIN);
    assert_eq!(bucket["maxLength"], BUCKET_MAX);
    let tags = field(&doc, "NewInstance", "tags");
    assert_eq!(tags["maxProperties"], TAGS_MAX);
    assert_eq!(tags["propertyNames"]["maxLength"], TAG_KEY_MAX);
    assert_eq!(tags["additionalProperties"]["maxLength"], TAG_VALUE_MAX);
    for schema in ["NewInstance", "Scale"] {
        let size = field(&doc, schema, "size_aku");
        assert_eq!(size["minimum"], MIN_INSTANCE_AKU, "{schema}");
        assert_eq!(size["maximum"], MAX_INSTANCE_AKU, "{schema}");
    }

    let topic_name = field(&doc, "NewTopic", "name");
    assert_eq!(topic_name["maxLength"], topic::NAME_MAX);
    let partitions = field(&doc, "NewTopic", "partitions");
    assert_eq!(partitions["minimum"], topic::PARTITIONS_MIN);
    assert_eq!(partitions["maximum"], topic::PARTITIONS_MAX);
    for schema in ["NewTopic", "Retention"] {
        let hours = field(&doc, schema, "retention_hours");
        assert_eq!(hours["maximum"], topic::RETENTION_HOURS_MAX, "{schema}");
    }
    let topic_path = "/api/v1/instances/{id}/topics/{name}";
    for method in ["patch", "delete"] {
        assert_eq!(parameter(&doc, topic_path, method, "name"), topic_name);
    }

    let user = field(&doc, "NewUser", "username");
    assert_eq!(user["maxLength"], kafka_user::NAME_MAX);
    assert_eq!(
        user["not"]["pattern"],
        "^[Bb][Yy][Oo][Cc]-[Cc][Oo][Nn][Ss][Oo][Ll][Ee]$"
    );
    let user_path = "/api/v1/instances/{id}/kafka-users/{username}";
    assert_eq!(parameter(&doc, user_path, "delete", "username"), user);

    let account = field(&doc, "NewServiceAccount", "name");
    assert_eq!(account["minLength"], account::USERNAME_MIN);
    assert_eq!(account["maxLength"], account::USERNAME_MAX);

    let limit = parameter(&doc, "/api/v1/instances", "get", "limit");
    assert_eq!(limit["maximum"], view::PAGE_LIMIT);
    assert_eq!(limit["default"], view::PAGE_DEFAULT);
    let limit = parameter(&doc, "/api/v1/audit", "get", "limit");
    assert_eq!(limit["maximum"], audit::PAGE_LIMIT);
    assert_eq!(limit["default"], audit::PAGE_SIZE);
    let key = parameter(&doc, "/api/v1/instances", "post", "Idempotency-Key");
    assert_eq!(key["maxLength"], super::super::idempotency::KEY_MAX);
}

#[test]
fn the_fields_a_new_instance_ties_together_are_stated() {
    let doc = document(None);
    let rules = doc["components"]["schemas"]["NewInstance"]["allOf"]
        .as_array()
        .expect("allOf");
    for deployment in Deployment::ALL {
        let rule = rules
            .iter()
            .find(|r| r["if"]["properties"]["deployment"]["const"] == deployment.as_str())
            .expect("a rule per deployment");
        let subnets = &rule["then"]["properties"]["subnets"];
        assert_eq!(subnets["minItems"], zones(*deployment));
        assert_eq!(subnets["maxItems"], zones(*deployment));
    }
    assert!(rules
        .iter()
        .any(|r| r["if"]["properties"]["client_auth"]["const"] == "mtls"));
    assert!(rules
        .iter()
        .any(|r| r["if"]["properties"]["endpoint_exposure"]["const"] == "internet"));
}

#[test]
fn each_cloud_has_its_network_identifiers() {
    for (provider, vpc, subnet) in NETWORK_PREFIXES {
        let doc = document(Some(provider));
        let schemas = &doc["components"]["schemas"];
        assert!(schemas["VpcId"]["pattern"]
            .as_str()
            .is_some_and(|p| p.starts_with(&format!("^{vpc}"))));
        assert!(schemas["SubnetId"]["pattern"]
            .as_str()
            .is_some_and(|p| p.starts_with(&format!("^{subnet}"))));
    }
    let elsewhere = document(Some("gcp"));
    assert_eq!(
        elsewhere["components"]["schemas"]["VpcId"]["maxLength"],
        RESOURCE_NAME_MAX
    );
    let before_setup = document(None);
    assert!(before_setup["components"]["schemas"]["SubnetId"]["anyOf"].is_array());
}

#[test]
fn character_classes_are_rusts() {
    assert_eq!(
        class_of(|c| c.is_control()),
        "\\u0000-\\u001f\\u007f-\\u009f"
    );
    assert_eq!(
        class_of(|c| c.is_whitespace() && !c.is_control()),
        "\\u0020\\u00a0\\u1680\\u2000-\\u200a\\u2028-\\u2029\\u202f\\u205f\\u3000"
    );
    assert_eq!(
        any_case("byoc-console"),
        "[Bb][Yy][Oo][Cc]-[Cc][Oo][Nn][Ss][Oo][Ll][Ee]"
    );
    assert_eq!(members("-_.:/@+ "), "\\-_.:/@+ ");
}
