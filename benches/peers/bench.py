"""Times Backstop's `bench_paths` and the numpy models on the same paths, interleaved.

    python benches/peers/bench.py [--paths 30] [--rounds 5] [--accounts 10000]

Builds nothing: it runs the release binaries `target/release/examples/export_paths` and
`target/release/examples/bench_paths` (build them first:
`cargo build --release -p backstop-sim --example export_paths --example bench_paths`).
Each round runs Backstop (one thread), the plain model and the keyed model once each, in a
rotating order (A B C, B C A, ...), so load changes on a noisy machine hit every contender
alike; the table gives the median milliseconds per path over the rounds and the ratio to
Backstop. The models' time excludes reading the inputs; Backstop's includes preparing its venue
(10,000 accounts opened through commands), which bench_paths times with the paths. Then it runs
the agreement check (agree.py) on an export with keeper capacity that never binds.
"""

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from agree import check
from model import MODELS, Venue, load

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "target" / "release" / "examples"


def backstop_ms(paths, accounts):
    """Backstop's time per path on one thread, as bench_paths prints it."""
    output = subprocess.run(
        [EXAMPLES / "bench_paths", str(paths), "1", str(accounts)],
        check=True, capture_output=True, text=True,
    ).stdout
    return float(re.search(r"\(([0-9.]+) ms per path", output).group(1))


def model_ms(name, inputs):
    params, collateral, debt, prices, _ = inputs
    venue, model = Venue(params), MODELS[name]
    started = time.perf_counter()
    for path in range(prices.shape[0]):
        model(venue, collateral, debt, prices[path])
    return (time.perf_counter() - started) * 1e3 / prices.shape[0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--paths", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--accounts", type=int, default=10_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="backstop-peers-"))
    bench, unbound = work / "bench", work / "unbound"
    export = EXAMPLES / "export_paths"
    subprocess.run([export, bench, str(args.paths), str(args.accounts)], check=True)
    subprocess.run([export, unbound, str(args.paths), str(args.accounts), "100000"], check=True)
    inputs = load(bench)
    contenders = {
        "Backstop (bench_paths, 1 thread)": lambda: backstop_ms(args.paths, args.accounts),
        "numpy plain": lambda: model_ms("plain", inputs),
        "numpy keyed": lambda: model_ms("keyed", inputs),
    }
    names = list(contenders)
    times = {name: [] for name in names}
    for round_index in range(args.rounds):
        for offset in range(len(names)):
            name = names[(round_index + offset) % len(names)]
            times[name].append(contenders[name]())
    load_avg = os.getloadavg()
    print(f"\n{args.paths} paths x 721 steps x {args.accounts} accounts, {args.rounds} interleaved "
          f"rounds; {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load {load_avg[0]:.1f}/{load_avg[1]:.1f}; numpy {np.__version__}, "
          f"Python {platform.python_version()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    base = statistics.median(times[names[0]])
    print("| model | ms per path (median) | min | max | time / Backstop's |")
    print("| --- | --- | --- | --- | --- |")
    for name in names:
        median = statistics.median(times[name])
        print(f"| {name} | {median:.2f} | {min(times[name]):.2f} | {max(times[name]):.2f} | "
              f"{median / base:.2f} |")
    print()
    return 0 if check(unbound) else 1


if __name__ == "__main__":
    sys.exit(main())
