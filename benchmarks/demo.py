"""The local platform's fixed costs: `churn demo --reset` end to end, seconds per act and per job
step, in a fresh CHURN_HOME (the caller's store is not touched).

    uv run python benchmarks/demo.py --out .churn/bench/demo.json

The acts are the demo's: 1-5 are the seed story (refresh, train, validate, promote, the code
change, champion/challenger, batch scoring), 6 is three months of monitoring and retraining.
A regression shows as a step whose seconds grew between two reports of the same machine.

``--jvm-cache both`` runs the demo twice, side by side: with churn-local-spark's JVM class cache
off, then mapping its archive (recorded first by ``churn_local_spark.warm`` if there is none),
and reports the ratio. The default runs once, with the cache as it is (its state is reported).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from _report import emit  # noqa: E402

SEED_ACTS = ("1.", "2.", "3.", "4.", "5.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--jvm-cache", choices=("as-is", "both"), default="as-is")
    args = parser.parse_args(argv)
    load_at_start = round(os.getloadavg()[0], 2)
    if args.jvm_cache == "as-is":
        report = run_demo(dict(os.environ))
        if report is None:
            return 1
    else:
        from churn_local_spark.class_cache import ENV, warm

        off = run_demo({**os.environ, ENV: "off"})
        warm()
        mapped = run_demo(dict(os.environ))
        if off is None or mapped is None:
            return 1
        report = {
            "jvm_cache_off": off,
            "jvm_cache_mapped": mapped,
            "mapped_over_off": {
                key: round(mapped[key] / off[key], 3)
                for key in ("process_wall_seconds", "seed_story_seconds", "total_seconds")
                if key in off and key in mapped
            },
        }
    report["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_1m_at_start_and_end": [load_at_start, round(os.getloadavg()[0], 2)],
    }
    emit(report, args.out)
    return 0


def run_demo(env: dict[str, str]) -> dict[str, Any] | None:
    """One `churn demo --reset` in a fresh CHURN_HOME: its timings, or None if it failed."""
    from churn_local_spark.class_cache import cache_dir, state

    jvm_cache = state(cache_dir()) if "CHURN_JVM_CACHE" not in env else env["CHURN_JVM_CACHE"]
    with tempfile.TemporaryDirectory(prefix="churn-bench-demo-") as tmp:
        timings = Path(tmp) / "timings.json"
        env = {**env, "CHURN_HOME": str(Path(tmp) / "home")}
        started = time.perf_counter()
        done = subprocess.run(
            [
                str(Path(sys.executable).parent / "churn"),
                "demo",
                "--reset",
                "--timings",
                str(timings),
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        if done.returncode != 0:
            print(done.stdout[-4000:], done.stderr[-4000:], sep="\n")
            return None
        measured = json.loads(timings.read_text())
    seed = sum(a["seconds"] for a in measured["acts"] if a["act"].startswith(SEED_ACTS))
    return {
        "jvm_class_cache": jvm_cache,
        "process_wall_seconds": round(wall, 3),  # + interpreter start and imports
        "seed_story_seconds": round(seed, 3),
        **measured,
    }


if __name__ == "__main__":
    raise SystemExit(main())
