#!/usr/bin/env bash
# `make demo`: the main job of fetalseg on built-in data, end to end.
#   1. simulate two fetal brains with known truth (fetalseg phantom): a normal one and one with ventriculomegaly;
#   2. segment their T2w images with the installed model (fetalseg segment), with volumes and QC;
#   3. score the segmentations against the phantom truth with the FeTA 2024 metrics (fetalseg evaluate);
#   4. draw synthetic training images from the phantom label maps (fetalseg synth), as training would;
#   5. write the HTML report of the segmented cohort (fetalseg report): one page per subject, index sorted by QC.
set -euo pipefail
OUT=${1:-demo-output}
mkdir -p "$OUT"
echo "== 1/5 phantom cohort -> $OUT/phantom"
fetalseg phantom -o "$OUT/phantom" --n 2 --ga 26:32 --pathology normal,vm --sites 2 --seed 0 --overwrite
echo "== 2/5 segmentation -> $OUT/segmentation"
fetalseg segment "$OUT/phantom" -o "$OUT/segmentation" --volumes "$OUT/volumes.csv" --qc "$OUT/qc.csv" --overwrite --quiet
echo "== 3/5 FeTA metrics against the phantom truth -> $OUT/metrics.csv"
fetalseg evaluate "$OUT/segmentation" "$OUT/phantom" -o "$OUT/metrics.csv" --overwrite
echo "== 4/5 synthetic training samples -> $OUT/synth"
fetalseg synth "$OUT/phantom" -o "$OUT/synth" -n 4 --seed 0 --overwrite
echo "== 5/5 HTML report of the segmented cohort -> $OUT/report"
fetalseg report "$OUT/segmentation" -o "$OUT/report" --overwrite
echo
echo "Demo outputs in $OUT/:"
echo "  phantom/        simulated T2w, FeTA labels, biometry truth (participants.tsv, biometry.tsv)"
echo "  segmentation/   label maps in each input's grid (BIDS derivatives layout)"
echo "  volumes.csv     tissue volumes (mm^3);  qc.csv  QC scores and flags"
echo "  metrics.csv     Dice, HD95, VS, Euler characteristic and Betti numbers per subject and label"
echo "  synth/          synthetic image/label pairs and synth-mosaic.png"
echo "  report/         self-contained HTML pages, one per subject, and the cohort index"
echo
echo "Open the report: $(cd "$OUT/report" && pwd)/index.html"
