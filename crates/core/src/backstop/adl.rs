//! Auto-deleveraging (ADL) of perpetual markets.
//!
//! ADL acts when a **bankrupt** position is liquidated (the account's equity is negative) in a
//! perpetual market whose waterfall names an `adl:<policy>` layer — at bankruptcy time, not after
//! a deficit has been recorded:
//!
//! 1. the shortfall `S = ⌈−equity / settlement price⌉` (settlement units, rounded up) is what the
//!    account needs to end at zero equity;
//! 2. the layers **before** the ADL layer pay what they can towards `S` (insurance funds, offsets,
//!    the fee pool, staker pools; layers that pay later — cover, recap — and layers that act on a
//!    recorded deficit — stability, socialize — are skipped here and run on whatever deficit is
//!    left). Their tokens go into the bankrupt position's quote, so the account's equity rises by
//!    what they paid; each payment is recorded (I8) with a `layer_paid` event;
//! 3. if nothing remains, the position is liquidated as usual (keeper takeover at the mark; the
//!    account's equity is zero, so no fee is charged);
//! 4. otherwise ADL closes the account's **whole** position against opposite-side positions chosen
//!    by the policy. Every fill is a two-sided trade (base and quote move between the bankrupt
//!    account and the counterparty; Σ base stays 0), emits `adl_fill`, charges no fee and pays
//!    the keeper nothing:
//!    - `rank` — opposite positions ranked by BitMEX's `PnL% × effective leverage` (profitable
//!      positions; `PnL% / effective leverage` for losing ones), highest first, closed in order at
//!      the bankruptcy price;
//!    - `pro_rata` — every opposite position in proportion to its size, at the bankruptcy price;
//!    - `random` — start at index `seed mod n` of the opposite positions (by account id) and
//!      iterate cyclically, at the bankruptcy price (dYdX);
//!    - `min_shortfall` — the base is closed at the **mark** against the opposite *profitable*
//!      positions in proportion to size (the rest, if they are too small, against the other
//!      opposite positions), and haircuts `hᵢ ≤ unrealised profitᵢ` summing exactly to the
//!      remaining shortfall are charged, chosen by water-filling so that the largest haircut is as
//!      small as possible (Chitra's minimum-haircut class); each fill's price is worse than the
//!      mark by `hᵢ / sizeᵢ`. If the total profit is smaller than the shortfall, the rest is left
//!      on the account and becomes a deficit for the layers after ADL;
//! 5. the layers **after** the ADL layer (socialise, …) run as usual on any deficit left.
//!
//! The bankruptcy price used by `rank`, `pro_rata` and `random` is the price at which closing the
//! whole position leaves the account at zero: `p_b = mark + remaining / base`, rounded up for a
//! long and down for a short (against the counterparties), and never below zero (a short whose
//! shortfall exceeds its notional is closed at 0 and the rest stays a deficit).
//!
//! Rounding (docs/decisions/0002): fills are sized by cumulative floors, so they sum exactly to
//! the base; the quote that moves in fill `k` is `C_k − C_{k−1}` where `C_k` is the cumulative
//! quantity closed valued at the fill price and rounded in favour of the bankrupt account; its
//! haircut is that minus the same difference at the mark (rounded down). The haircuts therefore
//! sum exactly to `base × (fill price − mark)` rounded: the remaining shortfall plus **dust**
//! (from rounding the price to 10⁻¹⁸: at most one raw unit per whole unit of base, plus two).
//! The dust is taken from the bankrupt account and credited to the venue's fees, so the account
//! ends at exactly zero and the counterparties together never pay more than the shortfall plus
//! the dust. Under `min_shortfall`
//! the haircuts are integers summing exactly to what is covered: no dust. Water-filling rounds the
//! common level down and gives the remainder one raw unit each to the first uncapped positions by
//! account id, so the largest haircut is the smallest possible in whole raw units.
//!
//! ADL is forced: counterparties' health is not checked; a counterparty pushed below zero by a
//! bankruptcy-price fill is itself left for liquidation (or its deficit recorded when it has
//! nothing left). Haircuts are recorded as a payment of the ADL layer; a later recovery for the
//! market that reaches it goes to the venue's fees (the positions may have closed since).

use crate::account::Account;
use crate::backstop::layers::{AdlPolicy, LayerRef};
use crate::command::LiquidationTarget;
use crate::engine::Engine;
use crate::event::Event;
use crate::health::Health;
use crate::ids::{AccountId, MarketRef, PerpMarketId};
use crate::invariants::Violation;
use crate::rejection::Rejection;
use crate::venue::perp::{PerpPosition, position_of, set_position, settle_if_closed};
use backstop_money::{Amount, Price, Ratio, Rounding, mul_div};

/// The ADL layer of a market's waterfall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AdlLayer {
    /// Position of the layer in the waterfall.
    pub(crate) position: usize,
    /// The layer as written (`adl:rank`).
    pub(crate) name: String,
    /// Its policy.
    pub(crate) policy: AdlPolicy,
}

/// A liquidation request for a position, as `liquidate_position` received it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PositionLiquidation<'a> {
    /// Keeper account id.
    pub(crate) keeper_id: AccountId,
    /// Keeper account (the handler's copy).
    pub(crate) keeper: &'a Account,
    /// Liquidated account id.
    pub(crate) id: AccountId,
    /// Liquidated account (the handler's copy).
    pub(crate) account: &'a Account,
    /// Market of the position.
    pub(crate) market: PerpMarketId,
    /// Largest base the keeper takes over (ignored by ADL, which closes the whole position).
    pub(crate) amount: Amount,
    /// The liquidated account's health before the liquidation.
    pub(crate) health: Health,
    /// Seed of the random start (`adl:random`).
    pub(crate) seed: u64,
}

/// One opposite-side position that ADL may close.
#[derive(Debug, Clone)]
struct Counterparty {
    id: AccountId,
    account: Account,
    position: PerpPosition,
    /// |base|.
    size: Amount,
    /// Unrealised PnL at the mark, settlement units (`quote + base × mark`, rounded down).
    profit: Amount,
}

/// What the ADL policy decided: fills in order, and the haircut of each (min_shortfall only).
struct Plan {
    /// (index into the counterparties, base closed against it) in fill order.
    fills: Vec<(usize, Amount)>,
    /// The bankruptcy price (`None` under min_shortfall, which fills at the mark).
    bankruptcy_price: Option<Price>,
    /// Haircut per fill (min_shortfall only; the others derive it from the price).
    haircuts: Vec<Amount>,
}

impl Engine {
    /// The ADL layer of a perpetual market's waterfall, if it has one.
    pub(crate) fn adl_layer(&self, market: PerpMarketId) -> Option<AdlLayer> {
        self.waterfall_of(MarketRef::Perp(market)).into_iter().enumerate().find_map(
            |(position, (name, layer))| match layer {
                LayerRef::Adl(policy) => Some(AdlLayer { position, name, policy }),
                _ => None,
            },
        )
    }

    /// Refuses a seed (rejection 70) unless the liquidation targets a position in a market whose
    /// waterfall has an `adl:random` layer. Seed 0 means "none" and is always accepted.
    ///
    /// # Errors
    /// [`Rejection::UnknownPerpMarket`], [`Rejection::SeedWithoutRandomAdl`].
    pub(crate) fn check_adl_seed(
        &self,
        target: LiquidationTarget,
        seed: u64,
    ) -> Result<(), Rejection> {
        if seed == 0 {
            return Ok(());
        }
        if let LiquidationTarget::Position { market } = target {
            self.check_perp(market)?;
            if self.adl_layer(market).is_some_and(|layer| layer.policy == AdlPolicy::Random) {
                return Ok(());
            }
        }
        Err(Rejection::SeedWithoutRandomAdl { seed })
    }

    /// Liquidates a bankrupt position through the layers before ADL and ADL itself, when the
    /// account's equity is negative and the market's waterfall has an ADL layer; `None` otherwise
    /// (the caller liquidates as usual). Changes nothing when it returns an error.
    pub(crate) fn liquidate_bankrupt_position(
        &mut self,
        request: &PositionLiquidation<'_>,
    ) -> Result<Option<Vec<Event>>, Rejection> {
        let Some(layer) = self.adl_layer(request.market) else { return Ok(None) };
        let equity = request.health.equity()?;
        if !equity.is_negative() {
            return Ok(None);
        }
        // Layer payments write the safety net and fees as they go; if anything later refuses,
        // `apply` undoes them with the rest of the command.
        self.resolve_bankruptcy(request, &layer, equity).map(Some)
    }

    fn resolve_bankruptcy(
        &mut self,
        request: &PositionLiquidation<'_>,
        layer: &AdlLayer,
        equity: Amount,
    ) -> Result<Vec<Event>, Rejection> {
        let overflow = Rejection::from_money("auto-deleveraging");
        let market = request.market;
        let (_, settlement) = self.perp_assets(market)?;
        let settlement_price = self.price(settlement)?;
        let shortfall = equity
            .checked_neg()
            .and_then(|loss| loss.quantity_at(settlement_price, Rounding::Ceil))
            .map_err(&overflow)?;
        let mut events = Vec::new();
        let paid = self.pay_layers_before(
            MarketRef::Perp(market),
            shortfall,
            layer.position,
            &mut events,
        )?;
        let mut account = request.account.clone();
        let mut position = position_of(&account, market)?;
        position.quote = position.quote.checked_add(paid).map_err(&overflow)?;
        set_position(&mut account, market, position)?;
        let remaining = shortfall.checked_sub(paid).map_err(&overflow)?;
        if !remaining.is_positive() {
            // The layers covered the shortfall: the account is at zero equity and is liquidated
            // as usual (no fee can be charged).
            let health = self.health_of(&account)?;
            let mut rest = self.liquidate_position(
                request.keeper_id,
                request.keeper.clone(),
                request.id,
                account,
                market,
                request.amount,
                health,
                request.seed,
            )?;
            events.append(&mut rest);
            return Ok(events);
        }
        self.deleverage(request, layer, account, shortfall, paid, remaining, events)
    }

    /// Pays what the layers before position `until` of a market's waterfall can towards
    /// `shortfall`, recording each payment as a recognised and covered deficit (I8) with a
    /// `layer_paid` event; returns the total paid. The tokens leave the layers: the caller puts
    /// them into the bankrupt position.
    fn pay_layers_before(
        &mut self,
        market: MarketRef,
        shortfall: Amount,
        until: usize,
        events: &mut Vec<Event>,
    ) -> Result<Amount, Rejection> {
        let overflow = Rejection::from_money("layer payment");
        let mut paid = Amount::ZERO;
        for (name, layer) in self.waterfall_of(market).into_iter().take(until) {
            let left = shortfall.checked_sub(paid).map_err(&overflow)?;
            if !left.is_positive() {
                break;
            }
            let outcome = match &layer {
                LayerRef::Fund(fund) => self.fund_pays(fund, market, left)?,
                LayerRef::Offset(offset) => self.offset_pays(offset, left)?,
                LayerRef::Fees => self.fees_pay(market, left)?,
                LayerRef::Stakers(pool) => self.stakers_pay(pool, market, left, events)?,
                // Layers that pay later or act on a recorded deficit run on what is left.
                _ => continue,
            };
            if !outcome.is_positive() {
                continue;
            }
            assert!(outcome <= left, "layer {name} paid more than the shortfall left");
            paid = paid.checked_add(outcome).map_err(&overflow)?;
            self.recognize_covered(market, &name, outcome)?;
            events.push(Event::LayerPaid {
                market,
                layer: name,
                amount: outcome,
                remaining: shortfall.checked_sub(paid).map_err(&overflow)?,
            });
        }
        Ok(paid)
    }

    /// Records `amount` of a shortfall as recognised and paid by `layer` at once (I8).
    fn recognize_covered(
        &mut self,
        market: MarketRef,
        layer: &str,
        amount: Amount,
    ) -> Result<(), Rejection> {
        let recognized = self.state.net_mut().recognized.entry(market).or_default();
        *recognized =
            recognized.checked_add(amount).map_err(Rejection::from_money("recognised deficit"))?;
        self.record_payment(market, layer, amount);
        Ok(())
    }

    /// Closes the bankrupt account's whole position against opposite positions chosen by the
    /// policy, so that the account ends at zero equity (or with only what the policy could not
    /// cover, recorded as a deficit).
    #[allow(clippy::too_many_arguments)]
    fn deleverage(
        &mut self,
        request: &PositionLiquidation<'_>,
        layer: &AdlLayer,
        mut account: Account,
        shortfall: Amount,
        layers_paid: Amount,
        remaining: Amount,
        mut events: Vec<Event>,
    ) -> Result<Vec<Event>, Rejection> {
        let overflow = Rejection::from_money("auto-deleveraging");
        let (market, id) = (request.market, request.id);
        let (_, settlement) = self.perp_assets(market)?;
        let settlement_price = self.price(settlement)?;
        let mark = self.mark_price(market, Rounding::Floor)?;
        let bankrupt = position_of(&account, market)?;
        let base = bankrupt.base;
        let base_abs = base.checked_abs().map_err(&overflow)?;
        let mut counterparties = self.opposite_positions(id, market, base, mark)?;
        let plan = self.plan_adl(
            layer.policy,
            &counterparties,
            base_abs,
            remaining,
            mark,
            settlement_price,
            request.seed,
        )?;
        // Cumulative valuations: the k-th fill moves C_k − C_{k−1} of quote to the bankrupt
        // account (rounded in its favour) against M_k − M_{k−1} at the mark (rounded down).
        let signed =
            |closed: Amount| if base.is_negative() { closed.checked_neg() } else { Ok(closed) };
        let (mut closed, mut cash_before, mut mark_before) =
            (Amount::ZERO, Amount::ZERO, Amount::ZERO);
        let mut total_cash = Amount::ZERO;
        let mut total_haircut = Amount::ZERO;
        let mut fill_events = Vec::with_capacity(plan.fills.len());
        for (fill_index, (counterparty_index, size)) in plan.fills.iter().enumerate() {
            closed = closed.checked_add(*size).map_err(&overflow)?;
            let closed_signed = signed(closed).map_err(&overflow)?;
            let mark_cumulative =
                closed_signed.value_at(mark, Rounding::Floor).map_err(&overflow)?;
            let mark_cash = mark_cumulative.checked_sub(mark_before).map_err(&overflow)?;
            mark_before = mark_cumulative;
            let (cash, haircut) = match plan.bankruptcy_price {
                Some(price) => {
                    let cumulative =
                        closed_signed.value_at(price, Rounding::Ceil).map_err(&overflow)?;
                    let cash = cumulative.checked_sub(cash_before).map_err(&overflow)?;
                    cash_before = cumulative;
                    (cash, cash.checked_sub(mark_cash).map_err(&overflow)?)
                }
                None => {
                    let haircut = plan.haircuts.get(fill_index).copied().unwrap_or_default();
                    (mark_cash.checked_add(haircut).map_err(&overflow)?, haircut)
                }
            };
            total_cash = total_cash.checked_add(cash).map_err(&overflow)?;
            total_haircut = total_haircut.checked_add(haircut).map_err(&overflow)?;
            let counterparty = counterparties
                .get_mut(*counterparty_index)
                .ok_or(Rejection::Overflow { context: "adl counterparty" })?;
            // The counterparty's side of the trade: it buys what the bankrupt long sells, or
            // sells what the bankrupt short buys.
            let bought = if base.is_negative() { size.checked_neg() } else { Ok(*size) }
                .map_err(&overflow)?;
            counterparty.position.base =
                counterparty.position.base.checked_add(bought).map_err(&overflow)?;
            counterparty.position.quote =
                counterparty.position.quote.checked_sub(cash).map_err(&overflow)?;
            let price = match plan.bankruptcy_price {
                Some(price) => price,
                None => effective_price(cash, *size, base.is_negative(), mark)?,
            };
            fill_events.push(Event::AdlFill {
                market,
                account: id,
                counterparty: counterparty.id,
                size: bought,
                price,
                haircut,
            });
        }
        if closed != base_abs {
            return Err(Rejection::Overflow { context: "adl fills do not close the position" });
        }
        // What the counterparties gave up covers the remaining shortfall; any excess from the
        // price rounding is dust for the venue's fees.
        let covered = total_haircut.min(remaining).max(Amount::ZERO);
        let dust = total_haircut.checked_sub(covered).map_err(&overflow)?.max(Amount::ZERO);
        let after = PerpPosition {
            base: Amount::ZERO,
            quote: bankrupt
                .quote
                .checked_add(total_cash)
                .and_then(|quote| quote.checked_sub(dust))
                .map_err(&overflow)?,
        };
        set_position(&mut account, market, after)?;
        events.append(&mut fill_events);
        if covered.is_positive() {
            self.recognize_covered(MarketRef::Perp(market), &layer.name, covered)?;
            events.push(Event::LayerPaid {
                market: MarketRef::Perp(market),
                layer: layer.name.clone(),
                amount: covered,
                remaining: remaining.checked_sub(covered).map_err(&overflow)?,
            });
        }
        events.push(Event::Deleveraged {
            market,
            account: id,
            policy: layer.policy,
            size: base,
            shortfall,
            layers_paid,
            haircuts: covered,
            dust,
            bankruptcy_price: plan.bankruptcy_price,
        });
        let open_interest =
            self.perp_market(market)?.open_interest.checked_sub(base_abs).map_err(&overflow)?;
        let fees = self.fees_after(settlement, dust)?;
        settle_if_closed(&mut account, id, market, settlement, &mut events)?;
        let mut touched: Vec<usize> = plan.fills.iter().map(|(index, _)| *index).collect();
        touched.sort_unstable();
        touched.dedup();
        let mut filled = Vec::with_capacity(touched.len());
        for index in touched {
            let Some(counterparty) = counterparties.get_mut(index) else { continue };
            set_position(&mut counterparty.account, market, counterparty.position)?;
            settle_if_closed(
                &mut counterparty.account,
                counterparty.id,
                market,
                settlement,
                &mut events,
            )?;
            filled.push((counterparty.id, counterparty.account.clone()));
        }
        self.set_fees(settlement, fees);
        self.set_open_interest(market, open_interest);
        for (counterparty_id, mut counterparty_account) in filled {
            self.record_deficits_if_bankrupt(
                counterparty_id,
                &mut counterparty_account,
                &mut events,
            )?;
            self.commit_account(counterparty_id, counterparty_account);
        }
        self.record_deficits_if_bankrupt(id, &mut account, &mut events)?;
        self.commit_account(id, account);
        Ok(events)
    }

    /// The positions on the other side of `base` in a market, by account id.
    fn opposite_positions(
        &self,
        id: AccountId,
        market: PerpMarketId,
        base: Amount,
        mark: Price,
    ) -> Result<Vec<Counterparty>, Rejection> {
        let overflow = Rejection::from_money("auto-deleveraging");
        let mut found = Vec::new();
        for holder in self.perp_market(market)?.holders.iter().copied() {
            if holder == id {
                continue;
            }
            let account = self.load_account(holder)?;
            let position = position_of(&account, market)?;
            if position.base.is_zero() || position.base.is_negative() == base.is_negative() {
                continue;
            }
            found.push(Counterparty {
                id: holder,
                size: position.base.checked_abs().map_err(&overflow)?,
                profit: position.value_at(mark)?,
                account,
                position,
            });
        }
        if found.is_empty() {
            // Base sums to zero (I4), so a bankrupt position always has an opposite side.
            return Err(Rejection::Overflow { context: "adl without an opposite position" });
        }
        Ok(found)
    }

    /// Chooses the fills (and, under min_shortfall, the haircuts) of a policy.
    #[allow(clippy::too_many_arguments)]
    fn plan_adl(
        &self,
        policy: AdlPolicy,
        counterparties: &[Counterparty],
        base_abs: Amount,
        remaining: Amount,
        mark: Price,
        settlement_price: Price,
        seed: u64,
    ) -> Result<Plan, Rejection> {
        let overflow = Rejection::from_money("auto-deleveraging");
        let count = counterparties.len();
        let sizes: Vec<Amount> = counterparties.iter().map(|c| c.size).collect();
        let in_order = |order: &[usize]| -> Result<Vec<(usize, Amount)>, Rejection> {
            let mut left = base_abs;
            let mut fills = Vec::new();
            for &index in order {
                if !left.is_positive() {
                    break;
                }
                let size = sizes.get(index).copied().unwrap_or_default().min(left);
                left = left.checked_sub(size).map_err(&overflow)?;
                fills.push((index, size));
            }
            Ok(fills)
        };
        let fills = match policy {
            AdlPolicy::Rank => {
                let mut scored = Vec::with_capacity(count);
                for (index, counterparty) in counterparties.iter().enumerate() {
                    let equity = self
                        .health_of(&counterparty.account)?
                        .equity()?
                        .quantity_at(settlement_price, Rounding::Floor)
                        .map_err(&overflow)?;
                    scored.push((rank_score(counterparty, mark, equity)?, counterparty.id, index));
                }
                // Highest score first; ties by account id.
                scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
                let order: Vec<usize> = scored.into_iter().map(|(_, _, index)| index).collect();
                in_order(&order)?
            }
            AdlPolicy::ProRata => {
                let all: Vec<usize> = (0..count).collect();
                let mut fills = split_pro_rata(base_abs, &all, &sizes)?;
                fills.retain(|(_, size)| size.is_positive());
                fills
            }
            AdlPolicy::Random => {
                let count_u64 = u64::try_from(count)
                    .map_err(|_| Rejection::Overflow { context: "adl count" })?;
                let start = usize::try_from(seed.checked_rem(count_u64).unwrap_or(0))
                    .map_err(|_| Rejection::Overflow { context: "adl start" })?;
                let order: Vec<usize> = (0..count)
                    .map(|step| start.saturating_add(step).checked_rem(count).unwrap_or(0))
                    .collect();
                in_order(&order)?
            }
            AdlPolicy::MinShortfall => {
                return min_shortfall_plan(counterparties, base_abs, remaining);
            }
        };
        let bankruptcy_price = bankruptcy_price(mark, remaining, base_abs, counterparties, &fills)?;
        Ok(Plan { fills, bankruptcy_price: Some(bankruptcy_price), haircuts: Vec::new() })
    }

    /// I8 for ADL: an ADL layer is only ever recorded as paying a perpetual market whose
    /// waterfall names it.
    ///
    /// # Errors
    /// The first payment that breaks it.
    pub(crate) fn check_adl_payments(&self) -> Result<(), Violation> {
        for (market, payments) in &self.state.net.payments {
            for payment in payments.iter().filter(|payment| payment.layer.starts_with("adl:")) {
                let named = matches!(market, MarketRef::Perp(_))
                    && self.waterfall_of(*market).iter().any(|(name, _)| *name == payment.layer);
                if !named {
                    return Err(Violation {
                        invariant: 8,
                        detail: format!(
                            "{market:?}: {} recorded as paying but not in the waterfall",
                            payment.layer
                        ),
                    });
                }
            }
        }
        Ok(())
    }
}

/// The bankruptcy price of closing `base_abs` with `remaining` shortfall: `mark + remaining /
/// base` for a long (rounded up), `mark − remaining / |base|` for a short (rounded down, never
/// below zero). The side is read from the counterparties (shorts face a bankrupt long).
fn bankruptcy_price(
    mark: Price,
    remaining: Amount,
    base_abs: Amount,
    counterparties: &[Counterparty],
    fills: &[(usize, Amount)],
) -> Result<Price, Rejection> {
    let overflow = Rejection::from_money("bankruptcy price");
    let bankrupt_is_long = fills
        .first()
        .and_then(|(index, _)| counterparties.get(*index))
        .is_some_and(|counterparty| counterparty.position.base.is_negative());
    let per_unit = remaining.mul_div(Amount::ONE, base_abs, Rounding::Ceil).map_err(&overflow)?;
    let per_unit = Price::from_raw(per_unit.raw());
    if bankrupt_is_long {
        mark.checked_add(per_unit).map_err(&overflow)
    } else {
        Ok(mark.checked_sub(per_unit).map_err(&overflow)?.max(Price::ZERO))
    }
}

/// The price of a min_shortfall fill: what the counterparty paid (or received) per unit, rounded
/// against it; the mark when nothing was closed against it.
fn effective_price(
    cash: Amount,
    size: Amount,
    bankrupt_is_short: bool,
    mark: Price,
) -> Result<Price, Rejection> {
    if !size.is_positive() {
        return Ok(mark);
    }
    let overflow = Rejection::from_money("adl price");
    let paid = cash.checked_abs().map_err(&overflow)?;
    let rounding = if bankrupt_is_short { Rounding::Floor } else { Rounding::Ceil };
    let per_unit = paid.mul_div(Amount::ONE, size, rounding).map_err(&overflow)?;
    Ok(Price::from_raw(per_unit.raw()))
}

/// BitMEX's ranking: `PnL% × effective leverage` for a profitable position, `PnL% / effective
/// leverage` for a losing one, as a raw 10^18 fixed-point number (higher closes first).
/// `PnL% = profit / |quote|` (the entry value; the notional when the quote is zero) and
/// effective leverage = notional / account equity (cross margin). An account at or below zero
/// equity has infinite leverage: first among the profitable, at zero among the losing.
fn rank_score(counterparty: &Counterparty, mark: Price, equity: Amount) -> Result<i128, Rejection> {
    let overflow = Rejection::from_money("adl ranking");
    let notional = counterparty.size.value_at(mark, Rounding::Floor).map_err(&overflow)?;
    let entry = match counterparty.position.quote.checked_abs().map_err(&overflow)? {
        quote if quote.is_zero() => notional,
        quote => quote,
    };
    if !entry.is_positive() {
        return Ok(0);
    }
    let pnl =
        Ratio::from_fraction(counterparty.profit, entry, Rounding::Floor).map_err(&overflow)?.raw();
    if counterparty.profit.is_positive() {
        if !equity.is_positive() {
            return Ok(i128::MAX);
        }
        Ok(mul_div(pnl, notional.raw(), equity.raw(), Rounding::Floor).unwrap_or(i128::MAX))
    } else if !notional.is_positive() {
        Ok(pnl)
    } else if !equity.is_positive() {
        Ok(0)
    } else {
        Ok(mul_div(pnl, equity.raw(), notional.raw(), Rounding::Floor).unwrap_or(i128::MIN))
    }
}

/// Splits `total` over the positions `indices` in proportion to their sizes by cumulative floors:
/// `f_k = ⌊total × cum_k / Σ⌋ − ⌊total × cum_{k−1} / Σ⌋`, which sum exactly to `total` and never
/// exceed a position's size when `total ≤ Σ`.
fn split_pro_rata(
    total: Amount,
    indices: &[usize],
    sizes: &[Amount],
) -> Result<Vec<(usize, Amount)>, Rejection> {
    let overflow = Rejection::from_money("adl split");
    let sum = indices
        .iter()
        .try_fold(Amount::ZERO, |sum, index| {
            sum.checked_add(sizes.get(*index).copied().unwrap_or_default())
        })
        .map_err(&overflow)?;
    if !total.is_positive() || !sum.is_positive() {
        return Ok(Vec::new());
    }
    let (mut cumulative, mut before) = (Amount::ZERO, Amount::ZERO);
    let mut fills = Vec::with_capacity(indices.len());
    for &index in indices {
        cumulative = cumulative
            .checked_add(sizes.get(index).copied().unwrap_or_default())
            .map_err(&overflow)?;
        let upto = total.mul_div(cumulative, sum, Rounding::Floor).map_err(&overflow)?;
        fills.push((index, upto.checked_sub(before).map_err(&overflow)?));
        before = upto;
    }
    Ok(fills)
}

/// min_shortfall: the base is closed at the mark against the opposite profitable positions in
/// proportion to size (all of them and then the others pro rata when they are too small), and
/// haircuts capped at each profitable position's unrealised profit are spread by water-filling
/// over exactly `min(remaining, Σ profit)`.
fn min_shortfall_plan(
    counterparties: &[Counterparty],
    base_abs: Amount,
    remaining: Amount,
) -> Result<Plan, Rejection> {
    let overflow = Rejection::from_money("auto-deleveraging");
    let sizes: Vec<Amount> = counterparties.iter().map(|c| c.size).collect();
    let profitable: Vec<usize> = (0..counterparties.len())
        .filter(|index| counterparties.get(*index).is_some_and(|c| c.profit.is_positive()))
        .collect();
    let others: Vec<usize> =
        (0..counterparties.len()).filter(|index| !profitable.contains(index)).collect();
    let profitable_size = profitable
        .iter()
        .try_fold(Amount::ZERO, |sum, index| {
            sum.checked_add(sizes.get(*index).copied().unwrap_or_default())
        })
        .map_err(&overflow)?;
    let mut fills = if profitable_size >= base_abs {
        split_pro_rata(base_abs, &profitable, &sizes)?
    } else {
        let mut fills: Vec<(usize, Amount)> = profitable
            .iter()
            .map(|index| (*index, sizes.get(*index).copied().unwrap_or_default()))
            .collect();
        let rest = base_abs.checked_sub(profitable_size).map_err(&overflow)?;
        fills.extend(split_pro_rata(rest, &others, &sizes)?);
        fills
    };
    let caps: Vec<Amount> = profitable
        .iter()
        .map(|index| counterparties.get(*index).map_or(Amount::ZERO, |c| c.profit))
        .collect();
    let total_profit =
        caps.iter().try_fold(Amount::ZERO, |sum, cap| sum.checked_add(*cap)).map_err(&overflow)?;
    let levels = water_fill(&caps, remaining.min(total_profit))?;
    let haircut_of = |index: usize| {
        profitable
            .iter()
            .position(|candidate| *candidate == index)
            .and_then(|slot| levels.get(slot).copied())
            .unwrap_or_default()
    };
    // A fill that closes nothing stays only when it carries a haircut (a pure transfer).
    fills.retain(|(index, size)| size.is_positive() || haircut_of(*index).is_positive());
    let haircuts = fills.iter().map(|(index, _)| haircut_of(*index)).collect();
    Ok(Plan { fills, bankruptcy_price: None, haircuts })
}

/// Haircuts `h_i = min(cap_i, λ)` with `Σ h_i = target ≤ Σ cap_i` and `λ` as small as possible:
/// positions are capped in ascending order of cap while their cap is at most the even share of
/// what is left; the rest share it evenly, rounded down, the remainder one raw unit each to the
/// first of them (in the given order). The largest haircut is therefore `⌈λ⌉` in raw units.
fn water_fill(caps: &[Amount], target: Amount) -> Result<Vec<Amount>, Rejection> {
    let overflow = Rejection::Overflow { context: "adl water-filling" };
    let mut levels = vec![Amount::ZERO; caps.len()];
    if !target.is_positive() || caps.is_empty() {
        return Ok(levels);
    }
    let mut order: Vec<usize> = (0..caps.len()).collect();
    order.sort_by_key(|index| (caps.get(*index).copied().unwrap_or_default(), *index));
    let mut left = target.raw();
    let mut uncapped = i128::try_from(caps.len()).map_err(|_| overflow.clone())?;
    let mut first_uncapped = order.len();
    for (slot, index) in order.iter().enumerate() {
        let cap = caps.get(*index).copied().unwrap_or_default().raw();
        let share = left.checked_div(uncapped).ok_or_else(|| overflow.clone())?;
        if cap > share {
            first_uncapped = slot;
            break;
        }
        if let Some(level) = levels.get_mut(*index) {
            *level = Amount::from_raw(cap);
        }
        left = left.checked_sub(cap).ok_or_else(|| overflow.clone())?;
        uncapped = uncapped.saturating_sub(1);
    }
    if uncapped > 0 {
        let share = left.checked_div(uncapped).ok_or_else(|| overflow.clone())?;
        let mut extra = left.checked_rem(uncapped).ok_or_else(|| overflow.clone())?;
        let mut rest: Vec<usize> = order.get(first_uncapped..).unwrap_or_default().to_vec();
        rest.sort_unstable();
        for index in rest {
            let bump = i128::from(extra > 0);
            extra = extra.saturating_sub(bump);
            if let Some(level) = levels.get_mut(index) {
                *level = Amount::from_raw(share.checked_add(bump).ok_or_else(|| overflow.clone())?);
            }
        }
    }
    Ok(levels)
}
