"""Agreement check: the numpy models against Backstop, path for path.

    python benches/peers/agree.py DIR        # DIR written by export_paths

For every path where keeper capacity does not bind (Backstop picks liquidatable accounts in a
random order when it does, which the models do not reproduce), the liquidation count must be
equal and the deficit equal to within 1e-6 relative (or 0.01 USDC): the models are float64, Backstop
is exact integer arithmetic. Exit code 1 on any disagreement.
"""

import sys

from model import load, run_model


def check(directory):
    _, _, _, _, backstop = load(directory)
    expected = {path: (count, deficit) for path, count, deficit in backstop}
    failures, compared, bound, worst = 0, 0, 0, 0.0
    for name in ("plain", "keyed"):
        for path, count, deficit, binds in run_model(name, directory):
            want_count, want_deficit = expected[path]
            if binds:
                bound += 1
                continue
            compared += 1
            close = abs(deficit - want_deficit) <= max(0.01, 1e-6 * abs(want_deficit))
            if want_deficit > 0:
                worst = max(worst, abs(deficit - want_deficit) / want_deficit)
            if count != want_count or not close:
                failures += 1
                print(f"{name} path {path}: liquidations {count} vs Backstop {want_count}, "
                      f"deficit {deficit:.6f} vs {want_deficit:.6f}")
    print(f"agreement: {compared - failures} of {compared} model paths equal Backstop's "
          f"(liquidations and deficit); {bound} model paths skipped (keeper capacity binds); "
          f"largest relative deficit difference {worst:.1e}")
    return failures == 0


if __name__ == "__main__":
    sys.exit(0 if check(sys.argv[1]) else 1)
