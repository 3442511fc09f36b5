"""SCR against the number of facts in its store: each stage's figure at each size, and seconds per query
(docs/contextual.md).

    .venv/bin/python bench/scr_scale.py [--sizes 10 100 1000 7000] [--sample 100] [--threads 2] [--set k=v ...]
        [--out runs/contextual/scale]      # scale.json (the rows) and scale.png (each stage against the size)

On the world model: the first N world requests are stored at once (one SCR edit), then for a sample of them the edit
prompt and its rephrases are asked (the gold fact: the request's own), and their same-person probes of other
relations (no stored fact is relevant while N ≤ 1,000: the first 1,000 requests edit 1,000 different people; at
7,000, every fact of the world is edited and locality is not measured). Per size:

* recall@k: the gold fact is among the retrieved candidates;
* judge precision: confirmed facts that are the gold one; judge recall: gold facts confirmed once retrieved;
* reading given gold: the new object wins (probability protocol) when the answer prompt holds the gold fact alone;
* end to end: the new object wins through SCR; locality: the unedited model's argmax kept on the other probes;
* seconds per query (retrieval, judgement, the answer's scoring).
"""

from __future__ import annotations

import argparse
import ast
import json
import time
from pathlib import Path

import numpy as np
import torch

from amend import Editor
from amend.lm import CausalLM
from amend.methods.contextual import fact_sentence
from amend.methods.scr.method import Scr
from amend.methods.scr.reader import answer_prompt
from amend.testbeds import load as load_testbed


def wins(lm, prompt, new, old) -> bool:
    scored = lm.score([(prompt, new), (prompt, old)])
    return scored[0].nll < scored[1].nll


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000, 7000])
    parser.add_argument("--sample", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--set", action="append", default=[], help="SCR settings, k=v (values as Python literals)")
    parser.add_argument("--out", default="runs/contextual/scale", help="folder of scale.json and scale.png")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    overrides = {}
    for item in args.set:
        key, value = item.split("=", 1)
        try:
            overrides[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            overrides[key] = value
    bed = load_testbed("world")
    model, tok = bed.model, bed.tokenizer
    lm = CausalLM(model, tok)
    print(f"settings: {overrides or 'defaults'}")
    print(
        "| facts | recall@k | judge precision | judge recall | reading given gold | end to end | locality | s/query |"
    )
    print("|---|---|---|---|---|---|---|---|")
    rows = []
    for size in args.sizes:
        requests = bed.requests(size)
        editor = Editor(model, tok, "scr", **overrides)
        seen = Scr.observed(lm, model, editor.config)
        reader = seen.context
        editor.edit(requests)
        reader.index.sync()  # the store is filled before any query is timed
        rng = np.random.default_rng(0)
        chosen = [requests[i] for i in sorted(rng.choice(size, min(args.sample, size), replace=False))]
        retrieved = confirmed_gold = confirmed = gold_confirmed_of_retrieved = 0
        reading = end_to_end = asked = 0
        kept = probes = 0
        seconds = 0.0
        for request in chosen:
            gold = fact_sentence(request, editor.config.fact_template)  # the sentence SCR stored
            for query in [request.text, *(r.prompt for r in request.rephrase)]:
                start = time.perf_counter()
                prompt = reader(query)
                end_to_end += wins(lm, prompt or query, request.target_new, request.target_true)
                seconds += time.perf_counter() - start
                trace = reader.traces[-1]
                texts = [hit.text for hit in trace.candidates]
                hit = gold in texts
                retrieved += hit
                picked = [t for t, keep in zip(texts, trace.confirmed, strict=True) if keep]
                confirmed += len(picked)
                confirmed_gold += gold in picked
                gold_confirmed_of_retrieved += hit and gold in picked
                reading += wins(
                    lm, answer_prompt(editor.config, [gold], query), request.target_new, request.target_true
                )
                asked += 1
            if size <= 1000:
                for probe in (p for p in request.locality if p.kind == "same_subject"):
                    start = time.perf_counter()
                    after = seen.score([(probe.prompt, probe.answer)])[0]
                    seconds += time.perf_counter() - start
                    before = lm.score([(probe.prompt, probe.answer)])[0]
                    kept += after.argmax == before.argmax
                    probes += 1
        editor.revert()
        locality = f"{kept / probes:.3f}" if probes else "n/a"
        rows.append(
            {
                "facts": size,
                "recall@k": retrieved / asked,
                "judge precision": confirmed_gold / max(confirmed, 1),
                "judge recall": gold_confirmed_of_retrieved / max(retrieved, 1),
                "reading given gold": reading / asked,
                "end to end": end_to_end / asked,
                "locality": kept / probes if probes else None,
                "seconds per query": seconds / (asked + probes),
            }
        )
        print(
            f"| {size:,} | {retrieved / asked:.3f} | {confirmed_gold / max(confirmed, 1):.3f} | "
            f"{gold_confirmed_of_retrieved / max(retrieved, 1):.3f} | {reading / asked:.3f} | "
            f"{end_to_end / asked:.3f} | {locality} | {seconds / (asked + probes):.3f} |",
            flush=True,
        )

    save(rows, overrides, Path(args.out))


def save(rows: list[dict], settings: dict, out: Path) -> None:
    """The rows as JSON and a plot of every stage's figure against the number of stored facts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    (out / "scale.json").write_text(json.dumps({"settings": settings, "rows": rows}, indent=1))
    figure, axes = plt.subplots(figsize=(7, 4.2))
    sizes = [row["facts"] for row in rows]
    for name in ("recall@k", "judge precision", "judge recall", "reading given gold", "end to end", "locality"):
        points = [(size, row[name]) for size, row in zip(sizes, rows, strict=True) if row[name] is not None]
        axes.plot(*zip(*points, strict=True), marker="o", label=name)
    axes.set_xscale("log")
    axes.set_xlabel("facts in the store")
    axes.set_ylabel("share of queries")
    axes.set_ylim(-0.02, 1.02)
    axes.set_title("SCR on the world model against the number of stored facts")
    axes.legend(loc="lower left", fontsize=8)
    figure.tight_layout()
    figure.savefig(out / "scale.png", dpi=120)
    print(f"wrote {out / 'scale.json'} and {out / 'scale.png'}")


if __name__ == "__main__":
    main()
