"""Aggregation and the evaluation report: ``results_<date>.json``, ``samples_<date>.jsonl`` and a table.

Aggregation is per record first (the mean over a record's prompts), then over records, for each metric and
protocol separately; every mean carries the number of records and prompts behind it.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import subprocess
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

Values = dict[str, dict[str, float]]  # metric name -> protocol -> value

METRIC_ORDER = ("reliability", "generalization", "locality_agreement", "locality_accuracy", "portability", "conflict")


def named_values(metric_values: Values, kind: str) -> Values:
    """The values under their metric name and, for a labelled probe, also under ``metric/kind``."""
    out = dict(metric_values)
    if kind:
        out.update({f"{name}/{kind}": protocols for name, protocols in metric_values.items()})
    return out


def aggregate(values: Sequence[Values], record_of: Sequence[int]) -> tuple[list[Values], dict[str, Any]]:
    """Per-record means, then dataset means with counts: {name: {protocol: {mean, records, prompts}}}."""
    sums: dict[tuple[int, str, str], list[float]] = defaultdict(list)
    for record, item in zip(record_of, values, strict=True):
        for name, protocols in item.items():
            for protocol, value in protocols.items():
                sums[(record, name, protocol)].append(value)
    per_record: dict[int, Values] = defaultdict(lambda: defaultdict(dict))
    prompts: dict[tuple[str, str], int] = defaultdict(int)
    for (record, name, protocol), vals in sums.items():
        per_record[record][name][protocol] = sum(vals) / len(vals)
        prompts[(name, protocol)] += len(vals)
    summary: dict[str, Any] = defaultdict(dict)
    by_metric: dict[tuple[str, str], list[float]] = defaultdict(list)
    for record_values in per_record.values():
        for name, protocols in record_values.items():
            for protocol, value in protocols.items():
                by_metric[(name, protocol)].append(value)
    for (name, protocol), vals in sorted(by_metric.items()):
        summary[name][protocol] = {
            "mean": sum(vals) / len(vals),
            "records": len(vals),
            "prompts": prompts[(name, protocol)],
        }
    records = [{k: dict(v) for k, v in per_record[r].items()} for r in sorted(per_record)]
    return records, _ordered(summary)


def _ordered(summary: dict[str, Any]) -> dict[str, Any]:
    def key(name: str) -> tuple[int, str]:
        base = name.split("/")[0]
        return (METRIC_ORDER.index(base) if base in METRIC_ORDER else len(METRIC_ORDER), name)

    return {name: dict(summary[name]) for name in sorted(summary, key=key)}


@dataclass
class EvalResult:
    """Everything an evaluation run measured, and how (see :meth:`save` for the file schema)."""

    method: str
    mode: str
    protocols: list[str]
    config: dict[str, Any]
    model: dict[str, Any]
    summary: dict[str, Any]
    pre_summary: dict[str, Any]
    records: list[dict[str, Any]]
    samples: list[dict[str, Any]] = field(repr=False, default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def mean(self, metric: str, protocol: str) -> float:
        return self.summary[metric][protocol]["mean"]

    def save(self, out_dir: str | Path) -> Path:
        """Write ``results_<date>.json`` (run metadata and summaries) and ``samples_<date>.jsonl`` (per prompt).

        results JSON keys: ``amend_version``, ``date``, ``git_hash``, ``versions`` (python, torch, transformers),
        ``model`` (name, model_type, fingerprint, dtype, parameters), ``method``, ``config``, ``mode``, ``protocols``,
        ``summary`` and ``pre_summary`` ({metric: {protocol: {mean, records, prompts}}}), ``records`` (per record:
        id, edit_seconds, metric means), ``extra``.
        """
        results = {
            **run_metadata(),
            "model": self.model,
            "method": self.method,
            "config": self.config,
            "mode": self.mode,
            "protocols": self.protocols,
            "summary": self.summary,
            "pre_summary": self.pre_summary,
            "records": self.records,
            "extra": self.extra,
        }
        return save_run(out_dir, "results", results, self.samples)

    def table(self) -> Table:
        table = Table(title=f"{self.method} · {self.mode} · {len(self.records)} records")
        table.add_column("metric", no_wrap=True)
        for protocol in self.protocols:
            table.add_column(protocol, no_wrap=True)
        for name, protocols in self.summary.items():
            cells = []
            for protocol in self.protocols:
                entry = protocols.get(protocol)
                pre = self.pre_summary.get(name, {}).get(protocol)
                text = "—" if entry is None else f"{entry['mean']:.3f}"
                if entry is not None and pre is not None:
                    text += f" [dim](pre {pre['mean']:.2f})[/]"
                cells.append(text)
            table.add_row(name, *cells)
        return table


def save_run(out_dir: str | Path, name: str, results: dict[str, Any], samples: Sequence[dict[str, Any]]) -> Path:
    """Write ``<name>_<date>.json`` and ``samples_<date>.jsonl`` (one sample per line) into ``out_dir``; returns the
    first. The date stamp has seconds, so runs saved into one folder keep their files apart."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y-%m-%dT%H-%M-%S")
    path = out_dir / f"{name}_{stamp}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    with (out_dir / f"samples_{stamp}.jsonl").open("w") as file:
        for sample in samples:
            file.write(json.dumps(sample, default=str) + "\n")
    return path


def run_metadata() -> dict[str, Any]:
    import torch
    import transformers

    from amend.version import __version__

    return {
        "amend_version": __version__,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "git_hash": _git_hash(),
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        },
    }


def _git_hash() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None
