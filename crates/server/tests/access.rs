//! Authentication, the role matrix and bad input over HTTP, on both journal backends: every
//! refusal has its status and stable code, and writes nothing.

mod support;

use backstop_server::Role;
use backstop_server::routes::{Access, Method, ROUTES};
use backstop_testkit::http::{Client, Response};
use serde_json::{Value, json};
use support::{Backend, Harness, deposit, open, submit};

on_both_backends!(
    every_denied_role_and_route_is_forbidden_and_writes_nothing,
    commands_outside_a_role_are_forbidden_and_write_nothing,
    users_act_for_and_read_only_their_own_accounts,
    missing_and_unknown_keys_are_unauthorized,
    malformed_bodies_get_stable_codes_and_write_nothing,
    oversized_bodies_and_wrong_media_types_are_refused,
    unknown_routes_methods_and_accounts_are_not_found,
    head_requests_are_checked_like_the_get_they_stand_for,
);

/// A key for every role; the user owns account 1, the keeper account 2.
fn keys(harness: &Harness) -> Vec<(Role, String)> {
    Role::ALL
        .into_iter()
        .map(|role| {
            let key = match role {
                Role::Admin => harness.admin.clone(),
                Role::User => harness.key("user", &[1]),
                Role::Keeper => harness.key("keeper", &[2]),
                other => harness.key(other.as_str(), &[]),
            };
            (role, key)
        })
        .collect()
}

/// Asserts a response is an error envelope with this status and code.
fn assert_error(response: &Response, status: u16, code: &str, context: &str) {
    assert_eq!(response.status, status, "{context}: {}", response.text());
    let body = response.json();
    assert_eq!(body["error"]["code"], code, "{context}: {body}");
    assert_eq!(body["error"]["status"], status, "{context}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{context}");
}

/// Calls a route of the table with a plausible request.
fn call(client: &mut Client, method: Method, path: &str) -> Response {
    let path =
        path.replace("{id}", "1").replace("{hash}", &"ab".repeat(32)).replace("{name}", "app.js");
    let result = match method {
        Method::Get => client.get(&path),
        Method::Delete => client.delete(&path),
        Method::Post if path == "/v1/stress" => client.post_json(&path, &json!({"steps": []})),
        Method::Post if path == "/v1/keys" => client.post_json(&path, &json!({"role": "user"})),
        Method::Post if path == "/v1/batches" => {
            client.post_json(&path, &json!({"commands": [{"command": open(9)}]}))
        }
        Method::Post => client.post_json(&path, &json!({"command": open(9)})),
    };
    result.unwrap_or_else(|e| panic!("{} {path}: {e}", method.as_str()))
}

fn every_denied_role_and_route_is_forbidden_and_writes_nothing(backend: Backend) {
    let harness = Harness::new(backend);
    assert_eq!(submit(&mut harness.admin(), &open(1), None).status, 200);
    let keys = keys(&harness);
    let key_count = |harness: &Harness| {
        harness.admin().get("/v1/keys").expect("GET keys").json()["keys"].as_array().map(Vec::len)
    };
    let keys_before = key_count(&harness);
    let mut denied = 0;
    for route in ROUTES {
        let Access::Roles(allowed) = route.access else { continue };
        for (role, key) in &keys {
            if allowed.contains(role) {
                continue;
            }
            let response = call(&mut harness.client(key), route.method, route.path);
            let context = format!("{role} {} {}", route.method.as_str(), route.path);
            assert_error(&response, 403, "forbidden", &context);
            denied += 1;
        }
    }
    // metrics: user; account: oracle; events and stream: oracle, user; keys ×3: 4 roles each;
    // risk: user; stress: oracle, user.
    assert_eq!(denied, 1 + 1 + 2 + 2 + 12 + 1 + 2);
    assert_eq!(harness.seq(), 1);
    assert_eq!(key_count(&harness), keys_before);
    // Public routes need no key at all.
    for route in ROUTES.iter().filter(|route| route.access == Access::Public) {
        let response = call(&mut harness.anonymous(), route.method, route.path);
        assert_eq!(response.status, 200, "{}", route.path);
    }
}

fn commands_outside_a_role_are_forbidden_and_write_nothing(backend: Backend) {
    let harness = Harness::new(backend);
    let keys = keys(&harness);
    let key_of =
        |role: Role| keys.iter().find(|(r, _)| *r == role).map(|(_, k)| k.clone()).expect("a key");
    let price = json!({"type": "set_price", "asset": 1, "price": "2000"});
    let clock = json!({"type": "advance_time", "now": 10});
    let accrue = json!({"type": "accrue_interest", "asset": 0});
    let queue = json!({"type": "queue", "proposal": 1});
    let exploit = json!({"type": "exploit", "asset": 0, "amount": "1"});
    let backstop = json!({"type": "open_account", "account": 1, "kind": "backstop"});
    let liquidate_for_other = json!({"type": "liquidate", "keeper": 3, "account": 1,
        "target": {"position": {"market": 0}}, "amount": "1"});
    let denied: Vec<(Role, Value)> = vec![
        (Role::Oracle, open(5)),
        (Role::Oracle, accrue.clone()),
        (Role::Oracle, exploit.clone()),
        (Role::Keeper, price.clone()),
        (Role::Keeper, deposit(2, "1")),
        (Role::Keeper, queue.clone()),
        (Role::Keeper, liquidate_for_other),
        (Role::Governance, price.clone()),
        (Role::Governance, open(5)),
        (Role::Governance, exploit.clone()),
        (Role::User, price.clone()),
        (Role::User, clock.clone()),
        (Role::User, accrue.clone()),
        (Role::User, queue.clone()),
        (Role::User, exploit.clone()),
        (Role::User, backstop),
    ];
    let allowed = |role: Role| match role {
        Role::Oracle => price.clone(),
        Role::Keeper => accrue.clone(),
        Role::Governance => queue.clone(),
        _ => open(1),
    };
    for (role, command) in &denied {
        let response = submit(&mut harness.client(&key_of(*role)), command, None);
        assert_error(&response, 403, "forbidden", &format!("{role} {command}"));
        // In a batch, one denied command refuses the whole request, allowed ones included.
        let commands = json!({"commands": [{"command": allowed(*role)}, {"command": command}]});
        let batch =
            harness.client(&key_of(*role)).post_json("/v1/batches", &commands).expect("POST batch");
        assert_error(&batch, 403, "forbidden", &format!("batch {role} {command}"));
        assert!(batch.text().contains("command 1"), "{}", batch.text());
    }
    assert_eq!(harness.seq(), 0);
    // The same roles' own commands go through.
    assert_eq!(submit(&mut harness.client(&key_of(Role::Oracle)), &price, None).status, 200);
    assert_eq!(submit(&mut harness.client(&key_of(Role::Oracle)), &clock, None).status, 200);
    assert_eq!(submit(&mut harness.client(&key_of(Role::Keeper)), &accrue, None).status, 200);
    assert_eq!(submit(&mut harness.client(&key_of(Role::Admin)), &exploit, None).status, 422);
    assert_eq!(harness.seq(), 4);
}

fn users_act_for_and_read_only_their_own_accounts(backend: Backend) {
    let harness = Harness::new(backend);
    let user = harness.key("user", &[1]);
    let mut client = harness.client(&user);
    assert_eq!(submit(&mut client, &open(1), None).status, 200);
    assert_eq!(submit(&mut harness.admin(), &open(2), None).status, 200);
    // Deposits are the venue's custody to confirm: a user key cannot credit even its own account.
    assert_error(&submit(&mut client, &deposit(1, "5"), None), 403, "forbidden", "own deposit");
    assert_eq!(submit(&mut harness.admin(), &deposit(1, "5"), None).status, 200);
    assert_error(&submit(&mut client, &open(3), None), 403, "forbidden", "open another's");
    assert_error(&submit(&mut client, &deposit(2, "5"), None), 403, "forbidden", "deposit for 2");
    let transfer_out = json!({"type": "transfer", "from": 1, "to": 2, "asset": 0, "amount": "1"});
    assert_eq!(
        submit(&mut client, &transfer_out, None).status,
        200,
        "a transfer to another account"
    );
    let transfer_in = json!({"type": "transfer", "from": 2, "to": 1, "asset": 0, "amount": "1"});
    assert_error(&submit(&mut client, &transfer_in, None), 403, "forbidden", "transfer from 2");
    assert_eq!(harness.seq(), 4);
    let own = client.get("/v1/accounts/1").expect("GET own account");
    assert_eq!(own.status, 200, "{}", own.text());
    assert_error(&client.get("/v1/accounts/2").expect("GET other"), 403, "forbidden", "read 2");
    // Not even whether an account exists leaks: a missing account outside the key is 403 too.
    assert_error(&client.get("/v1/accounts/77").expect("GET missing"), 403, "forbidden", "read 77");
}

fn missing_and_unknown_keys_are_unauthorized(backend: Backend) {
    let harness = Harness::new(backend);
    let mut anonymous = harness.anonymous();
    assert_error(&submit(&mut anonymous, &open(1), None), 401, "missing_api_key", "no key");
    assert_error(&anonymous.get("/v1/state").expect("GET"), 401, "missing_api_key", "no key");
    let unknown = backstop_server::generate_key("admin", &[], "never stored").expect("a key").key;
    let mut stranger = harness.client(&unknown);
    assert_error(&submit(&mut stranger, &open(1), None), 401, "invalid_api_key", "unknown key");
    for header in ["Basic YWRtaW46YWRtaW4=", "Bearer", "Bearer not-a-key", "bsk_00"] {
        let response =
            anonymous.request("GET", "/v1/state", &[("authorization", header)], None).expect("GET");
        assert_error(&response, 401, "invalid_api_key", header);
    }
    assert_eq!(harness.seq(), 0);
}

fn malformed_bodies_get_stable_codes_and_write_nothing(backend: Backend) {
    let harness = Harness::new(backend);
    let mut admin = harness.admin();
    assert_eq!(submit(&mut admin, &open(1), None).status, 200);
    let raw = |admin: &mut Client, path: &str, body: &str| {
        admin
            .request("POST", path, &[("content-type", "application/json")], Some(body.as_bytes()))
            .expect("POST")
    };
    let cases: &[(&str, &str, &str)] = &[
        ("/v1/commands", r#"{"command": "#, "malformed_json"),
        ("/v1/commands", "", "malformed_json"),
        (
            "/v1/commands",
            r#"{"command": {"type": "open_account", "account": 2}} trailing"#,
            "malformed_json",
        ),
        ("/v1/batches", r#"{"commands" []}"#, "malformed_json"),
        (
            "/v1/commands",
            r#"{"command": {"type": "open_account", "account": 2}, "colour": 1}"#,
            "unknown_field",
        ),
        (
            "/v1/commands",
            r#"{"command": {"type": "open_account", "account": 2, "colour": 1}}"#,
            "unknown_field",
        ),
        ("/v1/batches", r#"{"commands": [], "atomic": true}"#, "unknown_field"),
        (
            "/v1/commands",
            r#"{"command": {"type": "deposit", "account": 1, "asset": 0}}"#,
            "missing_field",
        ),
        ("/v1/commands", r#"{}"#, "missing_field"),
        ("/v1/commands", r#"{"command": {"account": 2}}"#, "missing_field"),
        ("/v1/batches", r#"{}"#, "missing_field"),
        (
            "/v1/commands",
            r#"{"command": {"type": "deposit", "account": 1, "asset": 0, "amount": "abc"}}"#,
            "invalid_value",
        ),
        (
            "/v1/commands",
            r#"{"command": {"type": "deposit", "account": 1, "asset": 0, "amount": 5.5}}"#,
            "invalid_value",
        ),
        (
            "/v1/commands",
            r#"{"command": {"type": "deposit", "account": 1, "asset": 0, "amount": "1.0000000000000000001"}}"#,
            "invalid_value",
        ),
        (
            "/v1/commands",
            r#"{"command": {"type": "deposit", "account": 1, "asset": 0, "amount": "999999999999999999999999999999999999999"}}"#,
            "invalid_value",
        ),
        (
            "/v1/commands",
            r#"{"command": {"type": "open_account", "account": -1}}"#,
            "invalid_value",
        ),
        (
            "/v1/commands",
            r#"{"command": {"type": "open_account", "account": 18446744073709551616}}"#,
            "invalid_value",
        ),
        (
            "/v1/commands",
            r#"{"command": {"type": "open_account", "account": 1e400}}"#,
            "invalid_value",
        ),
        (
            "/v1/commands",
            r#"{"command": {"type": "deposit", "account": 1, "asset": 70000, "amount": "1"}}"#,
            "invalid_value",
        ),
        (
            "/v1/commands",
            r#"{"command": {"type": "open_account", "account": "2"}}"#,
            "invalid_value",
        ),
        ("/v1/commands", r#"{"command": {"type": "teleport", "account": 2}}"#, "invalid_value"),
        (
            "/v1/commands",
            r#"{"command": {"type": "open_account", "account": 2, "kind": "vip"}}"#,
            "invalid_value",
        ),
        (
            "/v1/commands",
            r#"{"command": {"type": "open_account", "account": 2}, "idempotency_key": ""}"#,
            "invalid_value",
        ),
        (
            "/v1/commands",
            r#"{"command": {"type": "open_account", "account": 2}, "idempotency_key": "tab\there"}"#,
            "invalid_value",
        ),
        (
            "/v1/commands",
            r#"{"command": {"type": "open_account", "account": 2}, "idempotency_key": 7}"#,
            "invalid_value",
        ),
        (
            "/v1/batches",
            r#"{"commands": {"command": {"type": "open_account", "account": 2}}}"#,
            "invalid_value",
        ),
        ("/v1/keys", r#"{"role": "user", "accounts": [-3]}"#, "invalid_value"),
        ("/v1/keys", r#"{"role": "user", "scope": "all"}"#, "unknown_field"),
        ("/v1/keys", r#"{"accounts": [1]}"#, "missing_field"),
    ];
    for (path, body, code) in cases {
        assert_error(&raw(&mut admin, path, body), 400, code, &format!("{path} {body}"));
    }
    let long_key = "k".repeat(129);
    let response = submit(&mut admin, &open(2), Some(&long_key));
    assert_error(&response, 400, "invalid_value", "a 129-character idempotency key");
    assert_eq!(harness.seq(), 1);
    assert_eq!(
        harness.admin().get("/v1/keys").expect("GET keys").json()["keys"].as_array().map(Vec::len),
        Some(1)
    );
}

fn oversized_bodies_and_wrong_media_types_are_refused(backend: Backend) {
    let harness = Harness::with(backend, |config| config.max_body_bytes = 4096);
    let mut admin = harness.admin();
    let evidence = "x".repeat(5000);
    let big = json!({"command": {"type": "file_claim", "account": 1, "incident": 1, "amount": "1", "evidence": evidence}});
    let response = admin.post_json("/v1/commands", &big).expect("POST");
    assert_error(&response, 413, "body_too_large", "5 kB body");
    let commands: Vec<Value> = (0..200).map(|n| json!({"command": open(n)})).collect();
    let response = admin.post_json("/v1/batches", &json!({"commands": commands})).expect("POST");
    assert_error(&response, 413, "body_too_large", "large batch");
    let body = serde_json::to_vec(&json!({"command": open(1)})).expect("JSON");
    for content_type in [None, Some("text/plain"), Some("application/x-www-form-urlencoded")] {
        let headers: Vec<(&str, &str)> =
            content_type.map(|t| ("content-type", t)).into_iter().collect();
        let response = admin.request("POST", "/v1/commands", &headers, Some(&body)).expect("POST");
        assert_error(&response, 415, "unsupported_media_type", &format!("{content_type:?}"));
    }
    let charset = admin
        .request(
            "POST",
            "/v1/commands",
            &[("content-type", "application/json; charset=utf-8")],
            Some(&body),
        )
        .expect("POST");
    assert_eq!(charset.status, 200, "{}", charset.text());
    assert_eq!(harness.seq(), 1);
}

fn unknown_routes_methods_and_accounts_are_not_found(backend: Backend) {
    let harness = Harness::new(backend);
    let mut admin = harness.admin();
    assert_error(&admin.get("/v1/nothing").expect("GET"), 404, "not_found", "unknown route");
    assert_error(&harness.anonymous().get("/index.html").expect("GET"), 404, "not_found", "page");
    assert_error(&admin.get("/v1/accounts/42").expect("GET"), 404, "not_found", "unknown account");
    assert_error(&admin.get("/v1/accounts/x").expect("GET"), 400, "invalid_value", "account id x");
    assert_error(
        &admin.get("/v1/accounts/-1").expect("GET"),
        400,
        "invalid_value",
        "account id -1",
    );
    // Percent-encoded bytes that are not UTF-8: the API's envelope, not axum's plain text.
    assert_error(
        &admin.get("/v1/accounts/%FF").expect("GET"),
        400,
        "invalid_value",
        "account id %FF",
    );
    assert_error(
        &admin.delete("/v1/keys/%FF%FE").expect("DELETE"),
        400,
        "invalid_value",
        "key hash %FF%FE",
    );
    assert_error(
        &admin.get("/v1/accounts/18446744073709551616").expect("GET"),
        400,
        "invalid_value",
        "account id past u64",
    );
    assert_error(
        &admin.get("/v1/accounts/18446744073709551615").expect("GET"),
        404,
        "not_found",
        "account id u64::MAX",
    );
    let put = admin.request("PUT", "/v1/commands", &[], None).expect("PUT");
    assert_error(&put, 405, "method_not_allowed", "PUT /v1/commands");
    assert!(put.text().contains("POST"), "{}", put.text());
    let get = admin.get("/v1/commands").expect("GET");
    assert_error(&get, 405, "method_not_allowed", "GET /v1/commands");
    assert_eq!(harness.seq(), 0);
}

/// The status of a `HEAD` request (raw: a HEAD response declares a body it does not send).
fn head_status(harness: &Harness, path: &str, key: Option<&str>) -> u16 {
    use std::io::{Read, Write};
    let mut stream =
        std::net::TcpStream::connect(harness.server().addr()).expect("connect to the server");
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).expect("a read timeout");
    let authorization =
        key.map_or_else(String::new, |key| format!("authorization: Bearer {key}\r\n"));
    let request =
        format!("HEAD {path} HTTP/1.1\r\nhost: test\r\n{authorization}connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("send");
    let mut head = Vec::new();
    let mut byte = [0_u8; 1];
    while !head.ends_with(b"\r\n") {
        assert_eq!(stream.read(&mut byte).expect("read the status line"), 1, "closed early");
        head.push(byte[0]);
    }
    let line = String::from_utf8_lossy(&head).into_owned();
    line.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or_else(|| panic!("{line}"))
}

/// axum answers HEAD with the GET handler, so HEAD must pass the GET route's check: no key, no
/// handler (which would run unauthenticated, leak sizes in Content-Length, or start a stream).
fn head_requests_are_checked_like_the_get_they_stand_for(backend: Backend) {
    let harness = Harness::new(backend);
    assert_eq!(submit(&mut harness.admin(), &open(1), None).status, 200);
    let keys = keys(&harness);
    let mut checked = 0;
    for route in ROUTES.iter().filter(|route| route.method == Method::Get) {
        let path = route.path.replace("{id}", "1").replace("{name}", "app.js");
        match route.access {
            Access::Public => assert_eq!(head_status(&harness, &path, None), 200, "{path}"),
            Access::Roles(allowed) => {
                assert_eq!(head_status(&harness, &path, None), 401, "HEAD {path} without a key");
                for (role, key) in &keys {
                    if path == "/v1/events/stream" && allowed.contains(role) {
                        continue; // A stream's head is sent; its body never ends.
                    }
                    let want = if allowed.contains(role) { 200 } else { 403 };
                    assert_eq!(head_status(&harness, &path, Some(key)), want, "{role} HEAD {path}");
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 40, "{checked}");
    // A user reads only its own accounts, by HEAD too.
    let user = &keys.iter().find(|(role, _)| *role == Role::User).expect("a user key").1;
    assert_eq!(head_status(&harness, "/v1/accounts/2", Some(user)), 403);
    assert_eq!(harness.seq(), 1);
}
