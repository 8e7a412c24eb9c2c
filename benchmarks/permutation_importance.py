"""model-train's permutation importance: every shuffled copy preprocessed, against preprocessing
reused (each column's block of the preprocessed test set shuffled; see churn_jobs.importance).

The seed's models (packages/churn-model/configs/random_forest_depth{4,8}.yaml) are fitted on
5,634 synthetic rows of the contract's columns and scored on 1,409 (the vendored data's test
split), 3 shuffles per column as model-train draws them. Both ways run ``--rounds`` times,
alternating; the report gives the median of each, their ratio, and whether they agreed exactly.

    uv run python benchmarks/permutation_importance.py --out permutation_importance.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from churn_model.config import ModelConfig

sys.path.insert(0, str(Path(__file__).parent))
from _report import emit

CONFIGS = Path(__file__).resolve().parents[1] / "packages" / "churn-model" / "configs"
TRAIN_ROWS, TEST_ROWS = 5_634, 1_409


def contract_frame(config: ModelConfig, rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Random values of the config's columns (three categories each), churn from a few."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    features = config.features
    frame = pd.DataFrame({c: rng.gamma(2.0, 20.0, rows) for c in features.numeric})
    for column in features.categorical:
        frame[column] = rng.choice(["a", "b", "c"], rows)
    first_a = (frame[features.categorical[0]] == "a").to_numpy()
    logit = first_a - 0.02 * frame[features.numeric[0]].to_numpy()
    return frame, (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)


def main(argv: list[str] | None = None) -> int:
    import numpy as np

    from churn_jobs.importance import permutation_importance
    from churn_model.config import load_model_config
    from churn_model.pipeline import build_pipeline

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    models: dict[str, dict[str, Any]] = {}
    for name in ("random_forest_depth4", "random_forest_depth8"):
        config = load_model_config(CONFIGS / f"{name}.yaml")
        train, churn = contract_frame(config, TRAIN_ROWS, seed=1)
        test, labels = contract_frame(config, TEST_ROWS, seed=2)
        model = build_pipeline(config).fit(train, churn)
        seconds: dict[bool, list[float]] = {False: [], True: []}
        results = {}
        for _ in range(args.rounds):
            for reuse in (False, True):
                start = time.perf_counter()
                results[reuse] = permutation_importance(
                    model, test, labels, reuse_preprocessing=reuse
                )
                seconds[reuse].append(time.perf_counter() - start)
        every_copy, reused = statistics.median(seconds[False]), statistics.median(seconds[True])
        models[name] = {
            "every_copy_preprocessed_s": round(every_copy, 3),
            "preprocessing_reused_s": round(reused, 3),
            "reused_over_every_copy": round(reused / every_copy, 3),
            "identical": all(
                np.array_equal(a, b) for a, b in zip(results[False], results[True], strict=True)
            ),
        }
    emit({"train_rows": TRAIN_ROWS, "test_rows": TEST_ROWS, "models": models}, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
