"""The local platform's fixed costs: `churn demo --reset` end to end, seconds per act and per job
step, in a fresh CHURN_HOME (the caller's store is not touched).

    uv run python benchmarks/demo.py --out .churn/bench/demo.json

The acts are the demo's: 1-5 are the seed story (refresh, train, validate, promote, the code
change, champion/challenger, batch scoring), 6 is three months of monitoring and retraining.
A regression shows as a step whose seconds grew between two reports of the same machine.
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from _report import emit  # noqa: E402

SEED_ACTS = ("1.", "2.", "3.", "4.", "5.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    load_at_start = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="churn-bench-demo-") as tmp:
        timings = Path(tmp) / "timings.json"
        env = {**os.environ, "CHURN_HOME": str(Path(tmp) / "home")}
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
            return done.returncode
        measured = json.loads(timings.read_text())
    seed = sum(a["seconds"] for a in measured["acts"] if a["act"].startswith(SEED_ACTS))
    report = {
        "process_wall_seconds": round(wall, 3),  # + interpreter start and imports
        "seed_story_seconds": round(seed, 3),
        **measured,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_1m_at_start_and_end": [load_at_start, round(os.getloadavg()[0], 2)],
        },
    }
    emit(report, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
