//! Proptest strategies for random, mostly valid command sequences over a small set of accounts.
//!
//! A sequence starts with a [`setup`]: every account of the [`VenueShape`] is opened, every asset
//! priced at its reference price, two well-funded accounts (1 and 2, the lenders and keepers)
//! deposit about a million of each asset and supply half of it, and the others deposit a random
//! mix. Then [`body_step`]s follow: deposits, supplies and withdrawals, borrows and repayments,
//! trades near the oracle price, funding, price moves (including crashes of 30–80%), time,
//! liquidations of whatever is liquidatable, auction takes and resets, and a few invalid commands.
//!
//! Amounts are quantised to the asset's decimals most of the time; a few are finer, zero or
//! negative on purpose. Steps that depend on the engine's state are markers (see [`Step`]),
//! expanded by the runner; [`commands`] gives plain commands instead, aiming liquidations and
//! auction takes at random targets and letting the engine refuse them.

use crate::steps::{BPS, SizedAction, Step, fraction_of, mark_price, offset_price, quantise_down};
use crate::venues::{AssetShape, Fixture, PerpShape, VenueShape};
use backstop_core::{
    AccountId, AccountKind, AssetId, AuctionId, Command, LiquidationTarget, MarketRef, PerpMarketId,
};
use backstop_money::{Amount, Price, Ratio, Rounding, SCALE, mul_div};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::{BoxedStrategy, Union};

/// How a generated sequence is mixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    /// Most body steps after the setup.
    pub max_len: usize,
    /// Weight of invalid commands among body steps (0: none; the other steps weigh about 130).
    pub invalid_weight: u32,
    /// Weight of liquidation steps (keeper markers and random liquidations).
    pub liquidation_weight: u32,
}

impl Default for Mix {
    fn default() -> Mix {
        Mix { max_len: 200, invalid_weight: 5, liquidation_weight: 12 }
    }
}

/// An amount of `asset` worth `value` in the numeraire at its reference price, rounded down to
/// the asset's decimals and at least one smallest unit.
#[must_use]
pub fn amount_worth(asset: &AssetShape, value: Amount) -> Amount {
    let raw = mul_div(value.raw(), SCALE, asset.reference_price.raw(), Rounding::Floor)
        .unwrap_or(i128::MAX);
    let quantised = quantise_down(Amount::from_raw(raw), asset.quantum());
    if quantised.is_positive() { quantised } else { Amount::from_raw(asset.quantum()) }
}

/// A value of `m × 10^e` in the numeraire for `m` in 1..=9 and `e` in `exponents`.
pub fn value(exponents: std::ops::RangeInclusive<u32>) -> impl Strategy<Value = Amount> + Clone {
    (1_i128..=9, exponents)
        .prop_map(|(mantissa, exponent)| Amount::from_raw(mantissa * 10_i128.pow(exponent) * SCALE))
}

/// A quantised amount of `asset` worth `m × 10^e` for `e` in `exponents`.
pub fn amount_in_value_range(
    asset: AssetShape,
    exponents: std::ops::RangeInclusive<u32>,
) -> BoxedStrategy<Amount> {
    value(exponents).prop_map(move |value| amount_worth(&asset, value)).boxed()
}

/// A mostly valid amount of `asset`: usually quantised and worth 1 to 900,000 in the numeraire;
/// sometimes a few smallest units, sometimes finer than the decimals, zero or negative.
pub fn amount(asset: AssetShape) -> BoxedStrategy<Amount> {
    let quantum = asset.quantum();
    prop_oneof![
        16 => amount_in_value_range(asset, 0..=5),
        3 => (1_i128..=1_000).prop_map(move |count| Amount::from_raw(count * quantum)),
        1 => (1_i128..=1_000_000_000).prop_map(Amount::from_raw),
        1 => Just(Amount::ZERO),
        1 => (1_i128..=SCALE).prop_map(|raw| Amount::from_raw(-raw)),
    ]
    .boxed()
}

/// An amount of a fraction in basis points: all of it, half, something in between, a sliver, or
/// more than there is.
pub fn fraction_bps() -> BoxedStrategy<u32> {
    prop_oneof![
        3 => Just(10_000_u32),
        2 => Just(5_000_u32),
        8 => 1_u32..=10_000,
        1 => 1_u32..=10,
        2 => 10_001_u32..=20_000,
    ]
    .boxed()
}

/// An account to act with: mostly the shape's accounts, rarely an unknown one.
pub fn account(shape: &VenueShape) -> BoxedStrategy<AccountId> {
    let known = shape.all_accounts();
    prop_oneof![
        40 => select(known),
        1 => Just(AccountId(999)),
    ]
    .boxed()
}

/// Two different accounts of the shape.
pub fn account_pair(shape: &VenueShape) -> BoxedStrategy<(AccountId, AccountId)> {
    let known = shape.all_accounts();
    let count = known.len().max(2);
    (0..count, 1..count)
        .prop_map(move |(first, offset)| {
            let second = (first + offset) % count;
            let get = |index: usize| known.get(index).copied().unwrap_or(AccountId(999));
            (get(first), get(second))
        })
        .boxed()
}

/// A listed asset.
pub fn asset(shape: &VenueShape) -> BoxedStrategy<AssetShape> {
    select(shape.assets.clone()).boxed()
}

/// An asset with a lending market (any asset when the venue has none).
pub fn lending_asset(shape: &VenueShape) -> BoxedStrategy<AssetShape> {
    let lending: Vec<AssetShape> =
        shape.assets.iter().filter(|asset| asset.lending).cloned().collect();
    if lending.is_empty() { asset(shape) } else { select(lending).boxed() }
}

/// An asset to borrow: a lending asset, twice as often one liquidated by Dutch auction.
pub fn borrow_asset(shape: &VenueShape) -> BoxedStrategy<AssetShape> {
    let dutch: Vec<AssetShape> =
        shape.assets.iter().filter(|asset| asset.dutch_auction).cloned().collect();
    if dutch.is_empty() {
        lending_asset(shape)
    } else {
        prop_oneof![1 => lending_asset(shape), 2 => select(dutch)].boxed()
    }
}

/// The opening steps: accounts, prices, the lenders' deposits and supplies, random deposits.
pub fn setup(shape: &VenueShape) -> BoxedStrategy<Vec<Step>> {
    let mut fixed = Vec::new();
    for id in &shape.accounts {
        fixed.push(Step::Apply(Command::OpenAccount { account: *id, kind: AccountKind::Regular }));
    }
    if let Some(backstop) = shape.backstop {
        fixed.push(Step::Apply(Command::OpenAccount {
            account: backstop,
            kind: AccountKind::Backstop,
        }));
    }
    for asset in &shape.assets {
        fixed
            .push(Step::Apply(Command::SetPrice { asset: asset.id, price: asset.reference_price }));
    }
    let million = Amount::from_raw(1_000_000 * SCALE);
    for lender in shape.accounts.iter().take(2) {
        for asset in &shape.assets {
            let amount = amount_worth(asset, million);
            fixed.push(Step::Apply(Command::Deposit { account: *lender, asset: asset.id, amount }));
            if asset.lending {
                fixed.push(Step::Sized {
                    action: SizedAction::Supply,
                    account: *lender,
                    asset: asset.id,
                    fraction_bps: 5_000,
                    quantise: true,
                });
            }
        }
    }
    if let (Some(backstop), Some(first)) = (shape.backstop, shape.assets.first()) {
        let amount = amount_worth(first, Amount::from_raw(100_000 * SCALE));
        fixed.push(Step::Apply(Command::Deposit { account: backstop, asset: first.id, amount }));
    }
    let others: Vec<AccountId> = shape.accounts.iter().skip(2).copied().collect();
    let deposit =
        (select(others.clone()), asset(shape), value(2..=5)).prop_map(|(account, asset, value)| {
            Step::Apply(Command::Deposit {
                account,
                asset: asset.id,
                amount: amount_worth(&asset, value),
            })
        });
    // Leverage for the crashes to bite: borrows near the limit and perpetual positions.
    let borrow = (select(others), borrow_asset(shape), 5_000_u32..=10_000).prop_map(
        |(account, asset, fraction_bps)| Step::Sized {
            action: SizedAction::Borrow,
            account,
            asset: asset.id,
            fraction_bps,
            quantise: true,
        },
    );
    (
        prop::collection::vec(deposit, 2..=8),
        prop::collection::vec(borrow, 0..=4),
        prop::collection::vec(trade(shape), 0..=3),
    )
        .prop_map(move |(deposits, borrows, trades)| {
            fixed.iter().cloned().chain(deposits).chain(borrows).chain(trades).collect()
        })
        .boxed()
}

/// A whole sequence: [`setup`] then up to 200 body steps with the default [`Mix`].
pub fn steps(shape: &VenueShape) -> BoxedStrategy<Vec<Step>> {
    steps_with(shape, Mix::default())
}

/// A whole sequence: [`setup`] then up to `mix.max_len` body steps.
pub fn steps_with(shape: &VenueShape, mix: Mix) -> BoxedStrategy<Vec<Step>> {
    (setup(shape), prop::collection::vec(body_step(shape, mix), 0..=mix.max_len))
        .prop_map(|(mut setup, body)| {
            setup.extend(body);
            setup
        })
        .boxed()
}

/// One of the fixture venues and a sequence of steps for it.
pub fn fixture_and_steps(mix: Mix) -> BoxedStrategy<(Fixture, Vec<Step>)> {
    select(crate::venues::ALL.to_vec())
        .prop_flat_map(move |fixture| (Just(fixture), steps_with(&fixture.shape(), mix)))
        .boxed()
}

/// One body step (see the module documentation for the mix).
pub fn body_step(shape: &VenueShape, mix: Mix) -> BoxedStrategy<Step> {
    let mut arms: Vec<(u32, BoxedStrategy<Step>)> = vec![
        (6, (1_u64..=300).prop_map(|secs| Step::AdvanceBy { secs }).boxed()),
        (1, (3_600_u64..=30 * 86_400).prop_map(|secs| Step::AdvanceBy { secs }).boxed()),
        (4, Just(Step::RefreshPrices).boxed()),
        (6, price_move(shape, -500..=500)),
        (3, price_move(shape, -8_000..=-3_000)),
        (1, price_move(shape, 1_000..=10_000)),
        (8, deposit(shape)),
        (24, sized(shape)),
        (6, lending_command(shape)),
        (12, trade(shape)),
        (4, close_position(shape)),
        (3, funding(shape)),
        (
            1,
            lending_asset(shape)
                .prop_map(|asset| Step::Apply(Command::AccrueInterest { asset: asset.id }))
                .boxed(),
        ),
        (8, take_auction(shape)),
        (3, (0_u32..8).prop_map(|pick| Step::ResetAuction { pick }).boxed()),
        (1, open_extra_account()),
    ];
    if mix.liquidation_weight > 0 {
        arms.push((mix.liquidation_weight, keeper(shape)));
        arms.push((mix.liquidation_weight.div_ceil(6), random_liquidation(shape)));
    }
    if mix.invalid_weight > 0 {
        arms.push((mix.invalid_weight, invalid(shape)));
    }
    Union::new_weighted(arms).boxed()
}

/// A relative price move of a listed asset, in basis points from `change`.
pub fn price_move(
    shape: &VenueShape,
    change: std::ops::RangeInclusive<i32>,
) -> BoxedStrategy<Step> {
    (asset(shape), change)
        .prop_map(|(asset, change_bps)| Step::MovePrice {
            asset: asset.id,
            change_bps,
            fallback: asset.reference_price,
        })
        .boxed()
}

/// A deposit of a mostly valid amount.
pub fn deposit(shape: &VenueShape) -> BoxedStrategy<Step> {
    (account(shape), asset(shape))
        .prop_flat_map(|(account, asset)| {
            let id = asset.id;
            amount(asset).prop_map(move |amount| {
                Step::Apply(Command::Deposit { account, asset: id, amount })
            })
        })
        .boxed()
}

/// A withdrawal, supply, supply withdrawal, borrow or repayment of a fraction of what there is.
pub fn sized(shape: &VenueShape) -> BoxedStrategy<Step> {
    let action = prop_oneof![
        3 => Just(SizedAction::Withdraw),
        5 => Just(SizedAction::Supply),
        4 => Just(SizedAction::WithdrawSupply),
        6 => Just(SizedAction::Borrow),
        4 => Just(SizedAction::Repay),
    ];
    let quantise = prop_oneof![12 => Just(true), 1 => Just(false)];
    (action, account(shape), asset(shape), lending_asset(shape), fraction_bps(), quantise)
        .prop_map(|(action, account, any_asset, lending, fraction_bps, quantise)| {
            let asset = if action == SizedAction::Withdraw { any_asset.id } else { lending.id };
            Step::Sized { action, account, asset, fraction_bps, quantise }
        })
        .boxed()
}

/// A supply, supply withdrawal, borrow or repayment of a generated amount.
pub fn lending_command(shape: &VenueShape) -> BoxedStrategy<Step> {
    (0_u8..4, account(shape), lending_asset(shape))
        .prop_flat_map(|(kind, account, asset)| {
            let id = asset.id;
            amount(asset).prop_map(move |amount| {
                Step::Apply(match kind {
                    0 => Command::Supply { account, asset: id, amount },
                    1 => Command::WithdrawSupply { account, asset: id, amount },
                    2 => Command::Borrow { account, asset: id, amount },
                    _ => Command::Repay { account, asset: id, amount },
                })
            })
        })
        .boxed()
}

/// A base size for a market: worth 10 to 900,000 at the reference price, or a few raw units.
pub fn trade_size(shape: &VenueShape, market: PerpShape) -> BoxedStrategy<Amount> {
    let underlying = shape.asset(market.underlying).cloned();
    let sized = match underlying {
        Some(asset) => amount_in_value_range(asset, 1..=5),
        None => Just(Amount::ONE).boxed(),
    };
    let magnitude = prop_oneof![
        12 => sized,
        1 => (1_i128..=1_000_000).prop_map(Amount::from_raw),
    ];
    (magnitude, any::<bool>())
        .prop_map(|(size, long)| if long { size } else { Amount::from_raw(-size.raw()) })
        .boxed()
}

/// A trade between two different accounts near the oracle price (rarely outside the band).
pub fn trade(shape: &VenueShape) -> BoxedStrategy<Step> {
    if shape.perps.is_empty() {
        return deposit(shape);
    }
    let shape_for_size = shape.clone();
    let offset = prop_oneof![
        12 => -50_i32..=50,
        1 => prop_oneof![-3_000_i32..=-1_001, 1_001_i32..=3_000],
    ];
    (select(shape.perps.clone()), account_pair(shape), offset)
        .prop_flat_map(move |(market, (taker, maker), offset_bps)| {
            trade_size(&shape_for_size, market).prop_map(move |size| Step::Trade {
                market: market.id,
                taker,
                maker,
                size,
                offset_bps,
            })
        })
        .boxed()
}

/// Reducing or closing (most often exactly) a position near the oracle price.
pub fn close_position(shape: &VenueShape) -> BoxedStrategy<Step> {
    if shape.perps.is_empty() {
        return deposit(shape);
    }
    let fraction = prop_oneof![3 => Just(10_000_u32), 2 => fraction_bps()];
    (select(shape.perps.clone()), account_pair(shape), fraction, -50_i32..=50)
        .prop_map(|(market, (account, counterparty), fraction_bps, offset_bps)| {
            Step::ClosePosition {
                market: market.id,
                account,
                counterparty,
                fraction_bps,
                offset_bps,
            }
        })
        .boxed()
}

/// Funding at a small rate either way, sometimes a large one.
pub fn funding(shape: &VenueShape) -> BoxedStrategy<Step> {
    if shape.perps.is_empty() {
        return Just(Step::RefreshPrices).boxed();
    }
    let rate_bps = prop_oneof![8 => -100_i128..=100, 1 => -5_000_i128..=5_000];
    (select(shape.perps.clone()), rate_bps)
        .prop_map(|(market, bps)| {
            Step::Apply(Command::AccrueFunding {
                market: market.id,
                rate: Ratio::from_raw(bps * (SCALE / BPS)),
            })
        })
        .boxed()
}

/// A keeper step: liquidate one of the liquidatable accounts, if any.
pub fn keeper(shape: &VenueShape) -> BoxedStrategy<Step> {
    let keepers: Vec<AccountId> = shape.accounts.clone();
    let fraction = prop_oneof![
        6 => fraction_bps(),
        1 => Just(1_000_000_u32),
    ];
    (keeper_account(keepers), any::<u32>(), fraction)
        .prop_map(|(keeper, pick, fraction_bps)| Step::Keeper { keeper, pick, fraction_bps })
        .boxed()
}

/// A keeper: usually one of the two well-funded accounts, sometimes any of `accounts`.
fn keeper_account(accounts: Vec<AccountId>) -> BoxedStrategy<AccountId> {
    let funded: Vec<AccountId> = accounts.iter().copied().take(2).collect();
    if funded.is_empty() {
        return Just(AccountId(1)).boxed();
    }
    prop_oneof![4 => select(funded), 1 => select(accounts)].boxed()
}

/// A liquidation of a random account with a random target (mostly refused).
pub fn random_liquidation(shape: &VenueShape) -> BoxedStrategy<Step> {
    let shape_for_target = shape.clone();
    (account(shape), account(shape), any::<u32>(), amount_units())
        .prop_map(move |(keeper, account, pick, amount)| {
            Step::Apply(Command::Liquidate {
                keeper,
                account,
                target: random_target(&shape_for_target, pick),
                amount,
                seed: 0,
            })
        })
        .boxed()
}

/// A positive amount of 1 to 100,000 whole units.
fn amount_units() -> BoxedStrategy<Amount> {
    (1_i128..=100_000).prop_map(|count| Amount::from_raw(count * SCALE)).boxed()
}

/// A liquidation target chosen by `pick` among those the venue's markets allow.
#[must_use]
pub fn random_target(shape: &VenueShape, pick: u32) -> LiquidationTarget {
    let lending = shape.lending_assets();
    let asset_count = u32::try_from(shape.assets.len()).unwrap_or(1).max(1);
    let collateral = AssetId(u16::try_from((pick >> 8) % asset_count).unwrap_or(0));
    let market = shape
        .perps
        .get(usize::try_from(pick >> 16).unwrap_or(0) % shape.perps.len().max(1))
        .map_or(PerpMarketId(0), |market| market.id);
    match pick % 4 {
        0 | 1 if !lending.is_empty() => LiquidationTarget::Debt {
            debt: lending[usize::try_from(pick >> 4).unwrap_or(0) % lending.len()],
            collateral,
        },
        2 => LiquidationTarget::Position { market },
        _ => LiquidationTarget::UnpaidLoss { market, collateral },
    }
}

/// A take from a running auction, if any, at its current price.
pub fn take_auction(shape: &VenueShape) -> BoxedStrategy<Step> {
    let below = prop_oneof![8 => Just(false), 1 => Just(true)];
    (keeper_account(shape.accounts.clone()), any::<u32>(), fraction_bps(), below)
        .prop_map(|(keeper, pick, fraction_bps, below_price)| Step::TakeAuction {
            keeper,
            pick,
            fraction_bps,
            below_price,
        })
        .boxed()
}

/// Opening account 6 or 7 (regular or backstop), or an account that already exists.
pub fn open_extra_account() -> BoxedStrategy<Step> {
    let kind = prop_oneof![4 => Just(AccountKind::Regular), 1 => Just(AccountKind::Backstop)];
    (prop_oneof![Just(1_u64), Just(6_u64), Just(7_u64)], kind)
        .prop_map(|(id, kind)| Step::Apply(Command::OpenAccount { account: AccountId(id), kind }))
        .boxed()
}

/// A command the engine must refuse, or an edge case: unknown ids, zero, negative, too precise
/// or huge amounts, time going back or to its end, self-trades and self-liquidations, a price of
/// zero, absurd funding, and safety-net commands aimed at layers the venue does not have.
pub fn invalid(shape: &VenueShape) -> BoxedStrategy<Step> {
    let unknown_asset = AssetId(u16::try_from(shape.assets.len()).unwrap_or(0).saturating_add(7));
    let unknown_market =
        PerpMarketId(u16::try_from(shape.perps.len()).unwrap_or(0).saturating_add(3));
    let fine_asset =
        shape.assets.iter().find(|asset| asset.quantum() > 1).map_or(AssetId(0), |asset| asset.id);
    let perp = shape.perps.first().map_or(PerpMarketId(0), |market| market.id);
    let known = shape.all_accounts();
    let first_asset = shape.assets.first().map_or(AssetId(0), |asset| asset.id);
    let first_lending = shape.lending_assets().first().copied().unwrap_or(first_asset);
    (select(known), any::<u32>(), 0_u8..22)
        .prop_map(move |(account, pick, kind)| {
            let amount = Amount::from_raw(i128::from(pick % 1_000 + 1) * SCALE);
            let command = match kind {
                0 => Command::Deposit { account: AccountId(999), asset: first_asset, amount },
                1 => Command::Deposit { account, asset: unknown_asset, amount },
                2 => Command::Withdraw { account, asset: first_asset, amount: Amount::ZERO },
                3 => {
                    Command::Supply { account, asset: first_lending, amount: Amount::from_raw(-1) }
                }
                4 => Command::Deposit { account, asset: fine_asset, amount: Amount::from_raw(1) },
                5 => Command::AdvanceTime { now: u64::from(pick % 10) },
                6 => Command::OpenAccount { account, kind: AccountKind::Regular },
                7 => Command::Trade {
                    market: perp,
                    taker: account,
                    maker: account,
                    size: Amount::ONE,
                    price: shape_price_hint(pick),
                },
                8 => Command::Trade {
                    market: unknown_market,
                    taker: account,
                    maker: AccountId(1),
                    size: Amount::ONE,
                    price: Price::ONE,
                },
                9 => Command::Liquidate {
                    keeper: account,
                    account,
                    target: LiquidationTarget::Position { market: perp },
                    amount,
                    seed: 0,
                },
                10 => Command::TakeAuction {
                    keeper: account,
                    auction: AuctionId(u64::from(pick % 5) + 50),
                    amount,
                    max_price: Price::ONE,
                },
                11 => Command::SetPrice { asset: first_asset, price: Price::ZERO },
                12 => Command::AccrueFunding { market: unknown_market, rate: Ratio::ZERO },
                13 => Command::Borrow {
                    account,
                    asset: first_lending,
                    amount: Amount::from_raw(1_000_000_000_000 * SCALE),
                },
                14 => Command::Withdraw { account, asset: first_asset, amount: Amount::MAX },
                15 => Command::Deposit {
                    account,
                    asset: first_asset,
                    amount: Amount::from_raw(i128::MAX / 4),
                },
                16 => Command::AdvanceTime { now: u64::MAX - u64::from(pick % 2) },
                17 => Command::AccrueFunding { market: perp, rate: Ratio::from_raw(i128::MAX / 2) },
                18 => Command::SettleRevenue { asset: first_asset },
                19 => Command::Donate { account, layer: "fund:nowhere".to_owned(), amount },
                20 => Command::Recover { market: MarketRef::Lending(first_lending), amount },
                _ => Command::Repay { account, asset: unknown_asset, amount },
            };
            Step::Apply(command)
        })
        .boxed()
}

/// Some positive price for commands refused before the price matters.
fn shape_price_hint(pick: u32) -> Price {
    Price::from_raw(i128::from(pick % 5_000 + 1) * SCALE)
}

/// Plain commands (no markers): the same mix as [`steps_with`], with liquidations, auction
/// takes and resets aimed at random targets, and amounts sized from reference values.
pub fn commands(shape: &VenueShape, mix: Mix) -> BoxedStrategy<Vec<Command>> {
    let shape = shape.clone();
    steps_with(&shape, mix).prop_map(move |steps| to_commands(&shape, &steps)).boxed()
}

/// Turns steps into plain commands without an engine, tracking only time and prices as set.
#[must_use]
pub fn to_commands(shape: &VenueShape, steps: &[Step]) -> Vec<Command> {
    let mut now = 0_u64;
    let mut prices: Vec<Price> = shape.assets.iter().map(|_| Price::ZERO).collect();
    let typical = Amount::from_raw(10_000 * SCALE);
    let accounts = shape.all_accounts();
    let mut out = Vec::with_capacity(steps.len());
    let price_of =
        |prices: &[Price], asset: AssetId| {
            prices.get(asset.index()).copied().filter(|price| price.is_positive()).unwrap_or_else(
                || shape.asset(asset).map_or(Price::ONE, |asset| asset.reference_price),
            )
        };
    let model_trade_price = |prices: &[Price], market: PerpMarketId, offset_bps: i32| {
        let (underlying, settlement) = shape
            .perps
            .get(market.index())
            .map_or((AssetId(0), AssetId(0)), |market| (market.underlying, market.settlement));
        let mark = mark_price(price_of(prices, underlying), price_of(prices, settlement));
        offset_price(mark, offset_bps)
    };
    for step in steps {
        let command = match step {
            Step::Apply(command) => command.clone(),
            Step::AdvanceBy { secs } => Command::AdvanceTime { now: now.saturating_add(*secs) },
            Step::MovePrice { asset, change_bps, .. } => {
                let start = price_of(&prices, *asset);
                let factor = BPS.saturating_add(i128::from(*change_bps));
                let price = mul_div(start.raw(), factor, BPS, Rounding::Floor)
                    .map_or(Price::ZERO, Price::from_raw);
                Command::SetPrice { asset: *asset, price }
            }
            Step::RefreshPrices => {
                for asset in &shape.assets {
                    out.push(Command::SetPrice {
                        asset: asset.id,
                        price: price_of(&prices, asset.id),
                    });
                }
                continue;
            }
            Step::Sized { action, account, asset, fraction_bps, quantise } => {
                let base =
                    shape.asset(*asset).map_or(typical, |shape| amount_worth(shape, typical));
                let mut amount = fraction_of(base, *fraction_bps);
                if *quantise {
                    amount =
                        quantise_down(amount, shape.asset(*asset).map_or(1, AssetShape::quantum));
                }
                let (account, asset) = (*account, *asset);
                match action {
                    SizedAction::Withdraw => Command::Withdraw { account, asset, amount },
                    SizedAction::Supply => Command::Supply { account, asset, amount },
                    SizedAction::WithdrawSupply => {
                        Command::WithdrawSupply { account, asset, amount }
                    }
                    SizedAction::Borrow => Command::Borrow { account, asset, amount },
                    SizedAction::Repay => Command::Repay { account, asset, amount },
                }
            }
            Step::Trade { market, taker, maker, size, offset_bps } => {
                let price = model_trade_price(&prices, *market, *offset_bps);
                Command::Trade { market: *market, taker: *taker, maker: *maker, size: *size, price }
            }
            Step::ClosePosition { market, account, counterparty, fraction_bps, offset_bps } => {
                let price = model_trade_price(&prices, *market, *offset_bps);
                let size = fraction_of(Amount::ONE, *fraction_bps).max(Amount::from_raw(1));
                Command::Trade {
                    market: *market,
                    taker: *account,
                    maker: *counterparty,
                    size,
                    price,
                }
            }
            Step::Keeper { keeper, pick, fraction_bps } => {
                let index = usize::try_from(*pick).unwrap_or(0) % accounts.len().max(1);
                let account = accounts.get(index).copied().unwrap_or(AccountId(1));
                let amount = fraction_of(typical, *fraction_bps).max(Amount::from_raw(1));
                Command::Liquidate {
                    keeper: *keeper,
                    account,
                    target: random_target(shape, pick.rotate_left(7)),
                    amount,
                    seed: 0,
                }
            }
            Step::TakeAuction { keeper, pick, fraction_bps, .. } => Command::TakeAuction {
                keeper: *keeper,
                auction: AuctionId(u64::from(pick % 4) + 1),
                amount: fraction_of(Amount::ONE, *fraction_bps).max(Amount::from_raw(1)),
                max_price: Price::from_raw(1_000_000 * SCALE),
            },
            Step::ResetAuction { pick } => {
                Command::ResetAuction { auction: AuctionId(u64::from(pick % 4) + 1) }
            }
        };
        match &command {
            Command::AdvanceTime { now: next } if *next >= now => now = *next,
            Command::SetPrice { asset, price } if price.is_positive() => {
                if let Some(slot) = prices.get_mut(asset.index()) {
                    *slot = *price;
                }
            }
            _ => {}
        }
        out.push(command);
    }
    out
}
