//! `backstop stress --db DB --shock …`: the what-if of `POST /v1/stress`, run by the binary on a
//! journal a live server is writing, gives the route's answer and writes nothing.

use backstop_core::VenueConfig;
use backstop_core::script::parse_script;
use backstop_ledger::Ledger;
use backstop_server::{RunningServer, ServerConfig};
use backstop_testkit::http::Client;
use backstop_testkit::venues::{INSURED_CRASH_SETUP, insured_lending_perp_toml};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Command, Output};

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_backstop");

/// A server on a fresh SQLite journal of the insured venue, fed the pre-crash script: 15,000
/// USDC borrowed against 10 ETH at 2,000, 1,500 USDC in the fund.
struct Fed {
    dir: PathBuf,
    db: String,
    server: Option<RunningServer>,
    admin: String,
}

impl Fed {
    fn new(name: &str) -> Fed {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        let dir = std::env::temp_dir()
            .join(format!("backstop-stress-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        let db = dir.join("journal.db").display().to_string();
        let key = backstop_server::generate_key("admin", &[], "test").expect("a key");
        Ledger::open(&db).expect("open").add_api_key(&key.record).expect("add key");
        let venue = insured_lending_perp_toml();
        let listen = "127.0.0.1:0".parse().expect("address");
        let server = backstop_server::start(ServerConfig::new(db.clone(), venue.clone(), listen))
            .expect("start");
        let fed = Fed { dir, db, server: Some(server), admin: key.key };
        let config = VenueConfig::from_toml_str(&venue).expect("venue");
        let commands: Vec<Value> = parse_script(INSURED_CRASH_SETUP, &config)
            .expect("script")
            .iter()
            .map(|line| json!({"command": serde_json::to_value(&line.command).expect("JSON")}))
            .collect();
        let response =
            fed.client().post_json("/v1/batches", &json!({"commands": commands})).expect("POST");
        assert_eq!(response.status, 200, "{}", response.text());
        fed
    }

    fn client(&self) -> Client {
        let addr = self.server.as_ref().expect("running").addr();
        Client::new(addr).with_key(&self.admin)
    }

    /// `POST /v1/stress`.
    fn route(&self, shock: &Value) -> Value {
        let response = self.client().post_json("/v1/stress", shock).expect("POST /v1/stress");
        assert_eq!(response.status, 200, "{}", response.text());
        response.json()
    }

    /// `GET /v1/state`'s seq and state hash.
    fn head(&self) -> (Value, Value) {
        let state = self.client().get("/v1/state").expect("GET /v1/state").json();
        (state["seq"].clone(), state["state_hash"].clone())
    }

    fn cli(&self, args: &[&str]) -> Output {
        Command::new(BIN).args(["stress", "--db", &self.db]).args(args).output().expect("runs")
    }
}

impl Drop for Fed {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = server.shutdown();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn stdout_json(output: &Output) -> Value {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

#[test]
fn the_cli_answers_what_the_route_answers_and_writes_nothing() {
    let fed = Fed::new("equal");
    let before = fed.head();
    // ETH −50 %: 10 ETH at 1,000 against 15,000 owed: a 5,000 deficit, the fund's 1,500 first.
    let cli = stdout_json(&fed.cli(&["--shock", "ETH=-50%", "--json"]));
    assert_eq!(cli, fed.route(&json!({"steps": [{"ETH": "-50%"}]})));
    let usdc = &cli["markets"][0];
    assert_eq!(usdc["deficit"], "5000");
    assert_eq!(usdc["paid"], json!({"fund:insurance": "1500", "socialize": "3500"}));
    assert_eq!(
        (usdc["socialized"].as_str(), usdc["uncovered"].as_str()),
        (Some("3500"), Some("0"))
    );
    assert_eq!(cli["seq"], before.0);
    assert_eq!(cli["state_hash"], before.1);
    // A repeated asset starts the next step: −10 % then −40 %, two liquidations.
    let path = stdout_json(&fed.cli(&["--shock", "ETH=-10%", "--shock", "ETH=-40%", "--json"]));
    assert_eq!(path, fed.route(&json!({"steps": [{"ETH": "-10%"}, {"ETH": "-40%"}]})));
    assert_eq!(path["liquidations"], 2);
    // Different assets share a step; keeper capacity and exploits pass through.
    let args = [
        "--shock",
        "ETH=-30%",
        "--shock",
        "USDC=0.99",
        "--keeper-capacity",
        "5000",
        "--exploit",
        "USDC=2000",
        "--json",
    ];
    let mixed = stdout_json(&fed.cli(&args));
    let shock = json!({"steps": [{"ETH": "-30%", "USDC": "0.99"}], "keeper_capacity": "5000",
        "exploits": [{"asset": "USDC", "amount": "2000"}]});
    assert_eq!(mixed, fed.route(&shock));
    // Nothing moved: the server's head and the journal are as before.
    assert_eq!(fed.head(), before);
}

#[test]
fn the_table_names_each_layers_payment_and_bad_input_is_refused() {
    let fed = Fed::new("table");
    let output = fed.cli(&["--shock", "ETH=-50%"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(text.contains("market USDC (USDC): deficit 5000"), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("  paid by fund:insurance") && l.ends_with(" 1500")),
        "{text}"
    );
    assert!(text.lines().any(|l| l.starts_with("  socialised") && l.ends_with(" 3500")), "{text}");
    for (args, needle) in [
        (vec!["--shock", "ETH"], "expected NAME=VALUE"),
        (vec!["--shock", "DOGE=-5%"], "DOGE"),
        (vec!["--shock", "ETH=-30%", "--keeper-capacity", "lots"], "--keeper-capacity"),
    ] {
        let output = fed.cli(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    let missing = Command::new(BIN)
        .args(["stress", "--db", "/nonexistent/journal.db", "--shock", "ETH=-5%"])
        .output()
        .expect("runs");
    assert_eq!(missing.status.code(), Some(2));
}
