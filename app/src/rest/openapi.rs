//! The REST API's OpenAPI 3.1 document, derived with utoipa from the handlers' `#[utoipa::path]`
//! annotations and the wire types (never written by hand), served at `/api/v1/openapi.json`,
//! and its reference page at `/api/v1/docs/`: Swagger UI from the crate's vendored copy, built
//! into the binary, so that it works offline.
//!
//! What every operation shares is added here once ([`Conventions`]): the bearer scheme and the
//! problem responses (400, 401, 403, 429 and 500 everywhere; 404 where the path names a
//! resource; 409 and 422 where something changes or a query is checked).

use super::environment;
use super::groups;
use super::instances;
use super::kafka_acls;
use super::kafka_users;
use super::messages;
use super::moves;
pub use super::params::*;
use super::problem::Problem;
use super::rules::{self, Network};
use super::service_accounts;
use super::topics;
use crate::server::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock, Mutex};
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::{Response as ApiResponse, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "BYOC environment console",
        description = "The console's REST API: the same services, rules, roles and audit as its \
            pages. Authenticate with a service account's token (`Authorization: Bearer <token>`); \
            every error is a problem document (RFC 9457). Lists page with `cursor` (the `next` of \
            the previous page). A create may carry an `Idempotency-Key`: a retry with the same key \
            and body gets the first answer. Each token may send 100 requests at once, then 20 a \
            second; beyond that the answer is 429 with `Retry-After`."
    ),
    paths(
        environment::environment,
        environment::license_get,
        environment::license_preview,
        environment::license_apply,
        environment::usage_month,
        environment::usage_ledger,
        environment::audit_log,
        instances::list,
        instances::create,
        instances::get,
        instances::scale,
        instances::delete,
        instances::retry,
        instances::operation,
        topics::list,
        topics::create,
        topics::set_retention,
        topics::delete,
        messages::read,
        messages::write,
        messages::browsing,
        messages::set_browsing,
        groups::list,
        groups::get,
        groups::preview,
        groups::apply,
        groups::delete,
        kafka_users::list,
        kafka_users::create,
        kafka_users::rotate,
        kafka_users::delete,
        moves::list,
        moves::start,
        kafka_acls::list,
        kafka_acls::create,
        kafka_acls::preset,
        kafka_acls::delete,
        kafka_users::certificates,
        kafka_users::issue_certificate,
        service_accounts::list,
        service_accounts::create,
        service_accounts::rotate,
        service_accounts::revoke,
    ),
    components(schemas(
        Problem,
        rules::InstanceName,
        rules::InstanceDescription,
        rules::KafkaVersion,
        rules::VpcId,
        rules::SubnetId,
        rules::Subnets,
        rules::DataBucket,
        rules::Tags,
        rules::InstanceSize,
        rules::TopicName,
        rules::GroupId,
        rules::Partitions,
        rules::RetentionHours,
        rules::KafkaUserName,
        rules::ServiceAccountName,
        rules::ExpiryDate,
        rules::AuditDay,
        rules::UsageMonth,
        rules::Cursor,
        rules::InstancePageSize,
        rules::AuditPageSize,
        rules::IdempotencyKeyValue,
        rules::ProductKeyText,
    )),
    modifiers(&Conventions, &CrossFieldRules),
    security(("bearer" = [])),
    tags(
        (name = "environment", description = "The environment at a glance"),
        (name = "license", description = "The product key (admins apply and preview)"),
        (name = "instances", description = "Kafka instances and their operations"),
        (name = "topics", description = "Topics on an instance's broker"),
        (name = "consumer groups", description = "Consumer groups of an instance's cluster: lag, offset resets"),
        (name = "kafka users", description = "SASL/SCRAM users of an instance's broker"),
        (name = "moves", description = "Moving data into an instance from a nisshi 0.8.1 storage file"),
        (name = "usage", description = "Metered usage and its ledger"),
        (name = "audit", description = "The tamper-evident audit log (admins)"),
        (name = "service accounts", description = "Tokens for automation (admins)"),
    )
)]
pub struct ApiDoc;

/// `GET /api/v1/openapi.json`: the document (public: it holds no data, only the API's shape),
/// with the network identifiers of the environment's cloud (any cloud's before setup).
pub async fn document(State(state): State<AppState>) -> Response {
    static SERVED: LazyLock<Mutex<BTreeMap<Option<String>, Arc<str>>>> =
        LazyLock::new(Default::default);
    let provider = match crate::server::shell_reads::environment(&state, None).await {
        Ok(environment) => environment.map(|e| e.cloud_provider),
        Err(error) => {
            tracing::warn!(%error, "the environment's cloud, for the API document");
            None
        }
    };
    let json = {
        let mut served = SERVED.lock().unwrap_or_else(|e| e.into_inner());
        match served.get(&provider) {
            Some(json) => json.clone(),
            None => match document_for(provider.as_deref()).to_pretty_json() {
                Ok(text) => {
                    let json: Arc<str> = text.into();
                    served.insert(provider.clone(), json.clone());
                    json
                }
                Err(error) => {
                    tracing::error!(%error, "the API document did not serialise");
                    return (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "The API document could not be made; see the console's log.",
                    )
                        .into_response();
                }
            },
        }
    };
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        json.to_string(),
    )
        .into_response()
}

/// The document for an environment on `provider`'s cloud (`None`: any cloud).
pub fn document_for(provider: Option<&str>) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    if let Some(components) = doc.components.as_mut() {
        components.schemas.insert(
            "VpcId".into(),
            rules::network_schema(Network::Vpc, provider),
        );
        components.schemas.insert(
            "SubnetId".into(),
            rules::network_schema(Network::Subnet, provider),
        );
    }
    doc
}

/// The reference page's policy: Swagger UI's own scripts and styles (no inline script; its
/// styles set through the DOM are not affected), its inline SVG icons, and calls to the
/// console itself when a reader tries an operation.
pub const DOCS_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

/// `GET /api/v1/docs` → the page's folder, so its relative asset paths resolve.
pub async fn docs_root() -> Redirect {
    Redirect::permanent("/api/v1/docs/")
}

/// `GET /api/v1/docs/`: Swagger UI on this console's document.
pub async fn docs_index() -> Response {
    docs_file(Path(String::new())).await
}

/// `GET /api/v1/docs/{file}`: the page's assets.
pub async fn docs_file(Path(file): Path<String>) -> Response {
    static CONFIG: LazyLock<Arc<utoipa_swagger_ui::Config<'static>>> =
        // The base layout: no top bar, whose logo is an SVG with an inline <style> the policy
        // refuses, and whose box for loading other documents has no use here.
        LazyLock::new(|| {
            Arc::new(utoipa_swagger_ui::Config::from("/api/v1/openapi.json").use_base_layout())
        });
    let file = if file.is_empty() { "index.html" } else { &file };
    // The error is not `Send`: keep only its text across the await below.
    let served = utoipa_swagger_ui::serve(file, CONFIG.clone()).map_err(|e| e.to_string());
    match served {
        Ok(Some(found)) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_str(&found.content_type)
                        .unwrap_or(HeaderValue::from_static("application/octet-stream")),
                ),
                (
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(DOCS_POLICY),
                ),
            ],
            found.bytes.into_owned(),
        )
            .into_response(),
        Ok(None) => super::not_found().await.into_response(),
        Err(error) => {
            tracing::error!(%error, "the API reference's files");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The shared problem responses, by status: the name under `components/responses` and what
/// it means.
const PROBLEMS: &[(u16, &str, &str)] = &[
    (
        400,
        "BadRequest",
        "The request is malformed: its body, a path or query parameter",
    ),
    (
        401,
        "Unauthenticated",
        "No token, or an unknown, revoked or expired one",
    ),
    (403, "Forbidden", "The token's role may not do this"),
    (404, "NotFound", "There is no such resource"),
    (
        409,
        "Conflict",
        "The resource's state does not allow this now",
    ),
    (
        422,
        "Invalid",
        "An input breaks a rule: `field` names it, `detail` says the rule",
    ),
    (
        429,
        "TooManyRequests",
        "The token's rate is spent: wait `Retry-After` seconds",
    ),
    (
        500,
        "Internal",
        "The server failed; `reference` names its log line",
    ),
];

/// The rules of a new instance that tie its fields together, as `if`/`then` (the same as the
/// domain's `instance_spec::validate`): one subnet per zone of the deployment; mutual TLS
/// needs TLS; an internet endpoint needs client authentication and TLS.
struct CrossFieldRules;

impl Modify for CrossFieldRules {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use crate::domain::instance_spec::{
            ClientAuth, Deployment, EndpointExposure, TransitEncryption,
        };
        use serde_json::json;
        let when = |field: &str, value: &str| json!({ "properties": { field: { "const": value } }, "required": [field] });
        let mut rules: Vec<serde_json::Value> = Deployment::ALL
            .iter()
            .map(|d| {
                let zones = rules::zones(*d);
                json!({
                    "if": when("deployment", d.as_str()),
                    "then": { "properties": { "subnets": { "minItems": zones, "maxItems": zones } } }
                })
            })
            .collect();
        rules.push(json!({
            "if": when("client_auth", ClientAuth::Mtls.as_str()),
            "then": { "properties": { "transit_encryption": { "const": TransitEncryption::Tls.as_str() } } }
        }));
        rules.push(json!({
            "if": when("endpoint_exposure", EndpointExposure::Internet.as_str()),
            "then": { "properties": {
                "client_auth": { "not": { "const": ClientAuth::Anonymous.as_str() } },
                "transit_encryption": { "const": TransitEncryption::Tls.as_str() }
            } }
        }));
        let schemas = &mut doc.components.get_or_insert_with(Default::default).schemas;
        match schemas.get_mut("NewInstance") {
            Some(RefOr::T(utoipa::openapi::schema::Schema::Object(object))) => {
                object.extensions = Some(rules::keywords([("allOf", json!(rules))]));
            }
            _ => panic!("NewInstance is an object schema"),
        }
    }
}

struct Conventions;

impl Modify for Conventions {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A service account's token (`byoc_sa_…`)"))
                    .build(),
            ),
        );
        for (status, name, description) in PROBLEMS {
            components
                .responses
                .insert((*name).to_string(), RefOr::T(problem(*status, description)));
        }
        for (path, item) in doc.paths.paths.iter_mut() {
            let names_a_resource = path.contains('{');
            for (is_read, operation) in operations(item) {
                let checks_query = operation.parameters.as_ref().is_some_and(|ps| {
                    ps.iter().any(|p| {
                        matches!(p, RefOr::T(p)
                            if matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Query))
                    })
                });
                let statuses = PROBLEMS.iter().filter(|(status, _, _)| match status {
                    404 => names_a_resource,
                    409 => !is_read,
                    422 => !is_read || checks_query,
                    _ => true,
                });
                for (status, name, _) in statuses {
                    operation
                        .responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| {
                            RefOr::Ref(Ref::new(format!("#/components/responses/{name}")))
                        });
                }
            }
        }
    }
}

/// The operations of a path, each with whether it only reads.
fn operations(item: &mut PathItem) -> Vec<(bool, &mut Operation)> {
    [
        (true, item.get.as_mut()),
        (false, item.put.as_mut()),
        (false, item.post.as_mut()),
        (false, item.delete.as_mut()),
        (false, item.patch.as_mut()),
    ]
    .into_iter()
    .filter_map(|(read, op)| op.map(|op| (read, op)))
    .collect()
}

/// A problem response (`application/problem+json`), with `Retry-After` when throttled and
/// `WWW-Authenticate` when unauthenticated.
fn problem(status: u16, description: &str) -> ApiResponse {
    let mut response = ResponseBuilder::new().description(description).content(
        "application/problem+json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Problem")))
            .build(),
    );
    if status == 429 {
        response = response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(1)),
                ))
                .description(Some("Seconds to wait"))
                .build(),
        );
    }
    if status == 401 {
        response = response.header(
            "WWW-Authenticate",
            HeaderBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .description(Some("`Bearer`"))
                .build(),
        );
    }
    response.build()
}
