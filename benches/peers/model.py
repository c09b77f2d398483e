"""numpy models of the `bench_paths` scenario (crates/sim/examples/bench_paths.toml).

What a quant would write: borrowers with ETH collateral and USDC debt, one ETH price path per
Monte Carlo path, liquidations by keepers each hour. The inputs (accounts after preparation,
price paths, venue terms) come from `export_paths` so the paths are Backstop's own draws; the
models reimplement the rules in float64:

- every step t > 0: interest on the USDC debt, borrow index x (1 + rate(u) * step / year) with
  rate = base + slope1 * min(u, kink) / kink (+ slope2 beyond the kink), u = debt / (cash + debt);
  the accumulated log price impact is multiplied by (1 - impact_decay);
- the oracle price is the path price times exp(-impact);
- an account is liquidatable when collateral * price * threshold < debt; keepers liquidate up to
  `keeper_capacity` accounts a step (a path where more are liquidatable "binds": Backstop then
  picks them in a random order the models do not reproduce), once each per step;
- a liquidation repays the whole debt when health <= full_close_health, else close_factor of it;
  the bonus is zero when debt / collateral value * (1 + bonus) > 1 (toxic guard); it seizes
  repay * (1 + bonus) / price of collateral; when that is more than the account holds, it seizes
  all of it and repays at most its worth / (1 + bonus); an account left with no collateral and
  some debt is bankrupt: the debt is a deficit;
- the seized collateral is sold: impact += -log(1 - min(0.01 * sqrt(value / depth), 0.99)).

`plain` computes every account's health each step; `keyed` keeps accounts sorted by their
liquidation key debt_shares / collateral (liquidatable when key > price * threshold / index) and
touches only the accounts past the step's threshold.
"""

import csv
import json
import math
from pathlib import Path

import numpy as np


def load(directory):
    """The exported inputs: params, (collateral, debt) arrays, prices[path, step], Backstop rows."""
    directory = Path(directory)
    params = json.loads((directory / "params.json").read_text())
    accounts = np.loadtxt(directory / "accounts.csv", delimiter=",", skiprows=1, ndmin=2)
    prices = np.loadtxt(directory / "prices.csv", delimiter=",", ndmin=2)
    with open(directory / "backstop.csv", newline="") as handle:
        backstop = [
            (int(row["path"]), int(row["liquidations"]), float(row["deficit"]))
            for row in csv.DictReader(handle)
        ]
    return params, accounts[:, 0].copy(), accounts[:, 1].copy(), prices, backstop


class Venue:
    """The terms shared by both models."""

    def __init__(self, params):
        self.threshold = params["liquidation_threshold"]
        self.bonus = params["liquidation_bonus"]
        self.close_factor = params["close_factor"]
        self.full_close = params["full_close_health"]
        self.rate = params["rate"]
        self.step_share = params["step_secs"] / params["year_secs"]
        self.capacity = params["keeper_capacity"]
        self.depth = params["depth"]
        self.decay = params["impact_decay"]
        self.cash0 = params["cash"]
        self.steps = params["steps"]

    def growth(self, debt, cash):
        """Borrow-index growth over one step at utilization debt / (cash + debt)."""
        total = cash + debt
        u = debt / total if total > 0 else 0.0
        rate = self.rate["base"] + self.rate["slope1"] * min(u, self.rate["kink"]) / self.rate["kink"]
        if u > self.rate["kink"]:
            rate += self.rate["slope2"] * (u - self.rate["kink"]) / (1.0 - self.rate["kink"])
        return 1.0 + rate * self.step_share

    def liquidate(self, collateral, debt, price):
        """Vectorised liquidation of the given accounts: (new collateral, new debt, repaid,
        seized, deficit per account)."""
        value = collateral * price
        health = value * self.threshold / debt
        repay = np.where(health <= self.full_close, debt, debt * self.close_factor)
        bonus = np.where(debt / value * (1.0 + self.bonus) > 1.0, 0.0, self.bonus)
        seized = repay * (1.0 + bonus) / price
        short = seized > collateral
        seized = np.where(short, collateral, seized)
        repay = np.where(short, np.minimum(repay, value / (1.0 + bonus)), repay)
        collateral = collateral - seized
        debt = debt - repay
        bankrupt = (collateral <= 0.0) & (debt > 0.0)
        deficit = np.where(bankrupt, debt, 0.0)
        debt = np.where(bankrupt, 0.0, debt)
        return collateral, debt, repay, seized, deficit

    def impact_of(self, sold_value):
        """Log impact of selling these values one after the other."""
        move = np.minimum(0.01 * np.sqrt(sold_value / self.depth), 0.99)
        return float(-np.log1p(-move).sum())


def plain(venue, collateral0, debt0, path_prices):
    """One path, every account's health each step: (liquidations, deficit, capacity bound)."""
    collateral = collateral0.copy()
    shares = debt0.copy()  # debt shares at index 1
    index, cash, impact = 1.0, venue.cash0, 0.0
    liquidations, deficit, binds = 0, 0.0, False
    for step in range(venue.steps + 1):
        if step > 0:
            index *= venue.growth(float(shares.sum()) * index, cash)
            impact *= 1.0 - venue.decay
        price = path_prices[step] * math.exp(-impact)
        debt = shares * index
        due = np.nonzero(collateral * price * venue.threshold < debt)[0]
        if due.size == 0:
            continue
        if due.size > venue.capacity:
            binds, due = True, due[: venue.capacity]
        c, d, repaid, seized, lost = venue.liquidate(collateral[due], debt[due], price)
        collateral[due], shares[due] = c, d / index
        cash += float(repaid.sum())
        deficit += float(lost.sum())
        liquidations += due.size
        impact += venue.impact_of(seized * price)
    return liquidations, deficit, binds


def keyed(venue, collateral0, debt0, path_prices):
    """One path over precomputed liquidation keys: (liquidations, deficit, capacity bound)."""
    collateral = collateral0.copy()
    shares = debt0.copy()
    with np.errstate(divide="ignore"):
        key = np.where(collateral > 0, shares / collateral, np.inf)
    order = np.argsort(key, kind="stable")
    sorted_keys = key[order]
    index, cash, impact, total_shares = 1.0, venue.cash0, 0.0, float(shares.sum())
    liquidations, deficit, binds = 0, 0.0, False
    for step in range(venue.steps + 1):
        if step > 0:
            index *= venue.growth(total_shares * index, cash)
            impact *= 1.0 - venue.decay
        price = path_prices[step] * math.exp(-impact)
        first = np.searchsorted(sorted_keys, price * venue.threshold / index, side="right")
        if first == sorted_keys.size:
            continue
        tail = order[first:]
        rest, rest_keys = order[:0], sorted_keys[:0]
        if tail.size > venue.capacity:
            binds = True
            due = np.sort(tail)[: venue.capacity]
            mask = np.isin(tail, due, assume_unique=True)
            rest, rest_keys = tail[~mask], sorted_keys[first:][~mask]
        else:
            due = tail
        c, d, repaid, seized, lost = venue.liquidate(collateral[due], shares[due] * index, price)
        new_shares = d / index
        total_shares += float((new_shares - shares[due]).sum())
        collateral[due], shares[due] = c, new_shares
        cash += float(repaid.sum())
        deficit += float(lost.sum())
        liquidations += due.size
        impact += venue.impact_of(seized * price)
        with np.errstate(divide="ignore", invalid="ignore"):
            new_keys = np.where((c > 0) & (new_shares > 0), new_shares / c, -np.inf)
        key[due] = new_keys
        # Only the liquidated accounts' keys changed (they fell): merge them back into the
        # sorted accounts below the threshold and the ones capacity left untouched.
        base = np.concatenate([order[:first], rest])
        base_keys = np.concatenate([sorted_keys[:first], rest_keys])
        moved = np.argsort(new_keys, kind="stable")
        at = np.searchsorted(base_keys, new_keys[moved], side="right")
        order = np.insert(base, at, due[moved])
        sorted_keys = np.insert(base_keys, at, new_keys[moved])
    return liquidations, deficit, binds


MODELS = {"plain": plain, "keyed": keyed}


def run_model(name, directory, paths=None):
    """Runs a model over the exported paths: list of (path, liquidations, deficit, binds)."""
    params, collateral, debt, prices, _ = load(directory)
    venue = Venue(params)
    model = MODELS[name]
    count = prices.shape[0] if paths is None else min(paths, prices.shape[0])
    return [(path, *model(venue, collateral, debt, prices[path])) for path in range(count)]
