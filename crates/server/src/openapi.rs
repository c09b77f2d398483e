//! The OpenAPI document, built from the route table so it lists exactly the routes served.
//!
//! Envelope types derive `ToSchema`; engine types (commands, events, accounts, markets) appear
//! as objects with a description pointing at the docs; amounts are decimal strings (the
//! `Amount` component).

use crate::envelope::{
    BatchRequest, BatchResponse, CommandRequest, CommandResult, EventsResponse, HealthResponse,
    KeyInfo, KeyList, NewKeyRequest, NewKeyResponse, ResultStatus, RevokedKey, StateResponse,
};
use crate::error::{ErrorBody, ErrorCode, ErrorDetail};
use crate::roles::Role;
use crate::routes::{Access, Endpoint, Method, ROUTES, Route};
use serde_json::json;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ArrayBuilder, ComponentsBuilder, ObjectBuilder, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    Content, InfoBuilder, OpenApi, OpenApiBuilder, Paths, Ref, Required, ResponseBuilder,
};

/// Name of the bearer security scheme.
const BEARER: &str = "bearer";

/// The success response of an endpoint: status, description, content type and schema name
/// (None: a generic object described by the text).
fn success(endpoint: Endpoint) -> (&'static str, &'static str, &'static str, Option<&'static str>) {
    const JSON: &str = "application/json";
    match endpoint {
        Endpoint::Health => {
            ("200", "Healthy (503 with status `unhealthy` otherwise)", JSON, Some("HealthResponse"))
        }
        Endpoint::OpenApi => ("200", "This document", JSON, None),
        Endpoint::Metrics => ("200", "Prometheus text exposition format 0.0.4", "text/plain", None),
        Endpoint::SubmitCommand => (
            "200",
            "Applied and durable (422 with the same shape, status `rejected`, when the engine \
             refused it; the rejection is durable too)",
            JSON,
            Some("CommandResult"),
        ),
        Endpoint::SubmitBatch => {
            ("200", "Durable: one result per command", JSON, Some("BatchResponse"))
        }
        Endpoint::State => ("200", "Journal head and state hash", JSON, Some("StateResponse")),
        Endpoint::Account => (
            "200",
            "`{seq, id, account, health, liquidatable}`: the account (holdings per asset, \
             positions per perpetual market; amounts as decimal strings) and its health",
            JSON,
            None,
        ),
        Endpoint::Markets => {
            ("200", "`{seq, now, prices, lending, perps, auctions, fees}`", JSON, None)
        }
        Endpoint::Funds => ("200", "`{seq, funds, offsets}`", JSON, None),
        Endpoint::Pools => ("200", "`{seq, staker_pools, stability_pools}`", JSON, None),
        Endpoint::Cover => ("200", "`{seq, covers, claims}`", JSON, None),
        Endpoint::Deficits => (
            "200",
            "`{seq, market_deficits, pending, recognized, payments, recap_auctions, status}`",
            JSON,
            None,
        ),
        Endpoint::Proposals => ("200", "`{seq, proposals}`", JSON, None),
        Endpoint::Claims => ("200", "`{seq, incidents, claims}`", JSON, None),
        Endpoint::Events => ("200", "A page of journal batches", JSON, Some("EventsResponse")),
        Endpoint::EventStream => (
            "200",
            "Server-sent events: `id: <seq>`, `event: batch`, `data: <batch JSON>`",
            "text/event-stream",
            None,
        ),
        Endpoint::CreateKey => ("201", "The new key, shown once", JSON, Some("NewKeyResponse")),
        Endpoint::ListKeys => ("200", "Every key (hashes only)", JSON, Some("KeyList")),
        Endpoint::RevokeKey => ("200", "Revoked", JSON, Some("RevokedKey")),
        Endpoint::Stress => (
            "200",
            "`{seq, state_hash, markets: [{market, asset, deficit, paid, socialized, uncovered}], \
             liquidations, rejected, commands}`",
            JSON,
            None,
        ),
        Endpoint::Session => ("200", "`{role, accounts}` of the key sent", JSON, None),
        Endpoint::Dashboard => ("200", "The dashboard page", "text/html", None),
        Endpoint::Asset => {
            ("200", "The file (CSS, JavaScript module or SVG)", "application/octet-stream", None)
        }
        Endpoint::Risk => (
            "200",
            "`{seq, layers, capital_value, markets (with the waterfall steps: balance, caps, \
             paid), exposure_value, coverage, deficits, deficit_value, at_risk}`; money as \
             decimal strings",
            JSON,
            None,
        ),
    }
}

/// The request body schema of an endpoint, if it takes one.
fn request_schema(endpoint: Endpoint) -> Option<&'static str> {
    match endpoint {
        Endpoint::SubmitCommand => Some("CommandRequest"),
        Endpoint::SubmitBatch => Some("BatchRequest"),
        Endpoint::CreateKey => Some("NewKeyRequest"),
        _ => None,
    }
}

/// Error codes an endpoint may answer, besides authentication and authorization failures.
fn error_codes(route: &Route) -> Vec<ErrorCode> {
    let mut codes = Vec::new();
    if request_schema(route.endpoint).is_some() {
        codes.extend([
            ErrorCode::MalformedJson,
            ErrorCode::UnknownField,
            ErrorCode::InvalidValue,
            ErrorCode::MissingField,
            ErrorCode::BodyTooLarge,
            ErrorCode::UnsupportedMediaType,
        ]);
    }
    match route.endpoint {
        Endpoint::SubmitCommand | Endpoint::SubmitBatch => codes.extend([
            ErrorCode::IdempotencyConflict,
            ErrorCode::QueueFull,
            ErrorCode::JournalUnavailable,
            ErrorCode::Unhealthy,
        ]),
        Endpoint::Asset => codes.push(ErrorCode::NotFound),
        Endpoint::Account | Endpoint::RevokeKey => {
            codes.extend([ErrorCode::InvalidValue, ErrorCode::NotFound]);
        }
        Endpoint::Events | Endpoint::EventStream => {
            codes.extend([
                ErrorCode::UnknownField,
                ErrorCode::InvalidValue,
                ErrorCode::JournalUnavailable,
            ]);
        }
        Endpoint::Health => codes.push(ErrorCode::Unhealthy),
        _ => {}
    }
    if route.endpoint == Endpoint::SubmitBatch {
        codes.extend([ErrorCode::EmptyBatch, ErrorCode::BatchTooLarge]);
    }
    if let Access::Roles(_) = route.access {
        codes.extend([ErrorCode::MissingApiKey, ErrorCode::InvalidApiKey, ErrorCode::Forbidden]);
    }
    codes
}

/// An unsigned 64-bit integer (account ids, journal seqs): OpenAPI's `int64` format would say
/// signed, so the range is spelled out instead.
fn unsigned(minimum: u64, maximum: u64) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(minimum)).maximum(Some(maximum))
}

/// Schema of a list of account ids (unsigned 64-bit).
pub(crate) fn account_ids() -> ArrayBuilder {
    ArrayBuilder::new()
        .items(unsigned(0, u64::MAX))
        .description(Some("Account ids (unsigned 64-bit integers)"))
}

/// Schema of a role name.
pub(crate) fn role_name() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(Role::ALL.map(Role::as_str)))
        .description(Some("The key's role"))
        .examples(["user"])
}

/// The names the venue status serializes to.
pub(crate) const VENUE_STATUSES: [&str; 3] = ["active", "on_ice", "frozen"];

/// Schema of the venue status.
pub(crate) fn venue_status() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(VENUE_STATUSES))
        .description(Some("Venue status set by the circuit breakers"))
}

/// A path or query parameter.
fn parameter(
    name: &str,
    location: ParameterIn,
    required: bool,
    description: &str,
) -> utoipa::openapi::path::Parameter {
    let schema = match name {
        "hash" => ObjectBuilder::new().schema_type(Type::String).pattern(Some("^[0-9a-f]{64}$")),
        "limit" => unsigned(1, crate::events::MAX_LIMIT),
        _ => unsigned(0, u64::MAX),
    };
    ParameterBuilder::new()
        .name(name)
        .parameter_in(location)
        .required(if required { Required::True } else { Required::False })
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

/// The operation of one route.
fn operation(route: &Route) -> utoipa::openapi::path::Operation {
    let roles = match route.access {
        Access::Public => "Public: no key needed.".to_owned(),
        Access::Roles(roles) => format!(
            "Roles: {}.",
            roles.iter().map(|role| role.as_str()).collect::<Vec<_>>().join(", ")
        ),
    };
    let mut builder = OperationBuilder::new()
        .summary(Some(route.summary))
        .description(Some(roles))
        .operation_id(Some(format!("{:?}", route.endpoint)))
        .tag(if route.path.starts_with("/v1/keys") {
            "keys"
        } else if route.path.starts_with("/v1") {
            "engine"
        } else {
            "service"
        });
    for segment in route.path.split('/') {
        if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            let description = match name {
                "hash" => "SHA-256 of the key (hex)",
                "name" => "File name, e.g. app.js",
                _ => "Account id",
            };
            builder = builder.parameter(parameter(name, ParameterIn::Path, true, description));
        }
    }
    match route.endpoint {
        Endpoint::Events => {
            builder = builder
                .parameter(parameter(
                    "since",
                    ParameterIn::Query,
                    false,
                    "Batches with seq > since (default 0)",
                ))
                .parameter(parameter(
                    "limit",
                    ParameterIn::Query,
                    false,
                    "At most this many (1..=1000, default 100)",
                ));
        }
        Endpoint::EventStream => {
            builder = builder
                .parameter(parameter(
                    "since",
                    ParameterIn::Query,
                    false,
                    "Batches with seq > since (default 0)",
                ))
                .parameter(parameter(
                    "Last-Event-ID",
                    ParameterIn::Header,
                    false,
                    "A reconnecting client's last seq; wins over since",
                ));
        }
        _ => {}
    }
    if let Some(schema) = request_schema(route.endpoint) {
        let deposit = json!({"type": "deposit", "account": 1, "asset": 0, "amount": "1500.25"});
        let example = match route.endpoint {
            Endpoint::SubmitCommand => {
                Some(json!({"command": deposit, "idempotency_key": "deposit-1-0001"}))
            }
            Endpoint::SubmitBatch => Some(json!({"commands": [
                {"command": {"type": "open_account", "account": 2}, "idempotency_key": "open-2"},
                {"command": deposit},
            ]})),
            Endpoint::CreateKey => Some(json!({"role": "user", "accounts": [1], "label": "alice"})),
            _ => None,
        };
        let content = ContentBuilder::new()
            .schema(Some(Ref::from_schema_name(schema)))
            .example(example)
            .build();
        builder = builder.request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content("application/json", content)
                .build(),
        ));
    }
    let (status, description, content_type, schema) = success(route.endpoint);
    let content = match schema {
        Some(name) => Content::new(Some(Ref::from_schema_name(name))),
        None => Content::new(Some(
            ObjectBuilder::new()
                .schema_type(if content_type == "application/json" {
                    Type::Object
                } else {
                    Type::String
                })
                .description(Some(description)),
        )),
    };
    builder = builder.response(
        status,
        ResponseBuilder::new().description(description).content(content_type, content).build(),
    );
    if route.endpoint == Endpoint::SubmitCommand {
        builder = builder.response(
            "422",
            ResponseBuilder::new()
                .description(
                    "`rejected`: the engine refused the command (durable, like an applied one)",
                )
                .content(
                    "application/json",
                    Content::new(Some(Ref::from_schema_name("CommandResult"))),
                )
                .build(),
        );
    }
    let mut by_status: std::collections::BTreeMap<u16, Vec<&str>> =
        std::collections::BTreeMap::new();
    for code in error_codes(route) {
        let codes = by_status.entry(code.status()).or_default();
        if !codes.contains(&code.as_str()) {
            codes.push(code.as_str());
        }
    }
    for (status, codes) in by_status {
        builder = builder.response(
            status.to_string(),
            ResponseBuilder::new()
                .description(format!("Error envelope; code: {}", codes.join(", ")))
                .content("application/json", Content::new(Some(Ref::from_schema_name("ErrorBody"))))
                .build(),
        );
    }
    if let Access::Roles(_) = route.access {
        builder = builder.security(SecurityRequirement::new(BEARER, Vec::<String>::new()));
    }
    builder.build()
}

/// The OpenAPI document of the API.
#[must_use]
pub fn document() -> OpenApi {
    let mut paths = Paths::new();
    for route in ROUTES {
        let method = match route.method {
            Method::Get => HttpMethod::Get,
            Method::Post => HttpMethod::Post,
            Method::Delete => HttpMethod::Delete,
        };
        paths.add_path_operation(route.path, vec![method], operation(route));
    }
    let amount = ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(
            "A decimal string with up to 18 fractional digits (fixed point; JSON integers are \
             accepted too, floats never), e.g. \"1500.25\" or \"-0.5\"",
        ))
        .examples(["1500.25"]);
    let components = ComponentsBuilder::new()
        .schema_from::<CommandRequest>()
        .schema_from::<BatchRequest>()
        .schema_from::<CommandResult>()
        .schema_from::<ResultStatus>()
        .schema_from::<BatchResponse>()
        .schema_from::<HealthResponse>()
        .schema_from::<StateResponse>()
        .schema_from::<EventsResponse>()
        .schema_from::<NewKeyRequest>()
        .schema_from::<NewKeyResponse>()
        .schema_from::<KeyInfo>()
        .schema_from::<KeyList>()
        .schema_from::<RevokedKey>()
        .schema_from::<ErrorBody>()
        .schema_from::<ErrorDetail>()
        .schema("Amount", amount)
        .security_scheme(BEARER, SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)))
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Backstop")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Backstop as a service: submit commands (answered once durable), read the \
                     engine's state, follow the journal. Amounts are decimal strings. See \
                     docs/api.md.",
                ))
                .build(),
        )
        .paths(paths)
        .components(Some(components))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_of_the_table_is_documented_with_its_method() {
        let document = serde_json::to_value(document()).expect("the document serializes");
        let paths = document["paths"].as_object().expect("paths");
        let mut operations = 0;
        for (_, item) in paths {
            operations += item.as_object().map_or(0, |item| {
                ["get", "post", "delete", "put", "patch"]
                    .iter()
                    .filter(|m| item.contains_key(**m))
                    .count()
            });
        }
        assert_eq!(operations, ROUTES.len());
        for route in ROUTES {
            let method = route.method.as_str().to_ascii_lowercase();
            let operation = &document["paths"][route.path][&method];
            assert!(operation.is_object(), "{} {} missing", route.method.as_str(), route.path);
            let secured = operation.get("security").is_some();
            assert_eq!(secured, route.access != Access::Public, "{}", route.path);
        }
        assert!(document["components"]["securitySchemes"][BEARER].is_object());
        assert_eq!(document["components"]["schemas"]["Amount"]["type"], "string");
    }
}

#[cfg(test)]
mod schema_tests {
    use super::*;
    use backstop_core::backstop::net::VenueStatus;
    use serde_json::Value;

    fn document_json() -> Value {
        serde_json::to_value(document()).expect("the document serializes")
    }

    /// The schema of a parameter of an operation.
    fn parameter_schema(document: &Value, path: &str, method: &str, name: &str) -> Value {
        document["paths"][path][method]["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .find(|parameter| parameter["name"] == name)
            .unwrap_or_else(|| panic!("{method} {path} has no parameter {name}"))["schema"]
            .clone()
    }

    #[test]
    fn numeric_parameters_document_the_unsigned_range_the_server_accepts() {
        let document = document_json();
        let full = json!({"type": "integer", "minimum": 0, "maximum": u64::MAX});
        assert_eq!(parameter_schema(&document, "/v1/accounts/{id}", "get", "id"), full);
        assert_eq!(parameter_schema(&document, "/v1/events", "get", "since"), full);
        assert_eq!(parameter_schema(&document, "/v1/events/stream", "get", "since"), full);
        assert_eq!(parameter_schema(&document, "/v1/events/stream", "get", "Last-Event-ID"), full);
        assert_eq!(
            parameter_schema(&document, "/v1/keys/{hash}", "delete", "hash"),
            json!({"type": "string", "pattern": "^[0-9a-f]{64}$"})
        );
        assert_eq!(
            parameter_schema(&document, "/v1/events", "get", "limit"),
            json!({"type": "integer", "minimum": 1, "maximum": 1000})
        );
    }

    #[test]
    fn body_fields_document_what_the_server_accepts_and_sends() {
        let document = document_json();
        let schemas = &document["components"]["schemas"];
        // The venue status is a string, one of the names VenueStatus serializes to.
        let status = &schemas["StateResponse"]["properties"]["status"];
        assert_eq!(status["type"], "string", "{status}");
        for venue in [VenueStatus::Active, VenueStatus::OnIce, VenueStatus::Frozen] {
            let name = serde_json::to_value(venue).expect("serializes");
            assert!(
                status["enum"].as_array().is_some_and(|names| names.contains(&name)),
                "{name} not in {status}"
            );
        }
        // Roles are an enum; account ids unsigned 64-bit.
        for schema in ["NewKeyRequest", "KeyInfo"] {
            let properties = &schemas[schema]["properties"];
            assert_eq!(
                properties["role"]["enum"],
                json!(["admin", "oracle", "keeper", "governance", "user"]),
                "{schema}"
            );
            assert_eq!(
                properties["accounts"]["items"],
                json!({"type": "integer", "minimum": 0, "maximum": u64::MAX}),
                "{schema}"
            );
        }
        let key = &schemas["CommandRequest"]["properties"]["idempotency_key"];
        assert_eq!(key["maxLength"], crate::envelope::MAX_IDEMPOTENCY_KEY_LEN, "{key}");
        assert_eq!(key["minLength"], 1, "{key}");
        assert_eq!(key["pattern"], "^[ -~]+$", "{key}");
    }
}
