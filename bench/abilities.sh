#!/bin/bash
# The collapse curves of docs/abilities.md, on demand: one `amend abilities` run per method, every ability at
# 0, 1, 5, 10, 20, 50, 100, 500 and 1,000 sequential edits (COUNTS overrides), written under runs/abilities/.
#
#   bench/abilities.sh world [METHOD ...]      # the world model and its suite (default: every method below)
#   bench/abilities.sh smollm2 [METHOD ...]    # SmolLM2, up to 500 of runs/smollm2/sequential1000.json (made by
#                                              # bench/smollm2.sh data); the other 500 give its known facts
#   .venv/bin/amend plot-abilities runs/abilities/world-* --out docs/abilities-world.png
#
# A run another process has started is skipped (two processes of one thread each finish sooner than one of two);
# an interrupted run resumes from its last checkpoint. REVERSE=yes walks the methods from the end.
set -euo pipefail
THREADS=${THREADS:-1}
COUNTS=${COUNTS:-}
METHODS_ALL="rome memit alphaedit pmet emmet grace balancedit ft-l lora scr"
testbed=${1:-}
shift || true
methods=(${*:-$METHODS_ALL})
[ "${REVERSE:-no}" = yes ] && methods=($(printf '%s\n' "${methods[@]}" | tac))
case "$testbed" in
# (--held-out 1000: a run stopped at fewer edits asks the same items as the runs to 1,000)
world) source=(--testbed world --held-out 1000); COUNTS=${COUNTS:-"1 5 10 20 50 100 500 1000"} ;;
# the records after the last count are the known facts and fluency prompts: 500 of the 1,000
# (--held-out 500 keeps those items when a run stopped at a smaller count is resumed with more)
smollm2) source=(--testbed smollm2 --requests runs/smollm2/sequential1000.json --held-out 500)
  COUNTS=${COUNTS:-"1 5 10 20 50 100 500"} ;;
*) sed -n 2,10p "$0"; exit 2 ;;
esac
counts=(); for c in $COUNTS; do counts+=(--count "$c"); done
for m in "${methods[@]}"; do
  out=runs/abilities/$testbed-$m
  [ -e "$out/done" ] || [ -e "$out/started" ] && continue
  mkdir -p "$out" && touch "$out/started"
  resume=(); [ -e "$out/run/editor.json" ] && resume=(--resume)
  .venv/bin/amend abilities "${source[@]}" --method "$m" "${counts[@]}" --threads "$THREADS" --out "$out" \
    "${resume[@]}" && touch "$out/done"
  rm -f "$out/started"
done
