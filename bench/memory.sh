#!/bin/bash
# The experiments of docs/memory.md, on demand (single edits: minutes on the world model, hours on SmolLM2). Each
# command writes results_<date>.json and samples_<date>.jsonl under runs/memory/; bench/memory_plot.py draws them.
#
#   bench/memory.sh frontier world N      # single edits of the first N world requests: GRACE over ε_init, BalancEdit
#                                         # over λ, and FT-L, FT-M, LoRA, ROME, MEMIT at their defaults
#   bench/memory.sh frontier smollm2 N    # the same on the first N CounterFact records SmolLM2 knows
#                                         # (bench/smollm2.sh data first; VARIANTS=no skips FT-L's and FT-M's
#                                         # other bounds and learning rate; REVERSE=yes runs the list backwards)
#   bench/memory.sh sequential M N        # N sequential edits of method M on the world model, all measured at the end
#                                         # (settings: TAG=eps8 EXTRA="--set initial_radius=8" bench/memory.sh ...)
set -euo pipefail
THREADS=${THREADS:-2}
OUT=runs/memory
mkdir -p "$OUT"
GRACE_RADII=${GRACE_RADII:-"0.5 1 2 4 8 16 32"}
BALANCES=${BALANCES:-"0 0.25 0.5 0.75 1"}
case "${1:-}" in
frontier)
  bed=$2; n=$3
  if [ "$bed" = world ]; then
    source=(--testbed world -n "$n")
    balanced=()
  else
    source=(--testbed smollm2 --dataset counterfact-easyedit --path runs/smollm2/counterfact900.json --known --num-edits "$n")
    # CounterFact records have one rephrase and one locality prompt: calibrating on them would leave nothing to
    # score, so BalancEdit generates its samples here (docs/memory.md) and is scored on the request's own.
    balanced=(--set samples=generated)
    GRACE_RADII=${GRACE_RADII_SMOLLM2:-"5 10 15 20 25 30 40"}
  fi
  runs=()  # one line per run: its name, then its amend evaluate arguments
  for eps in $GRACE_RADII; do runs+=("grace-eps$eps --method grace --set initial_radius=$eps"); done
  for lam in $BALANCES; do runs+=("balancedit-lam$lam --method balancedit --set balance=$lam ${balanced[*]}"); done
  for lam in $BALANCES; do  # BalancEdit with GRACE's query (the last token's input, Euclidean)
    runs+=("balancedit-token-lam$lam --method balancedit --set balance=$lam --set pooling=token --set distance=euclidean ${balanced[*]}")
  done
  for m in ft-l ft-m lora rome memit; do runs+=("$m --method $m"); done
  if [ "${VARIANTS:-yes}" != no ]; then
    for m in ft-l ft-m; do  # the ROME paper's bound (5e-4) and none, beside EasyEdit's 5e-5
      runs+=("$m-bound5e-4 --method $m --set norm_constraint=0.0005")
      runs+=("$m-unbounded --method $m --set norm_constraint=0")
      runs+=("$m-unbounded-lr1e-2 --method $m --set norm_constraint=0 --set lr=0.01")
    done
  fi
  # REVERSE=yes walks the list from its end: two processes of one thread each (one of them reversed) finish sooner
  # than one of two threads; a run another process has started is skipped.
  order=("${!runs[@]}")
  [ "${REVERSE:-no}" = yes ] && order=($(printf '%s\n' "${order[@]}" | tac))
  for i in "${order[@]}"; do
    read -r name args <<< "${runs[$i]}"
    [ -e "$OUT/$bed-$name/done" ] || [ -e "$OUT/$bed-$name/started" ] && continue
    mkdir -p "$OUT/$bed-$name" && touch "$OUT/$bed-$name/started"
    # shellcheck disable=SC2086  # args is a list of words
    .venv/bin/amend evaluate "${source[@]}" --mode single --protocol probability --protocol token_accuracy \
      --threads "$THREADS" --out "$OUT/$bed-$name" $args && touch "$OUT/$bed-$name/done" && rm "$OUT/$bed-$name/started"
  done
  ;;
sequential)
  .venv/bin/amend evaluate --testbed world -n "$3" --method "$2" --mode sequential --batch-size 1 \
    --checkpoint-every "$3" --protocol probability --protocol token_accuracy --threads "$THREADS" \
    --out "$OUT/world-sequential-$2-$3${TAG:+-$TAG}" ${EXTRA:-}
  ;;
*)
  sed -n 2,9p "$0"; exit 2
  ;;
esac
