"""What the paired A/B benchmarks share: their arguments and how a step's pairs are reported.

Each times one step with this tree's modules and with the same modules at ``--baseline``, in one
JVM, alternating which goes first; the first round warms up and is dropped."""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Any


def parse_args(doc: str, default_baseline: str, default_rounds: int) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--baseline", default=default_baseline, help="git revision to compare")
    parser.add_argument(
        "--rounds", type=int, default=default_rounds, help="paired rounds (first is warm-up)"
    )
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    return parser.parse_args()


def step_result(step: str, baseline: list[float], this_tree: list[float]) -> dict[str, Any]:
    """Medians and the median paired ratio (this tree / baseline) of rounds 2..n; printed too."""
    base, ours = baseline[1:], this_tree[1:]  # round 1 warms up
    result = {
        "step": step,
        "baseline_median_seconds": round(statistics.median(base), 3),
        "this_tree_median_seconds": round(statistics.median(ours), 3),
        "paired_ratio_median": round(
            statistics.median(b / a for a, b in zip(base, ours, strict=True)), 2
        ),
        "pairs": len(base),
    }
    print(
        f"{step:>26}: baseline {result['baseline_median_seconds']:.3f}s, this tree "
        f"{result['this_tree_median_seconds']:.3f}s, paired ratio {result['paired_ratio_median']}"
    )
    return result
