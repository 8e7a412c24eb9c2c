"""Building a refresh's plans with and without pyspark's Python call-site capture.

pyspark records the Python call site of each Column and DataFrame call for the "== DataFrame =="
part of error messages (``spark.python.sql.dataFrameDebugging.enabled``, on by default); each
call then makes about ten more round trips to the JVM. churn-local-spark turns it off
(``CALL_SITES_OFF``). This builds churn-features' validation, typing, features and labels plans
over the vendored data (no Spark job: plans and schemas only) in one driver, the two arms
alternating, and reports each arm's median seconds, its py4j round trips, and their ratio.

pyspark reads the setting once per process and keeps it in ``pyspark.errors.utils``; the arms
set that cached value directly, so both run in the same JVM at the same point of its warm-up.

    uv run python benchmarks/call_sites.py --rounds 7 --out .churn/bench/call_sites.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _report import emit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="rounds of the two arms")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    import pyspark.errors.utils as pyspark_errors
    from py4j.clientserver import ClientServerConnection

    from churn_features.featurize import build_features, build_labels
    from churn_features.ingest import VENDORED, read_raw
    from churn_features.validation import flag_rows, typed_rows
    from churn_local_spark import local_spark

    sent = [0]
    send = ClientServerConnection.send_command

    def counted(self: ClientServerConnection, command: str) -> str:
        sent[0] += 1
        return send(self, command)

    ClientServerConnection.send_command = counted

    with tempfile.TemporaryDirectory(prefix="churn-bench-call-sites-") as tmp:
        spark = local_spark("call-sites-benchmark", warehouse_dir=f"{tmp}/warehouse")
        raw = read_raw(spark, VENDORED)

        def build() -> None:
            typed = typed_rows(flag_rows(raw))
            for frame in (build_features(typed), build_labels(typed)):
                _ = frame.schema

        arms: dict[str, dict[str, list[Any]]] = {
            name: {"seconds": [], "round_trips": []} for name in ("capture_on", "capture_off")
        }
        for round_ in range(args.rounds + 1):  # round 0 warms both arms up, untimed
            for name, capture in (("capture_on", True), ("capture_off", False)):
                pyspark_errors._enable_debugging_cache = capture  # type: ignore[assignment]
                before, start = sent[0], time.perf_counter()
                build()
                if round_:
                    arms[name]["seconds"].append(round(time.perf_counter() - start, 3))
                    arms[name]["round_trips"].append(sent[0] - before)
        spark.stop()

    medians = {name: statistics.median(arm["seconds"]) for name, arm in arms.items()}
    report = {
        "what": "building churn-features' refresh plans over the vendored data (no Spark job)",
        "rounds": args.rounds,
        "arms": {
            name: {
                "median_seconds": medians[name],
                "round_trips": arm["round_trips"][-1],
                "seconds": arm["seconds"],
            }
            for name, arm in arms.items()
        },
        "off_over_on": round(medians["capture_off"] / medians["capture_on"], 3),
    }
    emit(report, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
