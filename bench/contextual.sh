#!/bin/bash
# The experiments of docs/contextual.md, on demand. Each `amend evaluate` run writes results_<date>.json and
# samples_<date>.jsonl (SCR's per-query traces among them) under runs/contextual/.
#
#   bench/contextual.sh table world N       # single edits of the first N world requests: SCR, IKE, ROME, MEMIT,
#                                           # AlphaEdit, GRACE, BalancEdit; probability and exact-match protocols
#   bench/contextual.sh table smollm2 N     # the same on the first N CounterFact records SmolLM2 knows
#                                           # (bench/smollm2.sh data first)
#   bench/contextual.sh table zsre N        # the same on the first N zsRE records, SmolLM2
#   bench/contextual.sh scale               # SCR against the number of stored facts (bench/scr_scale.py)
#   bench/contextual.sh store               # store speed, SQLite and PostgreSQL (bench/store_speed.py)
set -euo pipefail
THREADS=${THREADS:-2}
OUT=runs/contextual
mkdir -p "$OUT"
case "${1:-}" in
table)
  bed=$2; n=$3
  case "$bed" in
  world) source=(--testbed world -n "$n"); grace=(--set initial_radius=8);
    balanced=(--set pooling=token --set distance=euclidean --set balance=0.5)
    ike=() ;;
  smollm2) source=(--testbed smollm2 --dataset counterfact-easyedit --path runs/smollm2/counterfact900.json --known
      --num-edits "$n"); grace=(); balanced=(--set samples=generated)
    ike=(--set pool_path=runs/smollm2/counterfact900.json --set demonstrations=16) ;;
  zsre) source=(--testbed smollm2 --dataset zsre --path ../shared/data/zsre-mend/zsre_mend_train-1k.first300.json
      --num-edits "$n"); grace=(); balanced=(--set samples=generated)
    ike=(--set pool_path=../shared/data/zsre-mend/zsre_mend_train-1k.first300.json --set pool_format=zsre
      --set demonstrations=16) ;;
  *) echo "testbed: world, smollm2 or zsre"; exit 2 ;;
  esac
  run() {  # name, then amend evaluate arguments
    local name=$1; shift
    [ -e "$OUT/$bed-$name/done" ] && return 0
    .venv/bin/amend evaluate "${source[@]}" --mode single --protocol probability --protocol exact_match \
      --threads "$THREADS" --out "$OUT/$bed-$name" "$@" && touch "$OUT/$bed-$name/done"
  }
  run scr --method scr
  run scr-nojudge --method scr --set judge=false
  run ike --method ike "${ike[@]}"
  run ike-nodemos --method ike "${ike[@]}" --set demonstrations=0
  for m in rome memit alphaedit; do run "$m" --method "$m"; done
  run grace --method grace "${grace[@]}"
  run balancedit --method balancedit "${balanced[@]}"
  ;;
scale)
  .venv/bin/python bench/scr_scale.py --threads "$THREADS" ${EXTRA:-}
  ;;
store)
  .venv/bin/python bench/store_speed.py --threads "$THREADS"
  ;;
*)
  sed -n 2,11p "$0"; exit 2
  ;;
esac
