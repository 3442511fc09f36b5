#!/bin/bash
# The experiments of docs/multimodal.md, on demand (minutes each on the multimodal world's tiny LLaVA). Each command
# writes results_<date>.json and samples_<date>.jsonl under runs/multimodal/; bench/multimodal_table.py tabulates
# them and bench/memory_plot.py-style plots come from bench/multimodal_plot.py.
#
#   bench/multimodal.sh table single N       # N single edits: BalancEdit, GRACE, FT-L, FT-M, LoRA, IKE at their defaults,
#                                            # GRACE at ε_init 64, FT-L unbounded at lr 1e-2
#   bench/multimodal.sh table sequential N   # the same methods, N edits in sequence, all measured at the end
#   bench/multimodal.sh frontier N           # N single edits: BalancEdit over λ, GRACE over ε_init
#
# REVERSE=yes walks a list from its end; a run another process has started is skipped (two processes of one thread
# each finish sooner than one of two threads).
set -euo pipefail
THREADS=${THREADS:-1}
OUT=runs/multimodal
mkdir -p "$OUT"
BALANCES=${BALANCES:-"0 0.25 0.5 0.75 1"}
GRACE_RADII=${GRACE_RADII:-"4 16 32 48 64 96 128"}  # key distances here: bench/codebook_distances.py vision_world
PROTOCOLS=(--protocol probability --protocol token_accuracy --protocol exact_match)
runs=()  # one line per run: its name, then its amend evaluate arguments
case "${1:-}" in
table)
  mode=$2; n=$3
  for m in balancedit grace ft-l ft-m lora ike; do runs+=("$mode-$m --method $m --mode $mode"); done
  # GRACE's radius between the rephrases' and the locality prompts' key distances (36.5 and 152.8 median:
  # bench/codebook_distances.py vision_world); FT-L without its bound (EasyEdit's leaves every target unlearnt)
  runs+=("$mode-grace-eps64 --method grace --mode $mode --set initial_radius=64")
  runs+=("$mode-ft-l-unbounded --method ft-l --mode $mode --set lr=0.01 --set norm_constraint=0")
  # BalancEdit's shared layer copy is retrained by every edit (the reference); one copy per entry keeps each fact's
  # own copy (docs/memory.md)
  if [ "$mode" = sequential ]; then
    runs+=("$mode-balancedit-per-entry --method balancedit --mode $mode --set sharing=per_entry")
  fi
  ;;
frontier)
  mode=single; n=$2
  for lam in $BALANCES; do runs+=("frontier-balancedit-lam$lam --method balancedit --set balance=$lam"); done
  for eps in $GRACE_RADII; do runs+=("frontier-grace-eps$eps --method grace --set initial_radius=$eps"); done
  ;;
*)
  sed -n 2,11p "$0"; exit 2
  ;;
esac
order=("${!runs[@]}")
[ "${REVERSE:-no}" = yes ] && order=($(printf '%s\n' "${order[@]}" | tac))
for i in "${order[@]}"; do
  read -r name args <<< "${runs[$i]}"
  [ -e "$OUT/$name/done" ] || [ -e "$OUT/$name/started" ] && continue
  mkdir -p "$OUT/$name" && touch "$OUT/$name/started"
  # shellcheck disable=SC2086  # args is a list of words
  .venv/bin/amend evaluate --testbed vision_world -n "$n" "${PROTOCOLS[@]}" --checkpoint-every "$n" \
    --threads "$THREADS" --out "$OUT/$name" $args && touch "$OUT/$name/done" && rm "$OUT/$name/started"
done
