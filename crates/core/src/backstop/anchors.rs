//! Anchor arithmetic: the published numbers of the systems Backstop is compared with, where the
//! engine's own mechanics differ from the anchor on purpose.
//!
//! These are pure functions (no engine state, no commands) that compute, with each anchor's own
//! rounding, the conformance vectors of `../shared/design/reference/VECTORS.md` that the engine
//! does not reproduce: Blend's block-scaled auctions (B5) and interest-auction bid (B7), Mango's
//! token bankruptcy paid through an insurance token at another price (M2), and marginfi's
//! liquidation fee split (F1) and fee rate (F4). `docs/mechanisms.md` explains, vector by
//! vector, how the engine differs and which engine configuration comes closest.
//!
//! Quantities are `backstop_money` fixed-point values at 18 decimals. Where an anchor stores fewer
//! decimals — Blend keeps 7 (`SCALAR_7`), Mango moves whole native units of a token — the
//! functions round to that grid exactly where the anchor rounds, in the anchor's direction, and
//! refuse inputs the anchor could not hold (a Blend amount finer than 10^-7, a fractional Mango
//! vault balance). Everything else is computed at 18 decimals with the rounding stated on each
//! function; where the reference does not say how the anchor rounds, the doc comment says which
//! direction we chose and why.

use backstop_money::{Amount, MoneyError, Price, Ratio, Rounding, SCALE, mul_div};

/// Why an anchor computation could not be done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnchorError {
    /// Arithmetic overflow or a division by zero.
    Money(MoneyError),
    /// An input the anchor refuses (for instance Blend's `BadRequest` for a fill percent outside
    /// 1–100) or cannot represent; the text says which.
    Invalid(&'static str),
}

impl From<MoneyError> for AnchorError {
    fn from(error: MoneyError) -> Self {
        AnchorError::Money(error)
    }
}

impl core::fmt::Display for AnchorError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            AnchorError::Money(error) => write!(f, "{error}"),
            AnchorError::Invalid(what) => f.write_str(what),
        }
    }
}

impl std::error::Error for AnchorError {}

// ----- Blend v2 -----

/// Decimals Blend stores amounts, rates and modifiers with (`SCALAR_7`).
pub const BLEND_DECIMALS: u32 = 7;

/// Raw value (at 18 decimals) of Blend's smallest unit, 10^-7 (one stroop).
const STROOP: i128 = 100_000_000_000;

/// Blocks over which an auction's lot ramps from 0% to 100%; the bid then decays from 100% to 0%
/// over as many blocks again.
pub const BLEND_RAMP_BLOCKS: u32 = 200;

/// Change of the lot or bid modifier per block: 0.005 (0.5%).
pub const BLEND_BLOCK_STEP: Ratio = Ratio::from_raw(5_000_000_000_000_000);

/// Premium of the interest auction's bid over the value of its lot (v2: 1.2; v1 used 1.4).
pub const BLEND_INTEREST_PREMIUM: Ratio = Ratio::from_raw(1_200_000_000_000_000_000);

/// Smallest lot value (in oracle units, i.e. USD) for which Blend v2 creates an interest auction
/// (`value ≥ 200`; v1 required `> 200`).
pub const BLEND_INTEREST_VALUE_MIN: Amount = Amount::from_raw(200 * SCALE);

/// `value` rounded to Blend's 7 decimals in direction `rounding` (`Floor` toward −∞, `Ceil`
/// toward +∞).
///
/// # Errors
/// [`AnchorError::Money`] on overflow.
pub fn blend_round(value: Amount, rounding: Rounding) -> Result<Amount, AnchorError> {
    let stroops = mul_div(value.raw(), 1, STROOP, rounding)?;
    Ok(Amount::from_raw(stroops.checked_mul(STROOP).ok_or(MoneyError::Overflow)?))
}

/// Refuses a negative amount or one finer than Blend's 7 decimals.
fn require_blend_amount(value: Amount, what: &'static str) -> Result<(), AnchorError> {
    if value.is_negative() || value.raw().checked_rem(STROOP) != Some(0) {
        return Err(AnchorError::Invalid(what));
    }
    Ok(())
}

/// Blend's block modifiers `(bid_modifier, lot_modifier)` for an auction filled `blocks_elapsed`
/// blocks after its stored block (`creation ledger + 1`):
///
/// - `d ≤ 200`: lot `d × 0.005`, bid 1 (the lot ramps up);
/// - `200 < d < 400`: lot 1, bid `1 − (d − 200) × 0.005` (the bid decays);
/// - `d ≥ 400`: lot 1, bid 0.
///
/// Both are exact at 7 decimals, so nothing is rounded here.
#[must_use]
pub fn blend_auction_modifiers(blocks_elapsed: u32) -> (Ratio, Ratio) {
    let step = BLEND_BLOCK_STEP.raw();
    let ramp = BLEND_RAMP_BLOCKS;
    if blocks_elapsed <= ramp {
        // At most 200 × 0.005 = 1: cannot overflow.
        let lot = i128::from(blocks_elapsed).saturating_mul(step);
        return (Ratio::ONE, Ratio::from_raw(lot));
    }
    let decayed = blocks_elapsed.saturating_sub(ramp);
    if decayed < ramp {
        let bid = Ratio::ONE.raw().saturating_sub(i128::from(decayed).saturating_mul(step));
        return (Ratio::from_raw(bid), Ratio::ONE);
    }
    (Ratio::ZERO, Ratio::ONE)
}

/// Blend's `scale_auction` for one bid asset and one lot asset: a fill of `percent` (1–100) of an
/// auction `blocks_elapsed` blocks after its stored block. Returns
/// `(bid_filled, lot_filled, bid_left, lot_left)`.
///
/// Per bid amount: `base = ceil₇(bid × percent / 100)`, `bid_left = bid − base`,
/// `bid_filled = ceil₇(base × bid_modifier)`. Per lot amount: `base = floor₇(lot × percent / 100)`,
/// `lot_left = lot − base`, `lot_filled = floor₇(base × lot_modifier)` (`ceil₇`/`floor₇`: rounded
/// to 7 decimals). Bids round up and lots down, in favour of the pool. What is left is computed
/// from the unscaled base, so the modifiers scale only the filled part; the remaining auction keeps
/// its original block (a partial fill does not restart the clock). A zero result is an entry Blend
/// drops ("none"); when both `_left` values are zero Blend deletes the auction. A multi-asset
/// auction applies this to each bid and each lot amount independently.
///
/// # Errors
/// [`AnchorError::Invalid`] for a percent outside 1–100 (Blend's `BadRequest`) or an amount that
/// is negative or finer than 7 decimals; [`AnchorError::Money`] on overflow.
pub fn blend_scale_auction(
    bid: Amount,
    lot: Amount,
    blocks_elapsed: u32,
    percent: u32,
) -> Result<(Amount, Amount, Amount, Amount), AnchorError> {
    if percent == 0 || percent > 100 {
        return Err(AnchorError::Invalid("the fill percent must be 1 to 100 (Blend BadRequest)"));
    }
    require_blend_amount(bid, "a Blend bid amount is a non-negative multiple of 10^-7")?;
    require_blend_amount(lot, "a Blend lot amount is a non-negative multiple of 10^-7")?;
    let (bid_modifier, lot_modifier) = blend_auction_modifiers(blocks_elapsed);
    let percent = i128::from(percent);
    // 100 × 10^-7 at 18 decimals, and 1 × 10^-7 of a product of two 18-decimal values.
    let percent_unit = STROOP.checked_mul(100).ok_or(MoneyError::Overflow)?;
    let product_unit = STROOP.checked_mul(SCALE).ok_or(MoneyError::Overflow)?;
    let on_grid = |stroops: i128| -> Result<Amount, AnchorError> {
        Ok(Amount::from_raw(stroops.checked_mul(STROOP).ok_or(MoneyError::Overflow)?))
    };
    let bid_base = on_grid(mul_div(bid.raw(), percent, percent_unit, Rounding::Ceil)?)?;
    let bid_left = bid.checked_sub(bid_base)?;
    let bid_filled =
        on_grid(mul_div(bid_base.raw(), bid_modifier.raw(), product_unit, Rounding::Ceil)?)?;
    let lot_base = on_grid(mul_div(lot.raw(), percent, percent_unit, Rounding::Floor)?)?;
    let lot_left = lot.checked_sub(lot_base)?;
    let lot_filled =
        on_grid(mul_div(lot_base.raw(), lot_modifier.raw(), product_unit, Rounding::Floor)?)?;
    Ok((bid_filled, lot_filled, bid_left, lot_left))
}

/// The USD value of an interest auction's lot: `Σ floor(price × credit)`, each term rounded down
/// to the oracle's `oracle_decimals` (Blend values a reserve's `backstop_credit` in oracle units
/// with `floor(price · credit / token_scalar)`).
///
/// # Errors
/// [`AnchorError::Invalid`] for more than 18 oracle decimals or a negative credit or price;
/// [`AnchorError::Money`] on overflow.
pub fn blend_interest_auction_value(
    credits: &[(Amount, Price)],
    oracle_decimals: u32,
) -> Result<Amount, AnchorError> {
    let digits = backstop_money::SCALE_DECIMALS
        .checked_sub(oracle_decimals)
        .ok_or(AnchorError::Invalid("at most 18 oracle decimals"))?;
    let unit = 10_i128.checked_pow(digits).ok_or(MoneyError::Overflow)?;
    let divisor = SCALE.checked_mul(unit).ok_or(MoneyError::Overflow)?;
    let mut total = Amount::ZERO;
    for (credit, price) in credits {
        if credit.is_negative() || price.is_negative() {
            return Err(AnchorError::Invalid("credits and prices are non-negative"));
        }
        let units = mul_div(credit.raw(), price.raw(), divisor, Rounding::Floor)?;
        let value = Amount::from_raw(units.checked_mul(unit).ok_or(MoneyError::Overflow)?);
        total = total.checked_add(value)?;
    }
    Ok(total)
}

/// Blend's interest-auction bid in backstop LP tokens for a lot worth `credits_value` (USD) at an
/// LP spot price of `spot_price` (USD per LP; Blend uses `5 × usdc_per_LP`):
/// `floor₇( floor₇(value × 1.2) / spot_price )` — the lot's value with the 20% premium, rounded
/// down to 7 decimals, divided by the spot price and rounded down to 7 decimals again. Both
/// floors favour the filler in Blend's order of operations; we keep them because they are the
/// anchor's.
///
/// # Errors
/// [`AnchorError::Invalid`] when the lot is worth less than 200 (Blend creates no auction) or the
/// spot price is not positive; [`AnchorError::Money`] on overflow.
pub fn blend_interest_auction_bid(
    credits_value: Amount,
    spot_price: Price,
) -> Result<Amount, AnchorError> {
    if credits_value < BLEND_INTEREST_VALUE_MIN {
        return Err(AnchorError::Invalid("an interest auction needs a lot worth at least 200"));
    }
    if !spot_price.is_positive() {
        return Err(AnchorError::Invalid("the LP spot price must be positive"));
    }
    let with_premium = blend_round(
        credits_value.mul_ratio(BLEND_INTEREST_PREMIUM, Rounding::Floor)?,
        Rounding::Floor,
    )?;
    // floor₁₈ then floor₇ is floor₇ of the exact quotient (the grids are nested).
    let lp = with_premium.quantity_at(spot_price, Rounding::Floor)?;
    blend_round(lp, Rounding::Floor)
}

// ----- Mango v4 -----

/// The inputs of Mango v4's token bankruptcy (`token_liq_bankruptcy`) for one liability token.
///
/// Amounts are in **native units** of their token (Mango's integer token amounts: 1 = one native
/// unit; positions may carry fractions of a unit, as Mango's `I80F48` balances do). Prices are per
/// native unit, or per whole token when both tokens have the same decimals; only their ratio is
/// used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MangoTokenBankruptcy {
    /// Liability loss still to cover: Mango's `min(−liab_native, −liab_health_balance)`.
    pub remaining: Amount,
    /// Most liability the liquidator asks to take over (`max_liab_transfer`).
    pub max_liab_transfer: Amount,
    /// Balance of the group insurance vault (a token account: whole native units).
    pub vault: Amount,
    /// Whether the liability token may draw on the group insurance fund; when not, the vault
    /// counts as empty (and so is "exhausted" at once).
    pub eligible: bool,
    /// The liability is the insurance token itself: the conversion is 1, no fee, and the vault
    /// pays the bankrupt account directly (no liquidator).
    pub liab_is_insurance_token: bool,
    /// Oracle price of the liability token.
    pub liab_price: Price,
    /// The liability token's liquidation fee (e.g. 0.02).
    pub liquidation_fee: Ratio,
    /// Oracle price of the insurance token.
    pub insurance_price: Price,
}

/// What Mango's token bankruptcy moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MangoBankruptcyOutcome {
    /// Insurance tokens per unit of liability: `c = liab_price × (1 + fee) / insurance_price`
    /// (1 when the liability is the insurance token).
    pub conversion: Ratio,
    /// Insurance tokens paid out of the vault (to the liquidator, or to the bankrupt account when
    /// the liability is the insurance token): whole native units.
    pub insurance_transfer: Amount,
    /// Liability credited to the bankrupt account (and taken over by the liquidator as a borrow):
    /// `insurance_transfer / c`. Derived from the rounded-up payout, so it can exceed the
    /// requested `max_liab_transfer` slightly (Mango's AUDIT note).
    pub liab_transfer: Amount,
    /// `insurance_transfer` equals the (eligible) vault balance.
    pub exhausted: bool,
    /// Loss socialised through the deposit index of the liability token's banks: what remains
    /// after `liab_transfer`, only when the vault is exhausted (otherwise zero).
    pub socialized: Amount,
}

/// Mango v4's conversion `c = liab_price × (1 + liquidation_fee) / insurance_price`, or 1 when
/// the liability is the insurance token. Rounded up at 18 decimals (Mango computes it in binary
/// `I80F48`; the payout it feeds is rounded up, and so is this factor).
///
/// # Errors
/// [`AnchorError::Invalid`] for a price that is not positive or a negative fee;
/// [`AnchorError::Money`] on overflow.
pub fn mango_conversion(input: &MangoTokenBankruptcy) -> Result<Ratio, AnchorError> {
    if input.liab_is_insurance_token {
        return Ok(Ratio::ONE);
    }
    if !input.liab_price.is_positive() || !input.insurance_price.is_positive() {
        return Err(AnchorError::Invalid("Mango prices must be positive"));
    }
    if input.liquidation_fee.is_negative() {
        return Err(AnchorError::Invalid("the liquidation fee must not be negative"));
    }
    let with_fee = Ratio::ONE.checked_add(input.liquidation_fee)?;
    Ok(Ratio::from_raw(mul_div(
        input.liab_price.raw(),
        with_fee.raw(),
        input.insurance_price.raw(),
        Rounding::Ceil,
    )?))
}

/// Mango v4's token bankruptcy through the group insurance vault:
///
/// 1. `c` = [`mango_conversion`];
/// 2. `insurance_transfer = min(ceil(min(remaining, max_liab_transfer) × c), vault)` — rounded
///    **up to a whole native unit** (a token transfer), `vault` being 0 for an ineligible token;
/// 3. `exhausted ⇔ insurance_transfer == vault`;
/// 4. `liab_transfer = insurance_transfer / c`, rounded down at 18 decimals (Mango keeps it in
///    `I80F48`; the reference gives no rounding, and down never credits more liability than the
///    payout buys at `c`);
/// 5. only if exhausted: `socialized = max(0, remaining − liab_transfer)`, the loss Mango then
///    takes out of the deposit index of every bank of the token.
///
/// The liquidator's own health check and the deposit-index arithmetic are not modelled.
///
/// # Errors
/// [`AnchorError::Invalid`] for negative amounts, a vault that is not a whole number of native
/// units, or invalid prices; [`AnchorError::Money`] on overflow.
pub fn mango_token_bankruptcy(
    input: &MangoTokenBankruptcy,
) -> Result<MangoBankruptcyOutcome, AnchorError> {
    if input.remaining.is_negative() || input.max_liab_transfer.is_negative() {
        return Err(AnchorError::Invalid("Mango amounts must not be negative"));
    }
    if input.vault.is_negative() || input.vault.raw().checked_rem(SCALE) != Some(0) {
        return Err(AnchorError::Invalid("the vault holds a whole number of native units"));
    }
    let conversion = mango_conversion(input)?;
    let vault = if input.eligible { input.vault } else { Amount::ZERO };
    let requested = input.remaining.min(input.max_liab_transfer);
    let unit_of_product = SCALE.checked_mul(SCALE).ok_or(MoneyError::Overflow)?;
    let whole_units = mul_div(requested.raw(), conversion.raw(), unit_of_product, Rounding::Ceil)?;
    let payout = Amount::from_raw(whole_units.checked_mul(SCALE).ok_or(MoneyError::Overflow)?);
    let insurance_transfer = payout.min(vault);
    let exhausted = insurance_transfer == vault;
    let liab_transfer = insurance_transfer.div_ratio(conversion, Rounding::Floor)?;
    let socialized = if exhausted {
        input.remaining.saturating_sub_to_zero(liab_transfer)
    } else {
        Amount::ZERO
    };
    Ok(MangoBankruptcyOutcome {
        conversion,
        insurance_transfer,
        liab_transfer,
        exhausted,
        socialized,
    })
}

// ----- marginfi v2 -----

/// marginfi's liquidator fee, `LIQUIDATION_LIQUIDATOR_FEE` = 0.025.
pub const MARGINFI_LIQUIDATOR_FEE: Ratio = Ratio::from_raw(25_000_000_000_000_000);

/// marginfi's insurance fee on liquidations, `LIQUIDATION_INSURANCE_FEE` = 0.025.
pub const MARGINFI_INSURANCE_FEE: Ratio = Ratio::from_raw(25_000_000_000_000_000);

/// How a marginfi liquidation splits the value of the seized collateral.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarginfiLiquidationSplit {
    /// Liability tokens the liquidator pays: `q·p_a·(1 − liquidator_fee) / p_l`, rounded up.
    pub liquidator_pays: Amount,
    /// Liability of the liquidatee repaid:
    /// `q·p_a·(1 − liquidator_fee − insurance_fee) / p_l`, rounded down.
    pub liquidatee_repaid: Amount,
    /// Liability tokens to the bank's insurance vault: `liquidator_pays − liquidatee_repaid`.
    pub insurance: Amount,
}

/// marginfi v2's liquidation of `asset_quantity` of collateral at `asset_price` against a
/// liability at `liab_price`: the liquidator receives the collateral and pays its value less the
/// liquidator fee; the liquidatee's debt falls by its value less both fees; the insurance vault
/// receives the difference, in the **liability** token.
///
/// Rounding (the reference gives none; marginfi computes in `I80F48`): what the liquidator pays
/// is rounded up and what the liquidatee is credited rounded down, each at 18 decimals, so the
/// insurance share is never below its exact value.
///
/// # Errors
/// [`AnchorError::Invalid`] for a negative quantity, a price that is not positive, or fees that
/// are negative or add up to more than 1; [`AnchorError::Money`] on overflow.
pub fn marginfi_liquidation_split(
    asset_quantity: Amount,
    asset_price: Price,
    liab_price: Price,
    liquidator_fee: Ratio,
    insurance_fee: Ratio,
) -> Result<MarginfiLiquidationSplit, AnchorError> {
    if asset_quantity.is_negative() {
        return Err(AnchorError::Invalid("the liquidated quantity must not be negative"));
    }
    if !asset_price.is_positive() || !liab_price.is_positive() {
        return Err(AnchorError::Invalid("marginfi prices must be positive"));
    }
    let fees = liquidator_fee.checked_add(insurance_fee)?;
    if liquidator_fee.is_negative() || insurance_fee.is_negative() || fees > Ratio::ONE {
        return Err(AnchorError::Invalid("fees are non-negative and add up to at most 1"));
    }
    let liquidator_keeps = Ratio::ONE.checked_sub(liquidator_fee)?;
    let liquidatee_gets = Ratio::ONE.checked_sub(fees)?;
    let liquidator_pays = asset_quantity
        .value_at(asset_price, Rounding::Ceil)?
        .mul_ratio(liquidator_keeps, Rounding::Ceil)?
        .quantity_at(liab_price, Rounding::Ceil)?;
    let liquidatee_repaid = asset_quantity
        .value_at(asset_price, Rounding::Floor)?
        .mul_ratio(liquidatee_gets, Rounding::Floor)?
        .quantity_at(liab_price, Rounding::Floor)?;
    let insurance = liquidator_pays.checked_sub(liquidatee_repaid)?;
    Ok(MarginfiLiquidationSplit { liquidator_pays, liquidatee_repaid, insurance })
}

/// marginfi v2's fee rate (`calc_fee_rate(base_rate, rate_fees, fixed_fees)`): the APR a fee adds
/// on top of the base borrow rate, `base_rate × rate_fees + fixed_fees`, which is just
/// `fixed_fees` when `rate_fees` is zero. The reference states it as the insurance fee,
/// `insurance_fee_apr = base · insurance_ir_fee + insurance_fixed_fee`; marginfi uses the same
/// function for its group and protocol fees. The product is rounded up (borrowers pay it).
///
/// # Errors
/// [`AnchorError::Invalid`] for a negative input; [`AnchorError::Money`] on overflow.
pub fn marginfi_fee_rate(
    base_rate: Ratio,
    rate_fees: Ratio,
    fixed_fees: Ratio,
) -> Result<Ratio, AnchorError> {
    if base_rate.is_negative() || rate_fees.is_negative() || fixed_fees.is_negative() {
        return Err(AnchorError::Invalid("rates and fees must not be negative"));
    }
    if rate_fees.is_zero() {
        return Ok(fixed_fees);
    }
    Ok(base_rate.mul_ratio(rate_fees, Rounding::Ceil)?.checked_add(fixed_fees)?)
}

/// marginfi v2's borrow rate: `base × (1 + Σ rate fees) + Σ fixed fees` (the reference's
/// `borrow_apr`), with the rate fees and fixed fees of insurance, group and protocol summed by the
/// caller. Rounded up (borrowers pay it).
///
/// # Errors
/// [`AnchorError::Invalid`] for a negative input; [`AnchorError::Money`] on overflow.
pub fn marginfi_borrow_rate(
    base_rate: Ratio,
    rate_fees: Ratio,
    fixed_fees: Ratio,
) -> Result<Ratio, AnchorError> {
    if base_rate.is_negative() || rate_fees.is_negative() || fixed_fees.is_negative() {
        return Err(AnchorError::Invalid("rates and fees must not be negative"));
    }
    let factor = Ratio::ONE.checked_add(rate_fees)?;
    Ok(base_rate.mul_ratio(factor, Rounding::Ceil)?.checked_add(fixed_fees)?)
}
