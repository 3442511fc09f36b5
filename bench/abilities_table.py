"""The tables of docs/abilities.md from the runs of ``bench/abilities.sh``.

    .venv/bin/python bench/abilities_table.py world [--root runs/abilities]

Per method: each ability's score at every count (the muted share of free generation beside fluency), and the
first count at which the ability is below half its unedited value ("half at"), with the seconds spent editing.
Unfinished runs are read from their last saved checkpoint.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def checkpoints(run: Path) -> list[dict]:
    saved = run / "run" / "editor.json"
    return json.loads(saved.read_text())["extra"]["checkpoints"] if saved.exists() else []


def half_at(points: list[tuple[int, float]]) -> str:
    """The first count whose score is below half the unedited one ('—' when none is)."""
    start = points[0][1]
    return next((str(edits) for edits, score in points[1:] if score < start / 2), "—")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("testbed")
    parser.add_argument("--root", type=Path, default=Path("runs/abilities"))
    args = parser.parse_args()
    runs = {
        run.name.removeprefix(f"{args.testbed}-"): checkpoints(run)
        for run in sorted(args.root.glob(f"{args.testbed}-*"))
    }
    runs = {method: points for method, points in runs.items() if points}
    names = list(next(iter(runs.values()))[0]["abilities"])
    counts = sorted({c["edits"] for points in runs.values() for c in points})
    for name in names:
        print(f"\n{name}\n")
        print("| method | " + " | ".join(str(c) for c in counts) + " | half at |")
        print("|---|" + "---|" * (len(counts) + 1))
        for method, points in runs.items():
            by_count = {c["edits"]: c["abilities"][name] for c in points}
            cells = []
            for count in counts:
                measured = by_count.get(count)
                if measured is None:
                    cells.append("")
                    continue
                muted = f" ({measured['muted']:.2f})" if "muted" in measured else ""
                cells.append(f"{measured['score']:.2f}{muted}")
            series = [(c["edits"], c["abilities"][name]["score"]) for c in points]
            print(f"| {method} | " + " | ".join(cells) + f" | {half_at(series)} |")
    print("\n| method | edits | seconds editing |\n|---|---|---|")
    for method, points in runs.items():
        print(f"| {method} | {points[-1]['edits']} | {points[-1]['edit_seconds']:.0f} |")


if __name__ == "__main__":
    main()
