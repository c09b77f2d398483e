//! The route table: every route's method, path and allowed roles, in one place.
//!
//! The router, the authentication middleware, the OpenAPI document and docs/api.md all come
//! from (or are tested against) [`ROUTES`].

use crate::roles::Role;

/// An HTTP method the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
    /// DELETE.
    Delete,
}

impl Method {
    /// The method as written in HTTP.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a key.
    Public,
    /// Keys with one of these roles.
    Roles(&'static [Role]),
}

impl Access {
    /// Whether a key with this role may call the route (always, for a public route).
    #[must_use]
    pub fn allows(self, role: Role) -> bool {
        match self {
            Access::Public => true,
            Access::Roles(roles) => roles.contains(&role),
        }
    }
}

/// What a route does: the handler it dispatches to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// Liveness and the journal head.
    Health,
    /// The OpenAPI document.
    OpenApi,
    /// Prometheus metrics.
    Metrics,
    /// Submit one command.
    SubmitCommand,
    /// Submit a batch of commands.
    SubmitBatch,
    /// Journal head, state hash, clock, venue status.
    State,
    /// One account.
    Account,
    /// Lending markets, perpetual markets and prices.
    Markets,
    /// Insurance funds.
    Funds,
    /// Staker and stability pools.
    Pools,
    /// External cover and its claims.
    Cover,
    /// Deficits waiting, recognised and paid, and recapitalisation auctions.
    Deficits,
    /// Governance proposals.
    Proposals,
    /// Incidents and claims.
    Claims,
    /// Journal batches after a sequence number.
    Events,
    /// Server-sent events: backlog then live batches.
    EventStream,
    /// Make an API key.
    CreateKey,
    /// List API keys.
    ListKeys,
    /// Revoke an API key.
    RevokeKey,
    /// Capital by layer against exposure, open deficits, what price drops make liquidatable.
    Risk,
    /// Run a shock on a copy of the state (read-only what-if).
    Stress,
    /// The role and accounts of the key sent.
    Session,
    /// The dashboard page.
    Dashboard,
    /// A static file of the dashboard.
    Asset,
}

/// One route of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// HTTP method.
    pub method: Method,
    /// Path, with `{name}` for path parameters (axum and OpenAPI syntax alike).
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// The handler.
    pub endpoint: Endpoint,
    /// One line for the OpenAPI document and the docs.
    pub summary: &'static str,
}

use Role::{Admin, Governance, Keeper, Oracle, User};

/// Every role.
const ANY: &[Role] = &[Admin, Oracle, Keeper, Governance, User];
/// Operators: everyone but account holders.
const OPERATORS: &[Role] = &[Admin, Oracle, Keeper, Governance];
/// Those who read accounts (users: their own only).
const ACCOUNT_READERS: &[Role] = &[Admin, Keeper, Governance, User];
/// Those who read the journal.
const JOURNAL_READERS: &[Role] = &[Admin, Keeper, Governance];
/// Those who run what-ifs on the live state.
const STRESS_RUNNERS: &[Role] = &[Admin, Keeper, Governance];
/// Administrators.
const ADMIN: &[Role] = &[Admin];

/// Every route of the API.
pub const ROUTES: &[Route] = &[
    Route {
        method: Method::Get,
        path: "/healthz",
        access: Access::Public,
        endpoint: Endpoint::Health,
        summary: "Liveness, journal head and backend (503 after a writer failure)",
    },
    Route {
        method: Method::Get,
        path: "/openapi.json",
        access: Access::Public,
        endpoint: Endpoint::OpenApi,
        summary: "This API's OpenAPI document",
    },
    Route {
        method: Method::Get,
        path: "/metrics",
        access: Access::Roles(OPERATORS),
        endpoint: Endpoint::Metrics,
        summary: "Prometheus metrics (text exposition format)",
    },
    Route {
        method: Method::Post,
        path: "/v1/commands",
        access: Access::Roles(ANY),
        endpoint: Endpoint::SubmitCommand,
        summary: "Submit one command; answered once its outcome is durable",
    },
    Route {
        method: Method::Post,
        path: "/v1/batches",
        access: Access::Roles(ANY),
        endpoint: Endpoint::SubmitBatch,
        summary: "Submit a batch of commands as one journal entry; answered once durable",
    },
    Route {
        method: Method::Get,
        path: "/v1/state",
        access: Access::Roles(ANY),
        endpoint: Endpoint::State,
        summary: "Journal head, state hash, clock and venue status",
    },
    Route {
        method: Method::Get,
        path: "/v1/accounts/{id}",
        access: Access::Roles(ACCOUNT_READERS),
        endpoint: Endpoint::Account,
        summary: "One account (user keys: their own accounts only)",
    },
    Route {
        method: Method::Get,
        path: "/v1/markets",
        access: Access::Roles(ANY),
        endpoint: Endpoint::Markets,
        summary: "Lending markets, perpetual markets and oracle prices",
    },
    Route {
        method: Method::Get,
        path: "/v1/funds",
        access: Access::Roles(ANY),
        endpoint: Endpoint::Funds,
        summary: "Insurance funds and offsets",
    },
    Route {
        method: Method::Get,
        path: "/v1/pools",
        access: Access::Roles(ANY),
        endpoint: Endpoint::Pools,
        summary: "Staker pools and stability pools",
    },
    Route {
        method: Method::Get,
        path: "/v1/cover",
        access: Access::Roles(ANY),
        endpoint: Endpoint::Cover,
        summary: "External cover terms and cover claims",
    },
    Route {
        method: Method::Get,
        path: "/v1/deficits",
        access: Access::Roles(ANY),
        endpoint: Endpoint::Deficits,
        summary: "Deficits pending and recognised, layer payments, recapitalisation auctions",
    },
    Route {
        method: Method::Get,
        path: "/v1/proposals",
        access: Access::Roles(ANY),
        endpoint: Endpoint::Proposals,
        summary: "Governance proposals",
    },
    Route {
        method: Method::Get,
        path: "/v1/claims",
        access: Access::Roles(ANY),
        endpoint: Endpoint::Claims,
        summary: "Exploit incidents and claims",
    },
    Route {
        method: Method::Get,
        path: "/v1/events",
        access: Access::Roles(JOURNAL_READERS),
        endpoint: Endpoint::Events,
        summary: "Durable journal batches with seq > since (commands, outcomes, hashes)",
    },
    Route {
        method: Method::Get,
        path: "/v1/events/stream",
        access: Access::Roles(JOURNAL_READERS),
        endpoint: Endpoint::EventStream,
        summary: "Server-sent events: journal batches after since / Last-Event-ID, then live",
    },
    Route {
        method: Method::Post,
        path: "/v1/keys",
        access: Access::Roles(ADMIN),
        endpoint: Endpoint::CreateKey,
        summary: "Make an API key (shown once)",
    },
    Route {
        method: Method::Get,
        path: "/v1/keys",
        access: Access::Roles(ADMIN),
        endpoint: Endpoint::ListKeys,
        summary: "List API keys (hashes, roles, accounts, labels)",
    },
    Route {
        method: Method::Delete,
        path: "/v1/keys/{hash}",
        access: Access::Roles(ADMIN),
        endpoint: Endpoint::RevokeKey,
        summary: "Revoke an API key by its hash",
    },
    Route {
        method: Method::Get,
        path: "/v1/risk",
        access: Access::Roles(OPERATORS),
        endpoint: Endpoint::Risk,
        summary: "Capital by layer against exposure, coverage, open deficits, at-risk at -5%..-50%",
    },
    Route {
        method: Method::Post,
        path: "/v1/stress",
        access: Access::Roles(STRESS_RUNNERS),
        endpoint: Endpoint::Stress,
        summary: "Run a shock on a copy of the state: layer payments, deficit, uncovered (read-only)",
    },
    Route {
        method: Method::Get,
        path: "/v1/session",
        access: Access::Roles(ANY),
        endpoint: Endpoint::Session,
        summary: "The role and accounts of the key sent",
    },
    Route {
        method: Method::Get,
        path: "/",
        access: Access::Public,
        endpoint: Endpoint::Dashboard,
        summary: "The web dashboard (HTML; holds no data, reads the API with the key you enter)",
    },
    Route {
        method: Method::Get,
        path: "/assets/{name}",
        access: Access::Public,
        endpoint: Endpoint::Asset,
        summary: "A static file of the dashboard (embedded in the binary)",
    },
];

/// The route with this method and path pattern (as axum's `MatchedPath` reports it).
#[must_use]
pub fn find(method: &str, path: &str) -> Option<&'static Route> {
    ROUTES.iter().find(|route| route.method.as_str() == method && route.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_unique_and_every_endpoint_has_one_route() {
        let mut seen = std::collections::BTreeSet::new();
        for route in ROUTES {
            assert!(seen.insert((route.method, route.path)), "{route:?} twice");
        }
        let mut endpoints = std::collections::HashSet::new();
        for route in ROUTES {
            assert!(endpoints.insert(route.endpoint), "{:?} twice", route.endpoint);
        }
        assert_eq!(ROUTES.len(), 24);
    }

    #[test]
    fn find_matches_method_and_pattern() {
        assert_eq!(find("GET", "/v1/keys").map(|r| r.endpoint), Some(Endpoint::ListKeys));
        assert_eq!(find("POST", "/v1/keys").map(|r| r.endpoint), Some(Endpoint::CreateKey));
        assert_eq!(find("PUT", "/v1/keys"), None);
        assert_eq!(find("GET", "/v1/accounts/3"), None);
    }

    #[test]
    fn access_of_sensitive_routes() {
        let access = |method, path| find(method, path).map(|route| route.access);
        assert_eq!(access("GET", "/healthz"), Some(Access::Public));
        assert!(!access("GET", "/metrics").is_some_and(|a| a.allows(Role::User)));
        assert!(!access("GET", "/v1/risk").is_some_and(|a| a.allows(Role::User)));
        assert!(access("GET", "/v1/risk").is_some_and(|a| a.allows(Role::Keeper)));
        for role in Role::ALL {
            let allowed = access("POST", "/v1/stress").is_some_and(|a| a.allows(role));
            assert_eq!(allowed, matches!(role, Role::Admin | Role::Keeper | Role::Governance));
        }
        assert!(!access("GET", "/v1/events").is_some_and(|a| a.allows(Role::Oracle)));
        assert!(!access("GET", "/v1/accounts/{id}").is_some_and(|a| a.allows(Role::Oracle)));
        for (method, path) in
            [("POST", "/v1/keys"), ("GET", "/v1/keys"), ("DELETE", "/v1/keys/{hash}")]
        {
            for role in Role::ALL {
                assert_eq!(
                    access(method, path).is_some_and(|a| a.allows(role)),
                    role == Role::Admin,
                    "{method} {path} {role}"
                );
            }
        }
    }
}
