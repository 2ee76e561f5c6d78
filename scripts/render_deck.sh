#!/bin/sh
# Render a supportsim deck to one PNG per slide so a person can look at every slide.
# Usage: scripts/render_deck.sh deck.pptx [OUT_DIR] [DPI]
# Needs LibreOffice Impress (Debian: apt-get install -y --no-install-recommends libreoffice-impress)
# and pdftoppm (poppler-utils). Writes OUT_DIR/deck.pdf and OUT_DIR/slide-N.png.
set -eu
deck=${1:?usage: render_deck.sh deck.pptx [OUT_DIR] [DPI]}
out=${2:-$(dirname "$deck")/slides}
dpi=${3:-60}
command -v soffice >/dev/null || { echo "soffice not found: install libreoffice-impress" >&2; exit 2; }
command -v pdftoppm >/dev/null || { echo "pdftoppm not found: install poppler-utils" >&2; exit 2; }
mkdir -p "$out"
profile=$(mktemp -d)  # a private LibreOffice profile: no clash with a running office
trap 'rm -rf "$profile"' EXIT
soffice -env:UserInstallation=file://"$profile" --headless --convert-to pdf --outdir "$out" "$deck" >/dev/null
pdf="$out/$(basename "${deck%.*}").pdf"
pdftoppm -png -r "$dpi" "$pdf" "$out/slide"
ls "$out"/slide-*.png
