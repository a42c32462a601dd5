#!/bin/sh
# Regenerate the sample reports from the demo fleet, and the picture of the PDF's executive
# summary page that the README leads with. Needs reporter installed, and pdfinfo, pdftotext and
# pdftoppm (Debian's poppler-utils).
set -eu
cd "$(dirname "$0")"
rm -f patch-compliance-* demo-inventory.csv demo-baseline.csv demo-exceptions.csv \
  summary-page.png
rm -rf evidence history.sqlite*
reporter demo --out .
# Keep the reports and the demo's inputs (inventory, baseline, exceptions); the evidence and the
# history they were made from are the demo's own.
rm -rf evidence history.sqlite* .reporter.lock
pdf=$(ls patch-compliance-*.pdf)
pages=$(pdfinfo "$pdf" | awk '/^Pages:/ {print $2}')
summary=""
for page in $(seq 1 "$pages"); do
  text=$(pdftotext -f "$page" -l "$page" "$pdf" -)
  # The cover's contents name the section too: the page wanted is the section itself.
  if printf '%s\n' "$text" | grep -qx "CONTENTS"; then
    continue
  fi
  if printf '%s\n' "$text" | grep -qx "Executive summary"; then
    summary=$page
    break
  fi
done
if [ -z "$summary" ]; then
  echo "regenerate.sh: no page of $pdf is headed Executive summary" >&2
  exit 1
fi
pdftoppm -png -r 70 -f "$summary" -l "$summary" -singlefile "$pdf" summary-page
