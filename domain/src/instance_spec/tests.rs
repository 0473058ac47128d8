//! Unit tests of `instance_spec`.

use super::*;

#[test]
fn each_setting_has_one_string_form_and_the_form_lists_them_all() {
    fn check<T: Copy + PartialEq + std::fmt::Debug>(
        all: &[T],
        list: &[Choice],
        as_str: fn(T) -> &'static str,
        label: fn(T) -> &'static str,
        parse: fn(&str) -> Option<T>,
    ) {
        assert_eq!(all.len(), list.len());
        for (value, choice) in all.iter().zip(list) {
            assert_eq!(as_str(*value), choice.id);
            assert_eq!(label(*value), choice.label);
            assert_eq!(parse(choice.id), Some(*value));
        }
        assert_eq!(parse("unknown"), None);
    }
    check(
        Deployment::ALL,
        DEPLOYMENTS,
        Deployment::as_str,
        Deployment::label,
        Deployment::parse,
    );
    check(
        WalMode::ALL,
        WAL_MODES,
        WalMode::as_str,
        WalMode::label,
        WalMode::parse,
    );
    check(
        ClientAuth::ALL,
        CLIENT_AUTH,
        ClientAuth::as_str,
        ClientAuth::label,
        ClientAuth::parse,
    );
    check(
        TransitEncryption::ALL,
        TRANSIT_ENCRYPTION,
        TransitEncryption::as_str,
        TransitEncryption::label,
        TransitEncryption::parse,
    );
    check(
        EndpointExposure::ALL,
        ENDPOINT_EXPOSURE,
        EndpointExposure::as_str,
        EndpointExposure::label,
        EndpointExposure::parse,
    );
    // serde writes the same string form.
    assert_eq!(
        serde_json::to_string(&ClientAuth::SaslScram).unwrap(),
        "\"sasl_scram\""
    );
}

pub fn good() -> InstanceInput {
    InstanceInput {
        name: "orders".into(),
        description: "Order events".into(),
        kafka_version: "3.9.0".into(),
        deployment: "three_zones".into(),
        vpc_id: "vpc-0a1b2c3d".into(),
        subnet_1: "subnet-0000aaaa".into(),
        subnet_2: "subnet-0000bbbb".into(),
        subnet_3: "subnet-0000cccc".into(),
        data_bucket: "acme-kafka-data".into(),
        wal_mode: "object_storage".into(),
        client_auth: "sasl_scram".into(),
        transit_encryption: "tls".into(),
        endpoint_exposure: "vpc".into(),
        tags: "team=payments\ncost-center = 42\n".into(),
        size_aku: "6".into(),
    }
}

fn field_of(change: impl FnOnce(&mut InstanceInput)) -> &'static str {
    let mut input = good();
    change(&mut input);
    validate(&input, "aws", "eu-central-1", 500)
        .expect_err("refused")
        .field
}

#[test]
fn a_good_form_becomes_a_spec_with_zones_of_the_region() {
    let spec = validate(&good(), "aws", "eu-central-1", 500).unwrap();
    assert_eq!(
        spec.zones,
        ["eu-central-1a", "eu-central-1b", "eu-central-1c"]
    );
    assert_eq!(spec.subnets.len(), 3);
    assert_eq!(spec.tags["cost-center"], "42");
    assert_eq!(spec.size_aku, 6);

    let mut one = good();
    one.deployment = "single_zone".into();
    one.subnet_2.clear();
    one.subnet_3 = "garbage ignored".into();
    let spec = validate(&one, "aws", "eu-central-1", 500).unwrap();
    assert_eq!(spec.zones, ["eu-central-1a"]);
    assert_eq!(spec.subnets, ["subnet-0000aaaa"]);
}

#[test]
fn each_rule_names_its_field() {
    assert_eq!(field_of(|i| i.name = "Orders".into()), "name");
    assert_eq!(field_of(|i| i.description = "x".repeat(257)), "description");
    assert_eq!(
        field_of(|i| i.kafka_version = "2.0".into()),
        "kafka_version"
    );
    assert_eq!(field_of(|i| i.deployment = "two".into()), "deployment");
    assert_eq!(field_of(|i| i.vpc_id = "vpc-XYZ".into()), "vpc_id");
    assert_eq!(field_of(|i| i.subnet_2 = String::new()), "subnet_2");
    assert_eq!(field_of(|i| i.subnet_3 = i.subnet_1.clone()), "subnet_3");
    assert_eq!(field_of(|i| i.data_bucket = "-bad".into()), "data_bucket");
    assert_eq!(field_of(|i| i.data_bucket = "a..b".into()), "data_bucket");
    assert_eq!(field_of(|i| i.wal_mode = "tape".into()), "wal_mode");
    assert_eq!(
        field_of(|i| i.client_auth = "kerberos".into()),
        "client_auth"
    );
    assert_eq!(
        field_of(|i| i.transit_encryption = "ssl".into()),
        "transit_encryption"
    );
    assert_eq!(
        field_of(|i| i.endpoint_exposure = "moon".into()),
        "endpoint_exposure"
    );
    assert_eq!(field_of(|i| i.tags = "novalue".into()), "tags");
    assert_eq!(field_of(|i| i.size_aku = "2".into()), "size_aku");
    assert_eq!(field_of(|i| i.size_aku = "six".into()), "size_aku");
}

#[test]
fn security_combinations_that_make_no_sense_are_refused() {
    assert_eq!(
        field_of(|i| {
            i.client_auth = "mtls".into();
            i.transit_encryption = "plaintext".into();
        }),
        "transit_encryption"
    );
    assert_eq!(
        field_of(|i| {
            i.endpoint_exposure = "internet".into();
            i.client_auth = "anonymous".into();
        }),
        "client_auth"
    );
    assert_eq!(
        field_of(|i| {
            i.endpoint_exposure = "internet".into();
            i.transit_encryption = "plaintext".into();
        }),
        "transit_encryption"
    );
}

#[test]
fn network_ids_follow_the_cloud() {
    let mut input = good();
    input.vpc_id = "vpc-bp1abcdefgh".into();
    input.subnet_1 = "vsw-bp1aaaaaaaa".into();
    input.subnet_2 = "vsw-bp1bbbbbbbb".into();
    input.subnet_3 = "vsw-bp1cccccccc".into();
    let spec = validate(&input, "alibaba", "cn-hangzhou", 500).unwrap();
    assert_eq!(spec.zones[0], "cn-hangzhou-a");
    input.vpc_id = "prod-network".into();
    input.subnet_1 = "a".into();
    input.subnet_2 = "b".into();
    input.subnet_3 = "c".into();
    assert!(validate(&input, "gcp", "europe-west1", 500).is_ok());
    assert_eq!(
        validate(&input, "aws", "eu-central-1", 500)
            .unwrap_err()
            .field,
        "vpc_id"
    );
}

#[test]
fn size_bounds_and_the_license_maximum() {
    assert_eq!(parse_size(" 3 ", 500), Ok(3));
    assert_eq!(parse_size("500", 500), Ok(500));
    assert!(parse_size("501", 500)
        .unwrap_err()
        .message
        .contains("at most 500"));
    let licensed = parse_size("40", 32).unwrap_err();
    assert!(
        licensed.message.contains("at most 32 AKU (the license"),
        "{licensed}"
    );
    assert!(parse_size("-1", 500).is_err());
    assert!(parse_size("4.5", 500).is_err());
}

#[test]
fn tags() {
    assert!(parse_tags("").unwrap().is_empty());
    assert!(parse_tags("a=1\na=2")
        .unwrap_err()
        .message
        .contains("twice"));
    let many: String = (0..21).map(|i| format!("k{i}=v\n")).collect();
    assert!(parse_tags(&many)
        .unwrap_err()
        .message
        .contains("At most 20"));
    assert_eq!(parse_tags("env = prod").unwrap()["env"], "prod");
}
