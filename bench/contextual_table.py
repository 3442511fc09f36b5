"""The four-dimension table of docs/contextual.md from the runs of ``bench/contextual.sh table``.

    .venv/bin/python bench/contextual_table.py world [--root runs/contextual]

One row per run: reliability, generalization, locality (agreement with the unedited model) and portability, each
under the exact-match protocol (greedy generation, as SCR's paper scores) and the probability protocol (new object
against the old, in brackets); the share of queries answered in context for SCR (of those that retrieved a fact: the
observation before the edits asks with an empty store); mean seconds per edit.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from amend.evaluation.plot import latest_results

METRICS = ("reliability", "generalization", "locality_agreement", "portability")


def cell(summary: dict, metric: str) -> str:
    values = summary.get(metric)
    if not values:
        return "—"
    exact, probability = values.get("exact_match", {}).get("mean"), values.get("probability", {}).get("mean")
    shown = [f"{v:.3f}" if v is not None else "—" for v in (exact, probability)]
    return f"{shown[0]} ({shown[1]})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("testbed")
    parser.add_argument("--root", type=Path, default=Path("runs/contextual"))
    args = parser.parse_args()
    print("| run | " + " | ".join(METRICS) + " | in context | s/edit |")
    print("|---|" + "---|" * (len(METRICS) + 2))
    for run in sorted(args.root.glob(f"{args.testbed}-*")):
        if not (run / "done").exists():
            continue
        results = latest_results(run)
        context = results["extra"].get("context")
        asked = context.get("queries_with_candidates", context["queries"]) if context else 0
        share = f"{context['answered_in_context'] / asked:.2f}" if context and asked else "—"
        seconds = results["extra"].get("edit_seconds_mean", float("nan"))
        cells = " | ".join(cell(results["summary"], metric) for metric in METRICS)
        print(f"| {run.name[len(args.testbed) + 1 :]} | {cells} | {share} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
