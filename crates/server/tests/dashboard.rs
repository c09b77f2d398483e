//! The web dashboard over HTTP: the page and its assets are served without a key, with a strict
//! Content-Security-Policy and the right media types; the page holds no data and every route
//! its scripts read needs a key.

mod support;

use backstop_server::dashboard::{ASSETS, CONTENT_SECURITY_POLICY, INDEX};
use backstop_server::routes::{self, Access};
use backstop_testkit::http::Response;
use serde_json::json;
use std::collections::BTreeSet;
use support::{Backend, Harness, deposit, open, submit};

/// The page's HTML.
fn index_html() -> &'static str {
    std::str::from_utf8(INDEX.body).unwrap_or_else(|e| panic!("index.html is not UTF-8: {e}"))
}

/// An embedded asset's text.
fn asset_text(name: &str) -> &'static str {
    let asset = ASSETS
        .iter()
        .find(|asset| asset.name == name)
        .unwrap_or_else(|| panic!("no embedded asset {name}"));
    std::str::from_utf8(asset.body).unwrap_or_else(|e| panic!("{name} is not UTF-8: {e}"))
}

/// One HTML start tag: its name and attributes (lower-cased names, unquoted values).
#[derive(Debug)]
struct Tag {
    name: String,
    attributes: Vec<(String, String)>,
    /// Byte offset just past the tag's `>`.
    end: usize,
}

/// The start tags of an HTML text (comments and end tags skipped). Enough HTML for the page.
fn tags(html: &str) -> Vec<Tag> {
    let bytes = html.as_bytes();
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(offset) = html[at..].find('<') {
        let start = at + offset + 1;
        if html[start..].starts_with("!--") {
            at = start + html[start..].find("-->").map_or(html.len() - start, |e| e + 3);
            continue;
        }
        let mut i = start;
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'!') {
            i += 1;
        }
        let name = html[start..i].to_ascii_lowercase();
        let mut attributes = Vec::new();
        loop {
            while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
                i += 1;
            }
            if i >= bytes.len() || bytes[i] == b'>' {
                break;
            }
            let name_start = i;
            while i < bytes.len() && !b" \t\n\r=>".contains(&bytes[i]) {
                i += 1;
            }
            let attribute = html[name_start..i].to_ascii_lowercase();
            let mut value = String::new();
            if i < bytes.len() && bytes[i] == b'=' {
                i += 1;
                let quote = bytes[i];
                assert!(quote == b'"', "unquoted attribute {attribute} in <{name}>");
                let close = html[i + 1..].find('"').unwrap_or_else(|| panic!("open quote"));
                value = html[i + 1..i + 1 + close].to_owned();
                i += close + 2;
            }
            attributes.push((attribute, value));
        }
        at = (i + 1).min(html.len());
        if !name.is_empty() && !name.starts_with('!') {
            out.push(Tag { name, attributes, end: at });
        }
    }
    out
}

impl Tag {
    fn get(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Every URL the page's tags reference (`src`, `href`), except in-page `#` links.
fn page_urls() -> Vec<String> {
    tags(index_html())
        .iter()
        .flat_map(|tag| ["src", "href"].into_iter().filter_map(|a| tag.get(a).map(str::to_owned)))
        .filter(|url| !url.starts_with('#'))
        .collect()
}

/// Modules a JavaScript file imports (`from "./x.js"`), as /assets/ paths.
fn imports(js: &str) -> Vec<String> {
    js.split("from \"./")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|name| format!("/assets/{name}"))
        .collect()
}

/// Every asset reachable from the page: its tags, then the modules they import.
fn reachable() -> BTreeSet<String> {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut todo = page_urls();
    while let Some(url) = todo.pop() {
        if !seen.insert(url.clone()) {
            continue;
        }
        if let Some(name) = url.strip_prefix("/assets/").filter(|name| name.ends_with(".js")) {
            todo.extend(imports(asset_text(name)));
        }
    }
    seen
}

/// Asserts the headers every dashboard response carries.
fn assert_secured(response: &Response, context: &str) {
    assert_eq!(
        response.header("content-security-policy"),
        Some(CONTENT_SECURITY_POLICY),
        "{context}"
    );
    assert_eq!(response.header("x-content-type-options"), Some("nosniff"), "{context}");
    assert_eq!(response.header("cache-control"), Some("no-cache"), "{context}");
    assert_eq!(response.header("referrer-policy"), Some("no-referrer"), "{context}");
    assert!(response.header("etag").is_some_and(|tag| tag.starts_with('"')), "{context}");
}

#[test]
fn the_policy_allows_only_this_origin_and_no_inline_code() {
    let directives: Vec<&str> = CONTENT_SECURITY_POLICY.split(';').map(str::trim).collect();
    for wanted in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(directives.contains(&wanted), "{wanted} missing from {CONTENT_SECURITY_POLICY}");
    }
    for loose in ["unsafe-inline", "unsafe-eval", "http:", "https:", "*"] {
        assert!(!CONTENT_SECURITY_POLICY.contains(loose), "{loose} in the policy");
    }
}

#[test]
fn the_page_is_served_without_a_key_with_the_policy_and_references_only_assets() {
    let harness = Harness::new(Backend::Sqlite);
    let response = harness.anonymous().get("/").expect("GET /");
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.header("content-type"), Some("text/html; charset=utf-8"));
    assert_secured(&response, "/");
    assert_eq!(response.body, INDEX.body);
    let urls = page_urls();
    assert!(urls.contains(&"/assets/app.js".to_owned()), "{urls:?}");
    assert!(urls.contains(&"/assets/style.css".to_owned()), "{urls:?}");
    for url in &urls {
        assert!(url.starts_with("/assets/"), "the page references {url}");
    }
}

#[test]
fn the_page_has_no_inline_script_style_or_handlers() {
    let html = index_html();
    let tags = tags(html);
    let scripts: Vec<&Tag> = tags.iter().filter(|tag| tag.name == "script").collect();
    assert_eq!(scripts.len(), 1, "{scripts:?}");
    for script in scripts {
        assert!(script.get("src").is_some_and(|src| src.starts_with("/assets/")), "{script:?}");
        assert_eq!(script.get("type"), Some("module"));
        assert!(html[script.end..].starts_with("</script>"), "a <script> with a body");
    }
    for tag in &tags {
        assert_ne!(tag.name, "style", "an inline <style>");
        for (name, _) in &tag.attributes {
            assert!(!name.starts_with("on"), "inline handler {name} on <{}>", tag.name);
            assert_ne!(name, "style", "inline style on <{}>", tag.name);
        }
        for url in ["src", "href", "action"].iter().filter_map(|a| tag.get(a)) {
            assert!(!url.to_ascii_lowercase().starts_with("javascript:"), "{url}");
        }
    }
    // The parser sees what is there: a page with an inline script would fail above.
    let external = scripts_are_external("<p><script>alert(1)</script></p>");
    assert!(!external, "the inline-script check cannot fail");
}

/// Whether a fragment has a `<script>` with a body (the check above, on another text).
fn scripts_are_external(html: &str) -> bool {
    tags(html).iter().all(|tag| tag.name != "script" || html[tag.end..].starts_with("</script>"))
}

#[test]
fn every_referenced_asset_is_served_with_its_type_and_every_embedded_one_is_used() {
    let harness = Harness::new(Backend::Sqlite);
    let mut client = harness.anonymous();
    let reachable = reachable();
    for url in &reachable {
        let name = url.strip_prefix("/assets/").unwrap_or_else(|| panic!("{url}"));
        let response = client.get(url).unwrap_or_else(|e| panic!("GET {url}: {e}"));
        assert_eq!(response.status, 200, "{url}: {}", response.text());
        let wanted = match name.rsplit('.').next() {
            Some("js") => "text/javascript; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            Some("svg") => "image/svg+xml",
            other => panic!("unexpected asset type {other:?} of {url}"),
        };
        assert_eq!(response.header("content-type"), Some(wanted), "{url}");
        assert_secured(&response, url);
    }
    let embedded: BTreeSet<String> =
        ASSETS.iter().map(|asset| format!("/assets/{}", asset.name)).collect();
    assert_eq!(reachable, embedded, "embedded assets the page never loads, or the reverse");
    // The module graph: app.js imports the others.
    assert!(reachable.contains("/assets/pages.js") && reachable.contains("/assets/lab.js"));
}

#[test]
fn unknown_assets_are_not_found_in_the_error_envelope() {
    let harness = Harness::new(Backend::Sqlite);
    let mut client = harness.anonymous();
    for path in [
        "/assets/nope.js",
        "/assets/index.html",
        "/assets/..%2FCargo.toml",
        "/assets/",
        "/assets/%FF",
    ] {
        let response = client.get(path).unwrap_or_else(|e| panic!("GET {path}: {e}"));
        assert_eq!(response.status, 404, "{path}: {}", response.text());
        let body = response.json();
        assert_eq!(body["error"]["code"], "not_found", "{path}");
        assert_eq!(body["error"]["status"], 404, "{path}");
    }
    let response = client.get("/assets/app.js/x").expect("GET");
    assert_eq!(response.error_code().as_deref(), Some("not_found"));
}

/// The status line and headers of a raw GET (a 304 has no body and no length, which the test
/// client would wait on).
fn raw_head(harness: &Harness, path: &str, if_none_match: &str) -> String {
    use std::io::{Read, Write};
    let mut stream =
        std::net::TcpStream::connect(harness.server().addr()).unwrap_or_else(|e| panic!("{e}"));
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).expect("timeout");
    let request = format!(
        "GET {path} HTTP/1.1\r\nhost: test\r\nif-none-match: {if_none_match}\r\nconnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).expect("write");
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("read");
    text
}

#[test]
fn a_current_copy_is_revalidated_with_its_etag() {
    let harness = Harness::new(Backend::Sqlite);
    let mut client = harness.anonymous();
    let first = client.get("/assets/app.js").expect("GET");
    let tag = first.header("etag").expect("an ETag").to_owned();
    let again = raw_head(&harness, "/assets/app.js", &tag);
    assert!(again.starts_with("HTTP/1.1 304"), "{again}");
    assert!(again.to_ascii_lowercase().contains(&format!("etag: {tag}")), "{again}");
    assert!(again.ends_with("\r\n\r\n"), "a 304 with a body: {again}");
    let stale = raw_head(&harness, "/assets/app.js", "\"old\"");
    assert!(stale.starts_with("HTTP/1.1 200"), "{stale}");
    // Different files, different tags.
    let css = client.get("/assets/style.css").expect("GET");
    assert_ne!(css.header("etag"), Some(tag.as_str()));
}

/// The API paths the scripts read: string literals starting with `/v1/`, cut at a template
/// hole or query; a path ending in `/` gets the id 1.
fn api_paths() -> BTreeSet<String> {
    let mut paths = BTreeSet::new();
    for asset in ASSETS.iter().filter(|asset| asset.name.ends_with(".js")) {
        let text = asset_text(asset.name);
        for quote in ['"', '`'] {
            for rest in text.split(&format!("{quote}/v1/")).skip(1) {
                let end = rest.find([quote, '$', '?']).unwrap_or(rest.len());
                let mut path = format!("/v1/{}", &rest[..end]);
                if path.ends_with('/') {
                    path.push('1');
                }
                paths.insert(path);
            }
        }
    }
    paths
}

#[test]
fn the_page_holds_no_data_and_every_route_its_scripts_read_needs_a_key() {
    let harness = Harness::new(Backend::Sqlite);
    let mut admin = harness.admin();
    assert_eq!(submit(&mut admin, &open(1), None).status, 200);
    assert_eq!(submit(&mut admin, &deposit(1, "1234.5"), None).status, 200);
    let state = harness.state();
    let page = harness.anonymous().get("/").expect("GET /").text();
    for secret in [&state["state_hash"], &state["entry_hash"], &state["venue"]] {
        let secret = secret.as_str().expect("a string");
        assert!(!page.contains(secret), "the page shows {secret}");
    }
    assert!(!page.contains("1234.5"));
    let paths = api_paths();
    for wanted in ["/v1/risk", "/v1/stress", "/v1/events/stream", "/v1/session", "/v1/accounts/1"] {
        assert!(paths.contains(wanted), "{wanted} not read by the scripts: {paths:?}");
    }
    let mut anonymous = harness.anonymous();
    for path in &paths {
        let pattern = if path.starts_with("/v1/accounts/") { "/v1/accounts/{id}" } else { path };
        let method = if path == "/v1/stress" { "POST" } else { "GET" };
        let route = routes::find(method, pattern).unwrap_or_else(|| panic!("no route {path}"));
        assert_ne!(route.access, Access::Public, "{path}");
        let response = if method == "POST" {
            anonymous.post_json(path, &json!({"steps": []}))
        } else {
            anonymous.get(path)
        };
        let response = response.unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(response.status, 401, "{path} without a key: {}", response.text());
        assert_eq!(response.error_code().as_deref(), Some("missing_api_key"), "{path}");
    }
}

#[test]
fn the_scripts_keep_the_key_in_session_storage_and_send_it_as_a_header() {
    let scripts: String = ASSETS
        .iter()
        .filter(|asset| asset.name.ends_with(".js"))
        .map(|asset| asset_text(asset.name))
        .collect();
    assert!(asset_text("api.js").contains("sessionStorage.setItem"));
    assert!(asset_text("api.js").contains("Authorization: `Bearer ${"));
    for banned in
        ["localStorage", "innerHTML", "outerHTML", "eval(", "new Function", "EventSource("]
    {
        assert!(!scripts.contains(banned), "the scripts use {banned}");
    }
    // The key never goes into a URL: no query parameter or hash carries it.
    for leak in ["?key=", "&key=", "api_key=", "#key"] {
        assert!(!scripts.contains(leak), "{leak}");
    }
}

#[test]
fn the_session_route_names_the_keys_role_and_accounts() {
    let harness = Harness::new(Backend::Sqlite);
    let user = harness.key("user", &[2, 1]);
    let body = harness.client(&user).get("/v1/session").expect("GET").json();
    assert_eq!(body, json!({"role": "user", "accounts": [1, 2]}));
    let body = harness.admin().get("/v1/session").expect("GET").json();
    assert_eq!(body, json!({"role": "admin", "accounts": []}));
    let response = harness.anonymous().get("/v1/session").expect("GET");
    assert_eq!(response.error_code().as_deref(), Some("missing_api_key"));
    let wrong = harness.client(&format!("bsk_{}", "0".repeat(64))).get("/v1/session");
    assert_eq!(wrong.expect("GET").error_code().as_deref(), Some("invalid_api_key"));
}

/// The insured venue with caps on its fund: 1,000 per day, 1,200 over the USDC market's life.
fn capped_venue() -> String {
    let venue = backstop_testkit::venues::insured_lending_perp_toml();
    let capped = venue.replace(
        "markets = [\"USDC\"]\n",
        "markets = [\"USDC\"]\nperiod_secs = 86400\nperiod_cap = \"1000\"\nmarket_lifetime_cap = \"1200\"\n",
    );
    assert_ne!(capped, venue, "the fund section moved");
    capped
}

#[test]
fn the_waterfall_view_shows_each_layers_balance_caps_and_payments_in_order() {
    use backstop_core::VenueConfig;
    use backstop_core::script::parse_script;
    let venue = capped_venue();
    let harness = Harness::with(Backend::Sqlite, |config| config.venue_toml = venue.clone());
    let config = VenueConfig::from_toml_str(&venue).unwrap_or_else(|e| panic!("venue: {e}"));
    let mut commands: Vec<serde_json::Value> =
        parse_script(backstop_testkit::venues::INSURED_CRASH_SETUP, &config)
            .unwrap_or_else(|e| panic!("script: {e:?}"))
            .iter()
            .map(|line| support::json_of(&line.command))
            .collect();
    // ETH halves: 10 ETH = 10,000 against 15,000 owed; the keeper repays it all.
    commands.push(json!({"type": "set_price", "asset": 1, "price": "1000"}));
    commands.push(json!({"type": "liquidate", "keeper": 3, "account": 2,
        "target": {"debt": {"collateral": 1, "debt": 0}}, "amount": "15000", "seed": 0}));
    let response = support::submit_batch(&mut harness.admin(), &commands);
    let results = response.json()["results"].clone();
    assert!(
        results.as_array().is_some_and(|r| r.iter().all(|r| r["status"] == "applied")),
        "{results}"
    );
    let risk = harness.admin().get("/v1/risk").expect("GET /v1/risk").json();
    let usdc = &risk["markets"][0];
    assert_eq!(usdc["market"], "USDC");
    let steps = usdc["steps"].as_array().expect("steps");
    let layers: Vec<&str> = steps.iter().filter_map(|step| step["layer"].as_str()).collect();
    assert_eq!(layers, ["fund:insurance", "socialize"]);
    // The 5,000 deficit: the fund pays its period cap, 1,000 of its 1,500; socialisation 4,000.
    let fund = &steps[0];
    assert_eq!(fund["asset"], "USDC");
    assert_eq!((fund["balance"].as_str(), fund["value"].as_str()), (Some("500"), Some("500")));
    assert_eq!(fund["paid"], "1000");
    assert_eq!(fund["recovered"], "0");
    assert_eq!(
        fund["caps"],
        json!([
            {"cap": "period_cap", "limit": "1000", "used": "1000", "period_secs": 86400},
            {"cap": "market_lifetime_cap", "limit": "1200", "used": "1000", "period_secs": null},
        ])
    );
    let socialize = &steps[1];
    assert_eq!(socialize["paid"], "4000");
    assert_eq!(socialize["balance"], serde_json::Value::Null);
    assert_eq!(socialize["caps"], json!([]));
}
