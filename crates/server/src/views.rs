//! Reads of the engine's state: accounts, markets, funds, pools, cover, deficits, proposals,
//! claims. Every view is taken under the read lock, so it shows durable state at one journal
//! head (`seq` in every body).

use crate::app::AppState;
use crate::auth::Principal;
use crate::envelope::StateResponse;
use crate::error::{ApiError, ErrorCode};
use crate::payload;
use axum::Extension;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use backstop_core::{AccountId, AssetId, Engine, PerpMarketId};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// Serializes part of the engine's state.
fn value<T: Serialize>(part: &T) -> Result<Value, ApiError> {
    serde_json::to_value(part).map_err(|error| {
        ApiError::new(ErrorCode::InternalError, format!("state could not be shown: {error}"))
    })
}

/// Answers a view built from the engine, with the journal head it was read at.
fn view(
    app: &AppState,
    build: impl FnOnce(&Engine) -> Result<Map<String, Value>, ApiError>,
) -> Response {
    let shared = app.read();
    let built = build(&shared.engine);
    let seq = shared.head.seq;
    drop(shared);
    match built {
        Ok(mut body) => {
            body.insert("seq".to_owned(), json!(seq));
            axum::Json(Value::Object(body)).into_response()
        }
        Err(error) => error.into_response(),
    }
}

/// `GET /v1/state`.
pub async fn state(State(app): State<AppState>) -> Response {
    let shared = app.read();
    let engine = &shared.engine;
    let status = value(&engine.state().net.status);
    let body = status.map(|status| StateResponse {
        seq: shared.head.seq,
        entry_hash: hex::encode(shared.head.entry_hash),
        state_hash: hex::encode(shared.state_hash),
        now: engine.state().now,
        status,
        accounts: u64::try_from(engine.state().accounts.len()).unwrap_or(u64::MAX),
        venue: engine.config().venue.name.clone(),
        backend: app.backend.to_owned(),
    });
    drop(shared);
    match body {
        Ok(body) => axum::Json(body).into_response(),
        Err(error) => error.into_response(),
    }
}

/// `GET /v1/accounts/{id}`: the account and its health at current prices.
pub async fn account(
    State(app): State<AppState>,
    Extension(principal): Extension<Principal>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let id = match payload::path_param(id) {
        Ok(id) => id,
        Err(error) => return error.into_response(),
    };
    let Ok(id) = id.parse::<u64>() else {
        return ApiError::new(
            ErrorCode::InvalidValue,
            format!("account id must be an unsigned integer, got {id:?}"),
        )
        .into_response();
    };
    if !principal.may_read_account(id) {
        return ApiError::new(
            ErrorCode::Forbidden,
            format!("account {id} is not one of this key's accounts"),
        )
        .into_response();
    }
    view(&app, |engine| {
        let Some(account) = engine.account(AccountId(id)) else {
            return Err(ApiError::new(ErrorCode::NotFound, format!("no account {id}")));
        };
        let mut body = Map::new();
        body.insert("id".to_owned(), json!(id));
        body.insert("account".to_owned(), value(account)?);
        match engine.health(AccountId(id)) {
            Ok(health) => {
                body.insert("health".to_owned(), value(&health)?);
                body.insert("liquidatable".to_owned(), json!(health.is_liquidatable()));
            }
            Err(rejection) => {
                body.insert("health".to_owned(), Value::Null);
                body.insert("health_error".to_owned(), json!(rejection.to_string()));
            }
        }
        Ok(body)
    })
}

/// `GET /v1/markets`: oracle prices, lending markets, perpetual markets.
pub async fn markets(State(app): State<AppState>) -> Response {
    view(&app, |engine| {
        let config = engine.config();
        let state = engine.state();
        let mut prices = Vec::new();
        for (index, entry) in state.prices.iter().enumerate() {
            let asset = AssetId(u16::try_from(index).unwrap_or(u16::MAX));
            prices.push(json!({
                "asset": asset.0,
                "symbol": config.asset_symbol(asset),
                "price": value(&entry.price)?,
                "updated_at": entry.updated_at,
                "paused": state.net.paused.get(index).copied().unwrap_or(false),
            }));
        }
        let mut lending = Vec::new();
        for (index, market) in state.lending.iter().enumerate() {
            let Some(market) = market else { continue };
            let asset = AssetId(u16::try_from(index).unwrap_or(u16::MAX));
            lending.push(json!({
                "asset": asset.0,
                "symbol": config.asset_symbol(asset),
                "market": value(market)?,
            }));
        }
        let mut perps = Vec::new();
        for (index, market) in state.perps.iter().enumerate() {
            let id = PerpMarketId(u16::try_from(index).unwrap_or(u16::MAX));
            perps.push(json!({
                "market": id.0,
                "name": config.perp_name(id),
                "state": value(market)?,
                "holders": market.holders.len(),
            }));
        }
        let mut auctions = Vec::new();
        for (id, auction) in &state.auctions {
            auctions.push(json!({"auction": id.0, "state": value(auction)?}));
        }
        let mut body = Map::new();
        body.insert("now".to_owned(), json!(state.now));
        body.insert("prices".to_owned(), Value::Array(prices));
        body.insert("lending".to_owned(), Value::Array(lending));
        body.insert("perps".to_owned(), Value::Array(perps));
        body.insert("auctions".to_owned(), Value::Array(auctions));
        body.insert("fees".to_owned(), value(&state.fees)?);
        Ok(body)
    })
}

/// `GET /v1/funds`: insurance funds and offsets.
pub async fn funds(State(app): State<AppState>) -> Response {
    view(&app, |engine| {
        let config = engine.config();
        let net = &engine.state().net;
        let mut funds = Vec::new();
        for (settings, fund) in config.funds.iter().zip(&net.funds) {
            funds.push(
                json!({"name": settings.name, "asset": settings.asset, "state": value(fund)?}),
            );
        }
        let mut offsets = Vec::new();
        for (settings, balance) in config.offsets.iter().zip(&net.offsets) {
            offsets.push(json!({
                "name": settings.name,
                "asset": settings.asset,
                "balance": value(balance)?,
            }));
        }
        let mut body = Map::new();
        body.insert("funds".to_owned(), Value::Array(funds));
        body.insert("offsets".to_owned(), Value::Array(offsets));
        Ok(body)
    })
}

/// `GET /v1/pools`: staker pools and stability pools.
pub async fn pools(State(app): State<AppState>) -> Response {
    view(&app, |engine| {
        let config = engine.config();
        let net = &engine.state().net;
        let mut stakers = Vec::new();
        for (settings, pool) in config.staker_pools.iter().zip(&net.staker_pools) {
            stakers.push(
                json!({"name": settings.name, "asset": settings.asset, "state": value(pool)?}),
            );
        }
        let mut stability = Vec::new();
        for (settings, pool) in config.stability_pools.iter().zip(&net.stability_pools) {
            stability.push(
                json!({"name": settings.name, "asset": settings.asset, "state": value(pool)?}),
            );
        }
        let mut body = Map::new();
        body.insert("staker_pools".to_owned(), Value::Array(stakers));
        body.insert("stability_pools".to_owned(), Value::Array(stability));
        Ok(body)
    })
}

/// `GET /v1/cover`: cover terms and open cover claims.
pub async fn cover(State(app): State<AppState>) -> Response {
    view(&app, |engine| {
        let config = engine.config();
        let net = &engine.state().net;
        let mut covers = Vec::new();
        for (settings, cover) in config.covers.iter().zip(&net.covers) {
            covers.push(
                json!({"name": settings.name, "asset": settings.asset, "state": value(cover)?}),
            );
        }
        let mut claims = Vec::new();
        for (id, claim) in &net.claims {
            claims.push(json!({"claim": id, "state": value(claim)?}));
        }
        let mut body = Map::new();
        body.insert("covers".to_owned(), Value::Array(covers));
        body.insert("claims".to_owned(), Value::Array(claims));
        Ok(body)
    })
}

/// `GET /v1/deficits`: deficits waiting for their waterfall, recognised losses, what each
/// layer paid per market, recapitalisation auctions, lending and perpetual deficits.
pub async fn deficits(State(app): State<AppState>) -> Response {
    view(&app, |engine| {
        let state = engine.state();
        let net = &state.net;
        let per_market = |map: &std::collections::BTreeMap<backstop_core::MarketRef, _>| {
            map.iter()
                .map(|(market, amount)| {
                    Ok(json!({"market": value(market)?, "amount": value(amount)?}))
                })
                .collect::<Result<Vec<Value>, ApiError>>()
        };
        let mut payments = Vec::new();
        for (market, layers) in &net.payments {
            payments.push(json!({"market": value(market)?, "layers": value(layers)?}));
        }
        let mut recap = Vec::new();
        for (id, auction) in &net.recap_auctions {
            recap.push(json!({"auction": id, "state": value(auction)?}));
        }
        let mut markets = Vec::new();
        for (index, market) in state.lending.iter().enumerate() {
            if let Some(market) = market
                && !market.deficit.is_zero()
            {
                markets.push(
                    json!({"market": {"lending": index}, "deficit": value(&market.deficit)?}),
                );
            }
        }
        for (index, market) in state.perps.iter().enumerate() {
            if !market.deficit.is_zero() {
                markets
                    .push(json!({"market": {"perp": index}, "deficit": value(&market.deficit)?}));
            }
        }
        let mut body = Map::new();
        body.insert("market_deficits".to_owned(), Value::Array(markets));
        body.insert("pending".to_owned(), Value::Array(per_market(&net.pending)?));
        body.insert("recognized".to_owned(), Value::Array(per_market(&net.recognized)?));
        body.insert("payments".to_owned(), Value::Array(payments));
        body.insert("recap_auctions".to_owned(), Value::Array(recap));
        body.insert("status".to_owned(), value(&net.status)?);
        Ok(body)
    })
}

/// `GET /v1/proposals`: governance proposals, newest last.
pub async fn proposals(State(app): State<AppState>) -> Response {
    view(&app, |engine| {
        let governance = &engine.state().governance;
        let mut proposals = Vec::new();
        for (id, proposal) in &governance.proposals {
            proposals.push(json!({"proposal": id, "state": value(proposal)?}));
        }
        let mut body = Map::new();
        body.insert("proposals".to_owned(), Value::Array(proposals));
        Ok(body)
    })
}

/// `GET /v1/claims`: exploit incidents and the claims filed under them.
pub async fn claims(State(app): State<AppState>) -> Response {
    view(&app, |engine| {
        let claims = &engine.state().claims;
        let mut incidents = Vec::new();
        for (id, incident) in &claims.incidents {
            incidents.push(json!({"incident": id, "state": value(incident)?}));
        }
        let mut filed = Vec::new();
        for (id, claim) in &claims.claims {
            filed.push(json!({"claim": id, "state": value(claim)?}));
        }
        let mut body = Map::new();
        body.insert("incidents".to_owned(), Value::Array(incidents));
        body.insert("claims".to_owned(), Value::Array(filed));
        Ok(body)
    })
}
