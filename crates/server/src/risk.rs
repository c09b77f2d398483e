//! Live risk: backstop capital by layer against the exposure it protects, open deficits, and what
//! becomes liquidatable when one asset's price falls by 5 %, 10 % … 50 %.
//!
//! Every figure is exact fixed-point money, shown as a decimal string. Values are taken in the
//! numeraire at oracle prices: capital held is rounded down and exposure owed rounded up, so
//! coverage is never overstated. A price shock is applied to a copy of the state
//! ([`Engine::snapshot`] → [`Engine::from_snapshot`]) so the oracle's move guard and breakers
//! cannot stop the what-if; the liquidation index of the copy ([`Engine::liquidatable_accounts`])
//! names the accounts it makes liquidatable.

use backstop_core::backstop::layers::LayerRef;
use backstop_core::{AssetId, Engine, MarketRef, PerpMarketId};
use backstop_money::{Amount, Price, Ratio, Rounding};
use serde::Serialize;

/// Price drops, in percent, of the at-risk table.
pub const SHOCK_STEPS_PCT: [u32; 10] = [5, 10, 15, 20, 25, 30, 35, 40, 45, 50];

/// The whole risk view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RiskReport {
    /// Each layer's capital.
    pub layers: Vec<LayerCapital>,
    /// Sum of the layers' capital in the numeraire (rounded down).
    pub capital_value: Amount,
    /// Each market's exposure and the capital of the layers in its waterfall.
    pub markets: Vec<MarketRisk>,
    /// Sum of the markets' exposure in the numeraire (rounded up).
    pub exposure_value: Amount,
    /// `capital_value / exposure_value`, rounded down; `None` without exposure.
    pub coverage: Option<Ratio>,
    /// Deficits not yet paid, per market.
    pub deficits: Vec<OpenDeficit>,
    /// Sum of open deficits in the numeraire (rounded up).
    pub deficit_value: Amount,
    /// Per asset: what each price drop makes liquidatable.
    pub at_risk: Vec<AssetAtRisk>,
}

/// One safety-net layer's capital.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LayerCapital {
    /// As written in a waterfall: `fund:insurance`, `stakers:safety`, …
    pub layer: String,
    /// Asset symbol the layer holds.
    pub asset: String,
    /// Tokens held (for cover: the limit less what it paid this term).
    pub balance: Amount,
    /// Balance × oracle price, rounded down.
    pub value: Amount,
}

/// One market's exposure and the layers that protect it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MarketRisk {
    /// Market name (asset symbol for lending, perpetual name).
    pub market: String,
    /// `lending` or `perp`.
    pub kind: &'static str,
    /// Lending: total debt in the lent asset; perp: open interest in the underlying.
    pub exposure: Amount,
    /// Exposure × oracle price, rounded up.
    pub exposure_value: Amount,
    /// The layers of the market's waterfall, in order (`adl`, `socialize`, … hold no capital).
    pub waterfall: Vec<String>,
    /// Sum of the value of the waterfall's capital layers, rounded down.
    pub capital_value: Amount,
    /// `capital_value / exposure_value`, rounded down; `None` without exposure.
    pub coverage: Option<Ratio>,
    /// The waterfall's layers in order, with balance, caps and what each paid this market.
    pub steps: Vec<WaterfallStep>,
}

/// One layer of a market's waterfall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaterfallStep {
    /// As written in the waterfall.
    pub layer: String,
    /// Asset the layer holds (capital layers only).
    pub asset: Option<String>,
    /// Tokens it holds now, as in [`LayerCapital`] (capital layers only).
    pub balance: Option<Amount>,
    /// Their value in the numeraire, rounded down (capital layers only).
    pub value: Option<Amount>,
    /// The configured limits on what it pays, with what is used of each where the state says.
    pub caps: Vec<LayerCap>,
    /// What it has paid this market's deficits so far.
    pub paid: Amount,
    /// What recoveries returned to it for this market.
    pub recovered: Amount,
}

/// A configured limit of a layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LayerCap {
    /// `period_cap` (per `period_secs`), `market_lifetime_cap`, `slash_cap` (share of the
    /// pool), `limit` (cover per term) or `period_mint_cap`.
    pub cap: &'static str,
    /// The limit, as configured (an amount, or a ratio for `slash_cap`).
    pub limit: String,
    /// Used so far against it (this period, this market, this term), when tracked.
    pub used: Option<Amount>,
    /// Length of the period in seconds, for period caps.
    pub period_secs: Option<u64>,
}

/// A market's deficit not yet paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenDeficit {
    /// Market name.
    pub market: String,
    /// Asset the deficit is in.
    pub asset: String,
    /// Recorded and not yet walked down the waterfall.
    pub recorded: Amount,
    /// Assigned to a layer that pays later (cover claim, recapitalisation auction).
    pub pending: Amount,
    /// (recorded + pending) × oracle price, rounded up.
    pub value: Amount,
}

/// What falling prices of one asset make liquidatable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssetAtRisk {
    /// Asset symbol.
    pub asset: String,
    /// Oracle price now.
    pub price: Price,
    /// One row per drop of [`SHOCK_STEPS_PCT`].
    pub steps: Vec<ShockStep>,
}

/// Accounts liquidatable after one price drop, and the bad debt they would leave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShockStep {
    /// Price drop in percent.
    pub drop_pct: u32,
    /// Shocked price: `price × (100 − drop) / 100`, rounded down.
    pub price: Price,
    /// Accounts liquidatable at the shocked price.
    pub accounts: u64,
    /// Their collateral at the shocked price (unweighted, rounded down).
    pub collateral_value: Amount,
    /// Their debt, plus perpetual losses, at the shocked price (rounded up).
    pub debt_value: Amount,
    /// Σ max(0, debt − collateral) over those accounts: what liquidation cannot recover.
    pub bad_debt: Amount,
}

/// A risk calculation that overflowed or met a state it cannot copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskError(pub String);

impl core::fmt::Display for RiskError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

fn money(context: &str) -> impl FnOnce(backstop_money::MoneyError) -> RiskError + '_ {
    move |error| RiskError(format!("{context}: {error}"))
}

fn add(a: Amount, b: Amount) -> Result<Amount, RiskError> {
    a.checked_add(b).map_err(money("sum"))
}

/// The oracle price of an asset (zero when never set).
fn price_of(engine: &Engine, asset: AssetId) -> Price {
    engine.state().prices.get(asset.index()).map_or(Price::ZERO, |entry| entry.price)
}

fn value(amount: Amount, price: Price, rounding: Rounding) -> Result<Amount, RiskError> {
    amount.value_at(price, rounding).map_err(money("value"))
}

fn ratio(numerator: Amount, denominator: Amount) -> Result<Option<Ratio>, RiskError> {
    if !denominator.is_positive() {
        return Ok(None);
    }
    Ratio::from_fraction(numerator, denominator, Rounding::Floor)
        .map(Some)
        .map_err(money("coverage"))
}

/// Builds the whole risk view of an engine.
///
/// # Errors
/// Overflow, or a state copy that does not rebuild.
pub fn report(engine: &Engine) -> Result<RiskReport, RiskError> {
    let layers = layer_capital(engine)?;
    let mut capital_value = Amount::ZERO;
    for layer in &layers {
        capital_value = add(capital_value, layer.value)?;
    }
    let markets = market_risk(engine, &layers)?;
    let mut exposure_value = Amount::ZERO;
    for market in &markets {
        exposure_value = add(exposure_value, market.exposure_value)?;
    }
    let deficits = open_deficits(engine)?;
    let mut deficit_value = Amount::ZERO;
    for deficit in &deficits {
        deficit_value = add(deficit_value, deficit.value)?;
    }
    let mut at_risk = Vec::new();
    for (index, asset) in engine.config().assets.iter().enumerate() {
        let id = AssetId(u16::try_from(index).map_err(|_| RiskError("asset id".to_owned()))?);
        let price = price_of(engine, id);
        let mut steps = Vec::new();
        if price.is_positive() {
            for drop in SHOCK_STEPS_PCT {
                steps.push(shock_step(engine, id, drop)?);
            }
        }
        at_risk.push(AssetAtRisk { asset: asset.symbol.clone(), price, steps });
    }
    Ok(RiskReport {
        coverage: ratio(capital_value, exposure_value)?,
        layers,
        capital_value,
        markets,
        exposure_value,
        deficits,
        deficit_value,
        at_risk,
    })
}

/// Every capital-holding layer in config order: funds, offsets, staker pools, stability pools,
/// covers.
fn layer_capital(engine: &Engine) -> Result<Vec<LayerCapital>, RiskError> {
    let config = engine.config();
    let net = &engine.state().net;
    let mut rows: Vec<(String, String, Amount)> = Vec::new();
    for (fund, state) in config.funds.iter().zip(&net.funds) {
        rows.push((format!("fund:{}", fund.name), fund.asset.clone(), state.balance));
    }
    for (offset, balance) in config.offsets.iter().zip(&net.offsets) {
        rows.push((format!("offset:{}", offset.name), offset.asset.clone(), *balance));
    }
    for (pool, state) in config.staker_pools.iter().zip(&net.staker_pools) {
        rows.push((format!("stakers:{}", pool.name), pool.asset.clone(), state.assets));
    }
    for (pool, state) in config.stability_pools.iter().zip(&net.stability_pools) {
        rows.push((format!("stability:{}", pool.name), pool.asset.clone(), state.deposits));
    }
    for (cover, state) in config.covers.iter().zip(&net.covers) {
        let active = state.term_end > engine.state().now;
        let left =
            if active { cover.limit.saturating_sub_to_zero(state.paid) } else { Amount::ZERO };
        rows.push((format!("cover:{}", cover.name), cover.asset.clone(), left));
    }
    rows.into_iter()
        .map(|(layer, asset, balance)| {
            let price = config.asset_id(&asset).map_or(Price::ZERO, |id| price_of(engine, id));
            Ok(LayerCapital {
                value: value(balance, price, Rounding::Floor)?,
                layer,
                asset,
                balance,
            })
        })
        .collect()
}

/// The name of a market.
fn market_name(engine: &Engine, market: MarketRef) -> String {
    match market {
        MarketRef::Lending(asset) => engine.config().asset_symbol(asset).to_owned(),
        MarketRef::Perp(perp) => engine.config().perp_name(perp).to_owned(),
    }
}

/// Lending markets then perpetual markets, each with the capital of its waterfall.
fn market_risk(engine: &Engine, layers: &[LayerCapital]) -> Result<Vec<MarketRisk>, RiskError> {
    let config = engine.config();
    let state = engine.state();
    let mut markets = Vec::new();
    for (index, market) in state.lending.iter().enumerate() {
        let Some(market) = market else { continue };
        let asset = AssetId(u16::try_from(index).map_err(|_| RiskError("asset id".to_owned()))?);
        let exposure =
            market.total_debt().map_err(|rejection| RiskError(format!("debt: {rejection}")))?;
        markets.push((MarketRef::Lending(asset), "lending", exposure, price_of(engine, asset)));
    }
    for (index, market) in state.perps.iter().enumerate() {
        let id = PerpMarketId(u16::try_from(index).map_err(|_| RiskError("perp id".to_owned()))?);
        let underlying = config
            .perps
            .get(index)
            .and_then(|perp| config.asset_id(&perp.underlying))
            .map_or(Price::ZERO, |asset| price_of(engine, asset));
        markets.push((MarketRef::Perp(id), "perp", market.open_interest, underlying));
    }
    markets
        .into_iter()
        .map(|(market, kind, exposure, price)| {
            let name = market_name(engine, market);
            let waterfall: Vec<String> = config
                .waterfalls
                .iter()
                .find(|waterfall| waterfall.market == name)
                .map(|waterfall| waterfall.layers.clone())
                .unwrap_or_default();
            let mut capital_value = Amount::ZERO;
            for text in &waterfall {
                let holds_capital = matches!(
                    LayerRef::parse(text),
                    Ok(LayerRef::Fund(_)
                        | LayerRef::Offset(_)
                        | LayerRef::Stakers(_)
                        | LayerRef::Stability(_)
                        | LayerRef::Cover(_))
                );
                if let Some(layer) =
                    layers.iter().find(|layer| holds_capital && layer.layer == *text)
                {
                    capital_value = add(capital_value, layer.value)?;
                }
            }
            let exposure_value = value(exposure, price, Rounding::Ceil)?;
            let steps = waterfall
                .iter()
                .map(|layer| waterfall_step(engine, market, layer, layers))
                .collect();
            Ok(MarketRisk {
                market: name,
                kind,
                exposure,
                exposure_value,
                waterfall,
                capital_value,
                coverage: ratio(capital_value, exposure_value)?,
                steps,
            })
        })
        .collect()
}

/// One waterfall layer of a market: its capital, its caps and its payments to the market.
fn waterfall_step(
    engine: &Engine,
    market: MarketRef,
    text: &str,
    layers: &[LayerCapital],
) -> WaterfallStep {
    let config = engine.config();
    let net = &engine.state().net;
    let capital = layers.iter().find(|layer| layer.layer == text);
    let payment = net
        .payments
        .get(&market)
        .and_then(|payments| payments.iter().find(|payment| payment.layer == text));
    let cap = |cap, limit: String, used, period_secs| LayerCap { cap, limit, used, period_secs };
    let mut caps = Vec::new();
    match LayerRef::parse(text) {
        Ok(LayerRef::Fund(name)) => {
            if let Some((fund, state)) =
                config.funds.iter().zip(&net.funds).find(|(fund, _)| fund.name == name)
            {
                if let Some(limit) = fund.period_cap {
                    let period = Some(fund.period_secs);
                    caps.push(cap(
                        "period_cap",
                        limit.to_string(),
                        Some(state.period_paid),
                        period,
                    ));
                }
                if let Some(limit) = fund.market_lifetime_cap {
                    let used = state.paid_by_market.get(&market).copied().unwrap_or(Amount::ZERO);
                    caps.push(cap("market_lifetime_cap", limit.to_string(), Some(used), None));
                }
            }
        }
        Ok(LayerRef::Stakers(name)) => {
            if let Some(pool) = config.staker_pools.iter().find(|pool| pool.name == name) {
                caps.push(cap("slash_cap", pool.slash_cap.to_string(), None, None));
            }
        }
        Ok(LayerRef::Cover(name)) => {
            if let Some((cover, state)) =
                config.covers.iter().zip(&net.covers).find(|(cover, _)| cover.name == name)
            {
                caps.push(cap("limit", cover.limit.to_string(), Some(state.paid), None));
            }
        }
        Ok(LayerRef::Recap) => {
            if let Some(limit) = config
                .recap
                .as_ref()
                .and_then(|recap| recap.period_mint_cap.map(|limit| (limit, recap.period_secs)))
            {
                let used = Some(net.recap_period.1);
                caps.push(cap("period_mint_cap", limit.0.to_string(), used, Some(limit.1)));
            }
        }
        _ => {}
    }
    WaterfallStep {
        layer: text.to_owned(),
        asset: capital.map(|layer| layer.asset.clone()),
        balance: capital.map(|layer| layer.balance),
        value: capital.map(|layer| layer.value),
        caps,
        paid: payment.map_or(Amount::ZERO, |payment| payment.paid),
        recovered: payment.map_or(Amount::ZERO, |payment| payment.recovered),
    }
}

/// Deficits recorded on markets and pending on later-paying layers.
fn open_deficits(engine: &Engine) -> Result<Vec<OpenDeficit>, RiskError> {
    let config = engine.config();
    let state = engine.state();
    let mut recorded: Vec<(MarketRef, Amount)> = Vec::new();
    for (index, market) in state.lending.iter().enumerate() {
        let Some(market) = market else { continue };
        let asset = AssetId(u16::try_from(index).map_err(|_| RiskError("asset id".to_owned()))?);
        recorded.push((MarketRef::Lending(asset), market.deficit));
    }
    for (index, market) in state.perps.iter().enumerate() {
        let id = PerpMarketId(u16::try_from(index).map_err(|_| RiskError("perp id".to_owned()))?);
        recorded.push((MarketRef::Perp(id), market.deficit));
    }
    let mut deficits = Vec::new();
    for (market, amount) in recorded {
        let pending = state.net.pending.get(&market).copied().unwrap_or(Amount::ZERO);
        if !amount.is_positive() && !pending.is_positive() {
            continue;
        }
        let asset = config.deficit_asset_symbol(market).to_owned();
        let price = config.asset_id(&asset).map_or(Price::ZERO, |id| price_of(engine, id));
        deficits.push(OpenDeficit {
            market: market_name(engine, market),
            value: value(add(amount, pending)?, price, Rounding::Ceil)?,
            asset,
            recorded: amount,
            pending,
        });
    }
    Ok(deficits)
}

/// A copy of the engine with one asset's oracle price replaced (time of update kept).
///
/// # Errors
/// When the copy does not rebuild.
pub fn with_price(engine: &Engine, asset: AssetId, price: Price) -> Result<Engine, RiskError> {
    let mut snapshot = engine.snapshot_to_edit();
    if let Some(entry) = snapshot.state.prices.get_mut(asset.index()) {
        entry.price = price;
    }
    Engine::from_snapshot(snapshot).map_err(|error| RiskError(format!("state copy: {error}")))
}

/// `price × (100 − drop) / 100`, rounded down.
///
/// # Errors
/// Overflow.
pub fn dropped_price(price: Price, drop_pct: u32) -> Result<Price, RiskError> {
    let keep = Ratio::from_bps(i128::from(100_u32.saturating_sub(drop_pct)) * 100)
        .map_err(money("drop"))?;
    price.mul_ratio(keep, Rounding::Floor).map_err(money("drop"))
}

/// What one price drop of one asset makes liquidatable.
fn shock_step(engine: &Engine, asset: AssetId, drop_pct: u32) -> Result<ShockStep, RiskError> {
    let price = dropped_price(price_of(engine, asset), drop_pct)?;
    let shocked = with_price(engine, asset, price)?;
    let found = liquidatable_totals(&shocked)?;
    Ok(ShockStep {
        drop_pct,
        price,
        accounts: found.accounts,
        collateral_value: found.collateral_value,
        debt_value: found.debt_value,
        bad_debt: found.bad_debt,
    })
}

/// Sums over the accounts liquidatable now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LiquidatableTotals {
    /// How many.
    pub accounts: u64,
    /// Their unweighted collateral value.
    pub collateral_value: Amount,
    /// Their debt value plus perpetual losses.
    pub debt_value: Amount,
    /// Σ max(0, debt − collateral − perpetual gains).
    pub bad_debt: Amount,
}

/// Sums the health figures of every liquidatable account (found through the liquidation index).
///
/// # Errors
/// Overflow, or an account whose health cannot be computed.
pub fn liquidatable_totals(engine: &Engine) -> Result<LiquidatableTotals, RiskError> {
    let mut totals = LiquidatableTotals::default();
    for id in engine.liquidatable_accounts() {
        let health = engine.health(id).map_err(|rejection| RiskError(rejection.to_string()))?;
        let (gains, losses) = if health.perp_value.is_negative() {
            (Amount::ZERO, health.perp_value.checked_neg().map_err(money("perp"))?)
        } else {
            (health.perp_value, Amount::ZERO)
        };
        let held = add(health.collateral_value, gains)?;
        let owed = add(health.debt_value, losses)?;
        totals.accounts = totals.accounts.saturating_add(1);
        totals.collateral_value = add(totals.collateral_value, health.collateral_value)?;
        totals.debt_value = add(totals.debt_value, owed)?;
        totals.bad_debt = add(totals.bad_debt, owed.saturating_sub_to_zero(held))?;
    }
    Ok(totals)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use backstop_core::VenueConfig;
    use backstop_core::script::parse_script;

    use backstop_testkit::venues::insured_lending_perp_toml as venue;

    /// examples/crash.script before the crash, plus 1,500 USDC donated to the fund.
    pub(crate) use backstop_testkit::venues::INSURED_CRASH_SETUP as SETUP;

    pub(crate) fn engine_after(script: &str) -> Engine {
        let config = VenueConfig::from_toml_str(&venue()).unwrap_or_else(|e| panic!("venue: {e}"));
        let mut engine = Engine::new(config).unwrap_or_else(|e| panic!("engine: {e}"));
        let lines = parse_script(script, engine.config()).unwrap_or_else(|e| panic!("{e:?}"));
        for line in lines {
            engine.apply(&line.command).unwrap_or_else(|e| panic!("{:?}: {e}", line.command));
        }
        engine
    }

    fn text<T: ToString>(value: T) -> String {
        value.to_string()
    }

    #[test]
    fn dropped_price_rounds_down() {
        let price: Price = "2000".parse().unwrap_or(Price::ZERO);
        assert_eq!(dropped_price(price, 30).map(text), Ok("1400".to_owned()));
        let odd: Price = "0.000000000000000003".parse().unwrap_or(Price::ZERO);
        // 3e-18 × 0.95 = 2.85e-18, rounded down to 2e-18.
        assert_eq!(dropped_price(odd, 5).map(text), Ok("0.000000000000000002".to_owned()));
    }

    #[test]
    fn capital_exposure_and_coverage_by_hand() {
        let report = report(&engine_after(SETUP)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(report.layers.len(), 1);
        assert_eq!(report.layers[0].layer, "fund:insurance");
        assert_eq!(text(report.layers[0].balance), "1500");
        assert_eq!(text(report.capital_value), "1500");
        // USDC debt 15,000 (borrowed after the last accrual: no interest); nothing else owed.
        let usdc = &report.markets[0];
        assert_eq!((usdc.market.as_str(), usdc.kind), ("USDC", "lending"));
        assert_eq!(
            (text(usdc.exposure), text(usdc.exposure_value)),
            ("15000".into(), "15000".into())
        );
        assert_eq!(usdc.waterfall, ["fund:insurance", "socialize"]);
        assert_eq!(text(usdc.capital_value), "1500");
        // 1,500 / 15,000 = 0.1.
        assert_eq!(usdc.coverage.map(text), Some("0.1".to_owned()));
        assert_eq!(report.markets[1].coverage, None);
        assert_eq!(report.markets[2].market, "ETH-PERP");
        assert_eq!(text(report.exposure_value), "15000");
        assert_eq!(report.coverage.map(text), Some("0.1".to_owned()));
        assert!(report.deficits.is_empty());
        assert_eq!(text(report.deficit_value), "0");
    }

    #[test]
    fn at_risk_steps_by_hand() {
        let report = report(&engine_after(SETUP)).unwrap_or_else(|e| panic!("{e}"));
        let eth = &report.at_risk[1];
        assert_eq!((eth.asset.as_str(), text(eth.price)), ("ETH", "2000".to_owned()));
        // The borrower: 10 ETH against 15,000 USDC; liquidatable once 10 × p × 0.825 < 15,000,
        // i.e. p < 1,818.18 (a drop beyond 9.09 %); bad debt once 10 × p < 15,000 (p < 1,500).
        let rows: Vec<(u32, String, u64, String, String, String)> = eth
            .steps
            .iter()
            .map(|s| {
                let values = (text(s.collateral_value), text(s.debt_value), text(s.bad_debt));
                (s.drop_pct, text(s.price), s.accounts, values.0, values.1, values.2)
            })
            .collect();
        let row = |d, p: &str, n, c: &str, debt: &str, b: &str| {
            (d, p.to_owned(), n, c.to_owned(), debt.to_owned(), b.to_owned())
        };
        assert_eq!(
            rows,
            vec![
                row(5, "1900", 0, "0", "0", "0"),
                row(10, "1800", 1, "18000", "15000", "0"),
                row(15, "1700", 1, "17000", "15000", "0"),
                row(20, "1600", 1, "16000", "15000", "0"),
                row(25, "1500", 1, "15000", "15000", "0"),
                row(30, "1400", 1, "14000", "15000", "1000"),
                row(35, "1300", 1, "13000", "15000", "2000"),
                row(40, "1200", 1, "12000", "15000", "3000"),
                row(45, "1100", 1, "11000", "15000", "4000"),
                row(50, "1000", 1, "10000", "15000", "5000"),
            ]
        );
        // A falling USDC only shrinks the debt: nothing becomes liquidatable.
        assert!(report.at_risk[0].steps.iter().all(|s| s.accounts == 0));
        assert_eq!(report.at_risk[0].steps.len(), 10);
    }

    #[test]
    fn a_crash_deficit_paid_by_the_fund_leaves_no_open_deficit() {
        let crash = format!(
            "{SETUP}set_price asset=ETH price=1400\n\
             liquidate keeper=3 account=2 debt=USDC collateral=ETH amount=100000\n"
        );
        let report = report(&engine_after(&crash)).unwrap_or_else(|e| panic!("{e}"));
        // The 1,000 USDC deficit of examples/crash.script walks the waterfall at once: the fund
        // pays it from its 1,500, and nothing stays open.
        assert_eq!(text(report.layers[0].balance), "500");
        assert!(report.deficits.is_empty());
        assert_eq!(text(report.markets[0].exposure), "0");
        assert_eq!(report.coverage, None);
    }
}
