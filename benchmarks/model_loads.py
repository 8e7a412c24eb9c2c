"""Loading the same model file again: a skops audit each time, against churn-model's loader.

``churn_model.serialization.load_pipeline_file`` audits a file's bytes with skops once per process
and loads the same bytes again from an in-memory pickle of the pipeline it built. The model is
the size of the seed's: a 200-tree random forest of depth 8 on 24 columns of 5,600 rows. Both
ways load it ``--loads`` times, alternating; the report gives the median per load of each and
the ratio (churn-model's loader over a skops load each time).

    uv run python benchmarks/model_loads.py --out model_loads.json
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _report import emit


def main(argv: list[str] | None = None) -> int:
    import numpy as np
    import skops.io
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline

    from churn_model.serialization import TRUSTED_TYPES, dump_pipeline, load_pipeline_file

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loads", type=int, default=15)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    features = rng.normal(size=(5600, 24))
    labels = (features[:, 0] + rng.normal(size=5600) > 0.8).astype(int)
    forest = RandomForestClassifier(n_estimators=200, max_depth=8, random_state=0)
    pipeline = Pipeline([("classifier", forest)]).fit(features, labels)
    skops_each_time: list[float] = []
    churn_loader: list[float] = []
    with tempfile.TemporaryDirectory(prefix="churn-bench-loads-") as tmp:
        path = dump_pipeline(pipeline, Path(tmp) / "pipeline.skops")
        size = path.stat().st_size
        for _ in range(args.loads):
            started = time.perf_counter()
            skops.io.load(path, trusted=list(TRUSTED_TYPES))
            skops_each_time.append(time.perf_counter() - started)
            started = time.perf_counter()
            loaded = load_pipeline_file(path)
            churn_loader.append(time.perf_counter() - started)
        same = np.array_equal(loaded.predict_proba(features), pipeline.predict_proba(features))
    emit(
        {
            "file_bytes": size,
            "loads": args.loads,
            "cpus": os.cpu_count(),
            "same_predictions": bool(same),
            "skops_each_time_median_seconds": round(statistics.median(skops_each_time), 4),
            "churn_loader_first_seconds": round(churn_loader[0], 4),
            "churn_loader_repeat_median_seconds": round(statistics.median(churn_loader[1:]), 4),
            "repeat_ratio": round(
                statistics.median(churn_loader[1:]) / statistics.median(skops_each_time), 3
            ),
        },
        args.out,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
