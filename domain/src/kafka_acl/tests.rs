use super::*;

fn input(kind: &str, name: &str, pattern: &str, op: &str) -> AclInput {
    AclInput {
        resource_type: kind.into(),
        resource_name: name.into(),
        pattern: pattern.into(),
        operation: op.into(),
        permission: String::new(),
        host: String::new(),
    }
}

#[test]
fn a_typed_rule_is_checked_and_defaults_are_allow_literal_any_host() {
    let rule = parse_rule(&input("topic", " orders ", "", "read")).unwrap();
    assert_eq!(
        rule,
        AclRule {
            resource_type: ResourceType::Topic,
            resource_name: "orders".into(),
            pattern: Pattern::Literal,
            operation: Operation::Read,
            permission: Permission::Allow,
            host: "*".into(),
        }
    );
    assert_eq!(rule.describe(), "allow read on topic orders from any host");
    let prefixed = parse_rule(&input("group", "billing-", "prefixed", "read")).unwrap();
    assert_eq!(
        prefixed.describe(),
        "allow read on consumer groups starting with billing- from any host"
    );
}

#[test]
fn each_field_is_refused_by_name() {
    let field = |i: AclInput| parse_rule(&i).unwrap_err().field;
    assert_eq!(field(input("queue", "a", "", "read")), "resource_type");
    assert_eq!(field(input("topic", "", "", "read")), "resource_name");
    assert_eq!(field(input("topic", "a b", "", "read")), "resource_name");
    assert_eq!(
        field(input("topic", &"a".repeat(250), "", "read")),
        "resource_name"
    );
    assert_eq!(
        field(input("topic", "*", "prefixed", "read")),
        "resource_name"
    );
    assert_eq!(field(input("topic", "a", "regex", "read")), "pattern");
    assert_eq!(field(input("topic", "a", "", "fly")), "operation");
    // Kafka never checks WRITE on a group: refused rather than kept as a dead rule.
    let e = parse_rule(&input("group", "g", "", "write")).unwrap_err();
    assert_eq!(e.field, "operation");
    assert!(e.message.contains("all, read, describe, delete"), "{e}");
    let mut bad_host = input("topic", "a", "", "read");
    bad_host.host = "10.0.0.0/8".into();
    assert_eq!(field(bad_host), "host");
    let mut bad_permission = input("topic", "a", "", "read");
    bad_permission.permission = "maybe".into();
    assert_eq!(field(bad_permission), "permission");
}

#[test]
fn no_client_may_be_allowed_to_change_users_rights_or_settings() {
    for op in ["alter", "all", "alter_configs", "cluster_action"] {
        let e = parse_rule(&input("cluster", "", "", op)).unwrap_err();
        assert_eq!(e.field, "operation", "{op}");
        assert!(e.message.contains("grant itself rights"), "{e}");
    }
    // Denying them is harmless, and the cluster's name is always Kafka's own.
    let mut deny = input("cluster", "whatever", "prefixed", "alter");
    deny.permission = "deny".into();
    let rule = parse_rule(&deny).unwrap();
    assert_eq!(rule.resource_name, CLUSTER_NAME);
    assert_eq!(rule.pattern, Pattern::Literal);
    assert!(parse_rule(&input("cluster", "", "", "idempotent_write")).is_ok());
}

#[test]
fn hosts_are_any_or_one_address() {
    let mut i = input("topic", "t", "", "read");
    i.host = " 10.1.2.3 ".into();
    assert_eq!(parse_rule(&i).unwrap().host, "10.1.2.3");
    i.host = "::1".into();
    assert_eq!(parse_rule(&i).unwrap().host, "::1");
}

#[test]
fn presets_expand_to_the_rules_clients_need() {
    let (preset, rules) = expand_preset(&PresetInput {
        preset: "consume".into(),
        topic: "orders.".into(),
        topic_pattern: "prefixed".into(),
        group: "billing".into(),
        group_pattern: String::new(),
    })
    .unwrap();
    assert_eq!(preset, Preset::Consume);
    let said: Vec<String> = rules.iter().map(AclRule::describe).collect();
    assert_eq!(
        said,
        [
            "allow read on topics starting with orders. from any host",
            "allow describe on topics starting with orders. from any host",
            "allow read on consumer group billing from any host",
        ]
    );
    let (_, produce) = expand_preset(&PresetInput {
        preset: "produce".into(),
        topic: "*".into(),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(produce.len(), 2);
    assert_eq!(produce[0].operation, Operation::Write);
}

#[test]
fn a_preset_names_its_own_fields() {
    let consume = |topic: &str, group: &str| PresetInput {
        preset: "consume".into(),
        topic: topic.into(),
        group: group.into(),
        ..Default::default()
    };
    assert_eq!(expand_preset(&consume("", "g")).unwrap_err().field, "topic");
    assert_eq!(expand_preset(&consume("t", "")).unwrap_err().field, "group");
    assert_eq!(
        expand_preset(&PresetInput {
            preset: "everything".into(),
            ..Default::default()
        })
        .unwrap_err()
        .field,
        "preset"
    );
}

#[test]
fn codes_are_kafkas() {
    assert_eq!(ResourceType::Topic.code(), 2);
    assert_eq!(ResourceType::TransactionalId.code(), 5);
    assert_eq!(Operation::IdempotentWrite.code(), 12);
    assert_eq!(Permission::Deny.code(), 2);
    assert_eq!(Pattern::Prefixed.code(), 4);
    for op in Operation::ALL {
        assert_eq!(Operation::from_code(op.code()), Some(*op));
    }
}

#[test]
fn drift_names_what_to_create_and_what_to_delete() {
    let (create, delete) = drift(&[1, 2, 3], &[2, 3, 4, 5]);
    assert_eq!(create, [1]);
    assert_eq!(delete, [4, 5]);
    assert_eq!(drift(&[1], &[1]), (vec![], vec![]));
}

#[test]
fn a_deleted_certificate_user_is_denied_everything_on_every_resource_type() {
    let rules = deny_everything();
    assert_eq!(rules.len(), ResourceType::ALL.len());
    for rule in &rules {
        assert_eq!(rule.permission, Permission::Deny);
        assert_eq!(rule.operation, Operation::All);
        assert_eq!(rule.pattern, Pattern::Literal);
        assert_eq!(rule.host, "*");
        // Each is a rule the console would accept from an operator.
        let typed = parse_rule(&AclInput {
            resource_type: rule.resource_type.as_str().into(),
            resource_name: rule.resource_name.clone(),
            pattern: "literal".into(),
            operation: "all".into(),
            permission: "deny".into(),
            host: "*".into(),
        })
        .unwrap();
        assert_eq!(&typed, rule);
    }
    assert_eq!(
        rules[0].describe(),
        parse_rule(&input("topic", "*", "", "all"))
            .map(|r| AclRule {
                permission: Permission::Deny,
                ..r
            })
            .unwrap()
            .describe()
    );
}
