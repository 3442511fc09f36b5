"""The tables and plot of docs/documents.md from the runs of bench/documents.sh.

    .venv/bin/python bench/documents_table.py world [--plot docs/documents-world.png] [--rescore]

One table per metric (rows: methods; columns: new facts per document), value with the number of undefined items
excluded in brackets when there are any. --rescore recomputes DR and ER from the saved predictions with the
per-sentence addition rule (a sentence copied from the source is never an addition), to show what the reference
rule's copies contribute.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from pathlib import Path

METRICS = ("DR", "DE", "ER", "EE", "RSE", "ESE")
ORDER = (
    "unedited",
    "evidence",
    "chat",
    "ike",
    "scr",
    "scr-nojudge",
    "ft-l",
    "ft-m",
    "lora",
    "memit",
    "memit-each",
    "rome",
)


def load(testbed: str) -> dict[str, dict[int, dict]]:
    runs: dict[str, dict[int, dict]] = {}
    for folder in sorted(Path("runs/documents").glob(f"{testbed}-*-f*")):
        match = re.fullmatch(rf"{testbed}-(.+)-f(\d+)", folder.name)
        files = sorted(folder.glob("documents_*.json"))
        samples = sorted(folder.glob("samples_*.jsonl"))
        if match and files and samples:  # a run that did not finish has no samples
            run = json.loads(files[-1].read_text())
            run["samples_file"] = str(samples[-1])
            runs.setdefault(match.group(1), {})[int(match.group(2))] = run
    return dict(sorted(runs.items(), key=lambda kv: ORDER.index(kv[0]) if kv[0] in ORDER else len(ORDER)))


def rescored(run: dict) -> dict[str, float]:
    """DR and ER of the saved predictions with the per-sentence addition rule (same threshold and stemmer); neither
    reads entities, so none are extracted."""
    from amend.evaluation.metrics.documents import DocumentMetricSettings, score_document, summarise

    metrics = run["settings"]["metrics"]
    settings = DocumentMetricSettings(metrics["threshold"], "sentence", metrics["stemmer"])
    samples = [json.loads(line) for line in Path(run["samples_file"]).read_text().splitlines()]
    scores = [
        score_document(s["source"], s["target"], s["prediction"], s["evidence"], lambda _: frozenset(), settings)
        for s in samples
    ]
    summary = summarise(scores, [len(s["evidence"]) for s in samples])
    return {"DR": summary["DR"]["value"], "ER": summary["ER"]["value"]}


def cell(entry: dict) -> str:
    if math.isnan(entry["value"]):
        return "—"
    text = f"{entry['value']:.3f}"
    return text + (f" ({entry['excluded']})" if entry["excluded"] else "")


def tables(runs: dict[str, dict[int, dict]], rescore: bool) -> str:
    facts = sorted({f for by_facts in runs.values() for f in by_facts})
    out = []
    for metric in METRICS:
        out.append(f"\n**{metric}** (facts per document →; in brackets: documents or facts excluded as undefined)\n")
        out.append("| method | " + " | ".join(str(f) for f in facts) + " |")
        out.append("|---|" + "---|" * len(facts))
        for label, by_facts in runs.items():
            cells = [cell(by_facts[f]["summary"][metric]) if f in by_facts else "" for f in facts]
            out.append(f"| {label} | " + " | ".join(cells) + " |")
    if rescore:
        out.append("\n**DR / ER with the per-sentence addition rule** (copied sentences are not additions)\n")
        out.append("| method | " + " | ".join(str(f) for f in facts) + " |")
        out.append("|---|" + "---|" * len(facts))
        for label, by_facts in runs.items():
            values = [rescored(by_facts[f]) if f in by_facts else None for f in facts]
            cells = ["" if v is None else f"{v['DR']:.3f} / {v['ER']:.3f}" for v in values]
            out.append(f"| {label} | " + " | ".join(cells) + " |")
    seconds = {
        label: sum(r["edit_seconds"] for run in by_facts.values() for r in run["records"])
        for label, by_facts in runs.items()
    }
    out.append("\nEditing time, all fact counts: " + ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items()))
    any_run = next(iter(next(iter(runs.values())).values()))
    out.append(f"\nEntities: {any_run['entities']}; settings: {json.dumps(any_run['settings']['metrics'])}")
    return "\n".join(out)


def plot(runs: dict[str, dict[int, dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 3, figsize=(13, 7), sharex=True)
    for axis, metric in zip(axes.ravel(), METRICS, strict=True):
        for label, by_facts in runs.items():
            facts = sorted(by_facts)
            axis.plot(facts, [by_facts[f]["summary"][metric]["value"] for f in facts], marker="o", label=label)
        axis.set_title(metric)
        axis.set_ylim(-0.02, 1.02)
        axis.set_xticks(sorted({f for b in runs.values() for f in b}))
        axis.grid(alpha=0.3)
    for axis in axes[1]:
        axis.set_xlabel("new facts per document")
    axes[0][0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    print(f"plot written to {path}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("testbed")
    parser.add_argument("--plot", type=Path)
    parser.add_argument("--rescore", action="store_true")
    args = parser.parse_args()
    runs = load(args.testbed)
    if not runs:
        raise SystemExit(f"no runs under runs/documents/{args.testbed}-*")
    print(tables(runs, args.rescore))
    if args.plot:
        plot(runs, args.plot)


if __name__ == "__main__":
    main()
