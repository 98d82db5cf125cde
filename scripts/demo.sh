#!/usr/bin/env bash
# `make demo`: the main job of fetalseg on built-in data, end to end.
#   1. simulate two fetal brains with known truth (fetalseg phantom): a normal one and one with ventriculomegaly;
#   2. segment their T2w images with the installed model (fetalseg segment), with volumes and QC;
#   3. score the segmentations against the phantom truth with the FeTA 2024 metrics (fetalseg evaluate);
#   4. draw synthetic training images from the phantom label maps (fetalseg synth), as training would.
set -euo pipefail
OUT=${1:-demo-output}
mkdir -p "$OUT"
echo "== 1/4 phantom cohort -> $OUT/phantom"
fetalseg phantom -o "$OUT/phantom" --n 2 --ga 26:32 --pathology normal,vm --sites 2 --seed 0 --overwrite
echo "== 2/4 segmentation -> $OUT/segmentation"
fetalseg segment "$OUT/phantom" -o "$OUT/segmentation" --volumes "$OUT/volumes.csv" --qc "$OUT/qc.csv" --overwrite --quiet
echo "== 3/4 FeTA metrics against the phantom truth -> $OUT/metrics.csv"
fetalseg evaluate "$OUT/segmentation" "$OUT/phantom" -o "$OUT/metrics.csv" --overwrite
echo "== 4/4 synthetic training samples -> $OUT/synth"
fetalseg synth "$OUT/phantom" -o "$OUT/synth" -n 4 --seed 0 --overwrite
echo
echo "Demo outputs in $OUT/:"
echo "  phantom/        simulated T2w, FeTA labels, biometry truth (participants.tsv, biometry.tsv)"
echo "  segmentation/   label maps in each input's grid (BIDS derivatives layout)"
echo "  volumes.csv     tissue volumes (mm^3);  qc.csv  QC scores and flags"
echo "  metrics.csv     Dice, HD95, VS, Euler characteristic and Betti numbers per subject and label"
echo "  synth/          synthetic image/label pairs and synth-mosaic.png"
