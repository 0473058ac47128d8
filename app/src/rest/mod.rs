//! The REST API under `/api/v1` (feature `ssr`): JSON in and out, bearer tokens of service
//! accounts, problem details for every error. A second front door beside the pages' server
//! functions (`api/`): both authorise with `server::access`, call the same services and leave
//! the same audit entries. Bodies are limited like every request; no cookie is read, so the
//! cross-site check does not apply.

pub mod environment;
pub mod extract;
pub mod groups;
pub mod idempotency;
pub mod instances;
pub mod kafka_acls;
pub mod kafka_users;
pub mod messages;
pub mod moves;
pub mod openapi;
pub mod params;
pub mod problem;
pub mod rules;
pub mod service_accounts;
pub mod topics;

use crate::server::AppState;
use axum::routing::{get, post};
use axum::Router;
use problem::Problem;

/// The routes, to nest under `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/environment", get(environment::environment))
        .route(
            "/license",
            get(environment::license_get).put(environment::license_apply),
        )
        .route("/license/preview", post(environment::license_preview))
        .route("/usage", get(environment::usage_month))
        .route("/usage/ledger", get(environment::usage_ledger))
        .route("/openapi.json", get(openapi::document))
        .route("/docs", get(openapi::docs_root))
        .route("/docs/", get(openapi::docs_index))
        .route("/docs/{*file}", get(openapi::docs_file))
        .route("/audit", get(environment::audit_log))
        .route("/instances", get(instances::list).post(instances::create))
        .route(
            "/instances/{id}",
            get(instances::get).delete(instances::delete),
        )
        .route("/instances/{id}/scale", post(instances::scale))
        .route("/instances/{id}/retry", post(instances::retry))
        .route(
            "/instances/{id}/topics",
            get(topics::list).post(topics::create),
        )
        .route(
            "/instances/{id}/topics/{name}",
            axum::routing::patch(topics::set_retention).delete(topics::delete),
        )
        .route(
            "/instances/{id}/kafka-users",
            get(kafka_users::list).post(kafka_users::create),
        )
        .route(
            "/instances/{id}/kafka-users/{username}",
            axum::routing::delete(kafka_users::delete),
        )
        .route(
            "/instances/{id}/kafka-users/{username}/rotate",
            post(kafka_users::rotate),
        )
        .route("/instances/{id}/acls", get(kafka_acls::list))
        .route(
            "/instances/{id}/acls/{acl_id}",
            axum::routing::delete(kafka_acls::delete),
        )
        .route(
            "/instances/{id}/kafka-users/{username}/acls",
            post(kafka_acls::create),
        )
        .route(
            "/instances/{id}/kafka-users/{username}/acl-presets",
            post(kafka_acls::preset),
        )
        .route(
            "/instances/{id}/topics/{name}/messages",
            get(messages::read).post(messages::write),
        )
        .route(
            "/instances/{id}/message-browsing",
            get(messages::browsing).put(messages::set_browsing),
        )
        .route("/instances/{id}/moves", get(moves::list).post(moves::start))
        .route(
            "/instances/{id}/kafka-users/{username}/certificates",
            get(kafka_users::certificates).post(kafka_users::issue_certificate),
        )
        .route("/instances/{id}/consumer-groups", get(groups::list))
        .route(
            "/instances/{id}/consumer-groups/{group}",
            get(groups::get).delete(groups::delete),
        )
        .route(
            "/instances/{id}/consumer-groups/{group}/reset-preview",
            post(groups::preview),
        )
        .route(
            "/instances/{id}/consumer-groups/{group}/reset",
            post(groups::apply),
        )
        .route("/operations/{id}", get(instances::operation))
        .route(
            "/service-accounts",
            get(service_accounts::list).post(service_accounts::create),
        )
        .route(
            "/service-accounts/{id}",
            axum::routing::delete(service_accounts::revoke),
        )
        .route(
            "/service-accounts/{id}/rotate",
            post(service_accounts::rotate),
        )
        .fallback(not_found)
}

/// The REST API's answer to a path it does not have.
pub async fn not_found() -> Problem {
    Problem::of(crate::wire::error::AppError::NotFound(
        "There is no such resource in /api/v1.".into(),
    ))
}
