#!/bin/bash
# The document-editing experiment of docs/documents.md, on demand: every method against the number of new facts per
# document (FACTS, default 1 2 3 5), one `amend documents` run each, written under runs/documents/.
#
#   bench/documents.sh world [LABEL ...]     # N (50) biography updates of the world model ("continue" prompts)
#   bench/documents.sh smollm2 [LABEL ...]   # N (10) fact sheets from the CounterFact records SmolLM2 knows
#                                            # (runs/smollm2/known.json, made by bench/smollm2.sh data)
#   .venv/bin/python bench/documents_table.py world   # the tables and docs/documents-world.png
#
# A finished run is skipped; LABELs name the rows below (default: all of the testbed's).
set -euo pipefail
THREADS=${THREADS:-1}
FACTS=${FACTS:-"1 2 3 5"}
testbed=${1:-}
shift || true
declare -A RUNS=(
  [unedited]="--method unedited"
  [evidence]="--method unedited --variant evidence"
  [chat]="--method unedited --variant chat"
  [ike]="--method ike --set demonstrations=0 --set facts_per_query=5"
  [scr]="--method scr"
  [scr-nojudge]="--method scr --set judge=false"
  [ft-l]="--method ft-l"
  [ft-m]="--method ft-m --set lr=0.01 --set norm_constraint=0"
  [lora]="--method lora"
  [memit]="--method memit"
  [memit-each]="--method memit --facts-per-edit 1"
  [rome]="--method rome"
)
case "$testbed" in
world) N=${N:-50}; source=(--testbed world); labels_all="unedited ike scr scr-nojudge ft-l ft-m lora memit memit-each rome" ;;
smollm2) N=${N:-10}; labels_all="unedited chat ike scr ft-m lora memit"
  mkdir -p runs/documents
  for f in $FACTS; do
    file=runs/documents/smollm2-sheets-f$f.json
    [ -e "$file" ] || .venv/bin/python -c "
import json, sys
from amend.datasets import load
from amend.datasets.fact_sheets import fact_sheet_documents
docs = fact_sheet_documents(load('amend', 'runs/smollm2/known.json'), $N, $f)
json.dump([{'kind': 'document', **d.to_dict()} for d in docs], open('$file', 'w'))"
  done ;;
*) sed -n 2,10p "$0"; exit 2 ;;
esac
labels=(${*:-$labels_all})
for label in "${labels[@]}"; do
  for f in $FACTS; do
    out=runs/documents/$testbed-$label-f$f
    ls "$out"/documents_*.json > /dev/null 2>&1 && continue
    if [ "$testbed" = smollm2 ]; then source=(--testbed smollm2 --requests runs/documents/smollm2-sheets-f$f.json); fi
    # shellcheck disable=SC2086
    .venv/bin/amend documents "${source[@]}" --facts "$f" -n "$N" ${RUNS[$label]} --threads "$THREADS" --out "$out"
  done
done
