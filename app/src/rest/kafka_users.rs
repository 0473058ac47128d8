//! `/api/v1/instances/{id}/kafka-users`: the SASL/SCRAM users of an instance's broker, through
//! the same service as the Kafka panel (operators change them; a password is shown once).

use super::extract::{exact, Bearer, JsonBody, PathOf};
use super::openapi::{InstanceId, KafkaUserPath};
use super::problem::{Problem, RestError};
use super::rules::KafkaUserName;
use crate::domain::kafka_user::{self, Mechanism};
use crate::server::access::{Operator, Viewer};
use crate::server::{kafka_certificates, kafka_users, AppState};
use crate::wire::error::AppError;
use crate::wire::kafka::{KafkaUserView, NewKafkaUser};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

/// The instance's Kafka users (never a password).
#[utoipa::path(get, operation_id = "list_kafka_users", path = "/api/v1/instances/{id}/kafka-users",
    tag = "kafka users", params(InstanceId),
    responses((status = 200, description = "The users", body = Vec<KafkaUserView>),
        (status = 409, description = "The instance takes no users (not SASL/SCRAM, or deleted)",
            body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    Bearer(who): Bearer<Viewer>,
    PathOf(id): PathOf<i64>,
) -> Result<Json<Vec<KafkaUserView>>, RestError> {
    Ok(Json(kafka_users::of_instance(&state, &who, id).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// The user name clients log in with.
    #[schema(value_type = KafkaUserName)]
    pub username: String,
    #[schema(value_type = Mechanism)]
    pub mechanism: String,
}

/// Creates a user: 201 with its generated password (shown this once) and a
/// `client.properties` that uses it.
#[utoipa::path(post, operation_id = "create_kafka_user", path = "/api/v1/instances/{id}/kafka-users",
    tag = "kafka users", params(InstanceId), request_body = NewUser,
    responses((status = 201, description = "Created; the password is shown this once", body = NewKafkaUser,
        headers(("Location" = String, description = "The user's URL"))),
        (status = 409, description = "The instance takes no users (not SASL/SCRAM, or deleted), \
            has as many as it may, or has a user of this name already",
            body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    Bearer(who): Bearer<Operator>,
    PathOf(id): PathOf<i64>,
    JsonBody(user): JsonBody<NewUser>,
) -> Result<Response, RestError> {
    // The document's rules, as the service checks them (422); what it refuses after is the
    // instance's state (409).
    kafka_user::parse_name(exact("username", &user.username)?).map_err(user_field)?;
    // PLAIN is a SASL/PLAIN instance's only mechanism, `certificate` a mutual TLS one's (the
    // service checks which instance).
    let mechanism = exact("mechanism", &user.mechanism)?;
    if mechanism != kafka_user::PLAIN && mechanism != kafka_certificates::CERTIFICATE {
        Mechanism::parse(mechanism).map_err(user_field)?;
    }
    let created = kafka_users::create(&state, &who, id, &user.username, &user.mechanism)
        .await
        .map_err(RestError::in_the_way)?;
    let location = format!("/api/v1/instances/{id}/kafka-users/{}", created.username);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(created),
    )
        .into_response())
}

/// A new password for the user, shown this once; sessions that logged in with the old one end
/// at their next re-authentication, within 60 s (no restart). On a mutual TLS instance: a new
/// client certificate and its key, shown this once (the old certificate stays valid until it
/// expires: Kafka cannot revoke one).
#[utoipa::path(post, operation_id = "rotate_kafka_user",
    path = "/api/v1/instances/{id}/kafka-users/{username}/rotate",
    tag = "kafka users", params(KafkaUserPath),
    responses((status = 200, description = "The new password, shown this once", body = NewKafkaUser)))]
pub async fn rotate(
    State(state): State<AppState>,
    Bearer(who): Bearer<Operator>,
    PathOf((id, username)): PathOf<(i64, String)>,
) -> Result<Json<NewKafkaUser>, RestError> {
    Ok(Json(
        kafka_users::rotate(&state, &who, id, &username).await?,
    ))
}

/// Deletes the user: 204; its sessions end at their next re-authentication, within 60 s.
#[utoipa::path(delete, operation_id = "delete_kafka_user",
    path = "/api/v1/instances/{id}/kafka-users/{username}",
    tag = "kafka users", params(KafkaUserPath), responses((status = 204, description = "Deleted")))]
pub async fn delete(
    State(state): State<AppState>,
    Bearer(who): Bearer<Operator>,
    PathOf((id, username)): PathOf<(i64, String)>,
) -> Result<StatusCode, RestError> {
    kafka_users::delete(&state, &who, id, &username).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The client certificates issued to a user of a mutual TLS instance, newest first: serial and
/// dates (never a key; the console keeps none). Also listed after the user was deleted, until
/// the instance is.
#[utoipa::path(get, operation_id = "list_kafka_user_certificates",
    path = "/api/v1/instances/{id}/kafka-users/{username}/certificates",
    tag = "kafka users", params(KafkaUserPath),
    responses((status = 200, description = "The certificates issued to the user",
            body = Vec<kafka_certificates::IssuedCertificate>),
        (status = 404, description = "No certificate was issued to such a user",
            body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The instance does not use mutual TLS",
            body = Problem, content_type = "application/problem+json")))]
pub async fn certificates(
    State(state): State<AppState>,
    Bearer(who): Bearer<Viewer>,
    PathOf((id, username)): PathOf<(i64, String)>,
) -> Result<Json<Vec<kafka_certificates::IssuedCertificate>>, RestError> {
    Ok(Json(
        kafka_certificates::of_user(&state, &who, id, &username).await?,
    ))
}

/// Issues a new client certificate to a user of a mutual TLS instance: 201 with the
/// certificate and its key, shown this once (the key is made for this answer and never kept),
/// valid 30 days. Earlier certificates stay valid until they expire (Kafka cannot revoke one).
#[utoipa::path(post, operation_id = "issue_kafka_user_certificate",
    path = "/api/v1/instances/{id}/kafka-users/{username}/certificates",
    tag = "kafka users", params(KafkaUserPath),
    responses((status = 201, description = "The certificate and its key, shown this once",
            body = NewKafkaUser),
        (status = 404, description = "The instance has no such user",
            body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The instance does not use mutual TLS",
            body = Problem, content_type = "application/problem+json")))]
pub async fn issue_certificate(
    State(state): State<AppState>,
    Bearer(who): Bearer<Operator>,
    PathOf((id, username)): PathOf<(i64, String)>,
) -> Result<(StatusCode, Json<NewKafkaUser>), RestError> {
    let issued = kafka_certificates::issue_to(&state, &who, id, &username).await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

fn user_field(error: crate::domain::instance_spec::SpecError) -> AppError {
    AppError::invalid(error.field, error)
}
