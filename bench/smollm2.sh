#!/bin/bash
# The SmolLM2 experiments of docs/smollm2.md, on demand (hours on two CPU cores; each command prints its table and
# writes results_<date>.json and samples_<date>.jsonl under runs/smollm2/). Run from the repository root after make.
#
#   bench/smollm2.sh data         # the request files: CounterFact's three 300-record samples as one file, the
#                                 # 1,000 sequential edits (those 900 + 100 MQuAKE-hard rewrites of other facts), and
#                                 # the records the model knows (known.json)
#   bench/smollm2.sh single N M   # single edits of method M on the first N records the model knows, with the
#                                 # fluency of a top-k generation from each edit prompt (EasyEdit's protocol)
#   bench/smollm2.sh batch M      # 100 edits of method M at once (the first 100 known records), then reverted
#                                 # (CoME on AlphaEdit: TAG=alphaedit EXTRA="--set base=alphaedit" ... batch come)
#   bench/smollm2.sh sequential M # 1,000 sequential edits of method M in batches of 100, all edits measured every 200
#   bench/smollm2.sh trace N      # causal traces of the first N known records
#   bench/smollm2.sh prose M      # 30 single edits of M with statistics of English prose (Python's documentation)
set -euo pipefail
THREADS=${THREADS:-2}
DATA=../shared/data
OUT=runs/smollm2
mkdir -p "$OUT"
case "${1:-}" in
data)
  .venv/bin/python - <<'PY'
import dataclasses, json
from amend.datasets import load
data = "../shared/data/"
cf = []
for split in ("val", "train", "edit"):
    cf += json.load(open(f"{data}counterfact-easyedit/counterfact-{split}.first300.json"))
json.dump(cf, open("runs/smollm2/counterfact900.json", "w"))
requests = load("counterfact-easyedit", "runs/smollm2/counterfact900.json")
seen = {(r.subject, r.prompt) for r in requests}
extra = []
for r in load("mquake", f"{data}mquake-hard/MQuAKE-hard.first300.json", skip_invalid=True):
    if (r.subject, r.prompt) not in seen and len(extra) < 100:
        seen.add((r.subject, r.prompt))
        extra.append(dataclasses.replace(r, id=f"mquake-{r.record_id}", portability=(), group=None))
json.dump([r.to_dict() for r in [*requests, *extra]], open("runs/smollm2/sequential1000.json", "w"))
from amend.evaluation.known import known_requests
from amend.lm import CausalLM
from amend.testbeds import load as load_testbed
bed = load_testbed("smollm2")
known = known_requests(CausalLM(bed.model, bed.tokenizer), requests)  # 609 of the 900
json.dump([r.to_dict() for r in known], open("runs/smollm2/known.json", "w"))
PY
  ;;
single)
  .venv/bin/amend evaluate --testbed smollm2 --dataset counterfact-easyedit --path "$OUT/counterfact900.json" \
    --dataset-option generation=prompt --generation top_k \
    --known --num-edits "$2" --method "$3" --mode single --threads "$THREADS" --out "$OUT/single-$3-$2" ${EXTRA:-}
  ;;
batch)
  .venv/bin/amend evaluate --testbed smollm2 --dataset counterfact-easyedit --path "$OUT/counterfact900.json" \
    --known --num-edits 100 --method "$2" --mode batch --threads "$THREADS" --out "$OUT/batch100-$2${TAG:+-$TAG}" ${EXTRA:-}
  ;;
sequential)
  .venv/bin/amend evaluate --testbed smollm2 --requests "$OUT/sequential1000.json" --method "$2" \
    --mode sequential --batch-size 100 --checkpoint-every 2 --save-every 1 \
    --protocol probability --protocol token_accuracy --threads "$THREADS" --out "$OUT/sequential-$2"
  ;;
prose)
  .venv/bin/python - <<'PY'
from pydoc_data.topics import topics  # the language reference's help texts, shipped with CPython (PSF licence)
paragraphs = [" ".join(p.split()) for name in sorted(topics) for p in topics[name].split("\n\n")]
kept = [p for p in paragraphs if len(p) > 200 and not p.startswith((">>>", "..."))]
open("runs/smollm2/pydoc_corpus.txt", "w").write("\n".join(kept) + "\n")
PY
  .venv/bin/amend evaluate --testbed smollm2 --dataset counterfact-easyedit --path "$OUT/counterfact900.json" \
    --known --num-edits 30 --method "$2" --mode single --corpus "$OUT/pydoc_corpus.txt" --threads "$THREADS" \
    --out "$OUT/prose-$2"
  ;;
trace)
  .venv/bin/amend trace --testbed smollm2 --dataset counterfact-easyedit --path "$OUT/counterfact900.json" \
    --known --num "$2" --samples 3 --threads "$THREADS" --out "$OUT/trace-$2"
  ;;
*)
  sed -n 2,14p "$0"
  exit 2
  ;;
esac
