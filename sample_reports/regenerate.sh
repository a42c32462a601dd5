#!/bin/sh
# Regenerate the sample reports from the demo fleet, and the picture of the PDF's first page
# that the README shows. Needs reporter installed, and pdftoppm (Debian's poppler-utils).
set -eu
cd "$(dirname "$0")"
rm -f patch-compliance-* demo-inventory.csv first-page.png
rm -rf evidence history.sqlite*
reporter demo --out .
# Keep the reports; the evidence and the history they were made from are the demo's own.
rm -rf evidence history.sqlite* .reporter.lock
pdftoppm -png -r 70 -f 1 -l 1 -singlefile patch-compliance-*.pdf first-page
