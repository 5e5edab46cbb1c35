#!/usr/bin/env bash
# Assemble the published site from the builds (run by .github/workflows/publish.yml):
#   DEST/              the book            (_build/html, scripts/build_book.sh)
#   DEST/student/      the student edition (_build/student/html, scripts/build_student_edition.sh)
#   DEST/iclbook.pdf   the PDF edition     (_build/pdf/iclbook.pdf, scripts/build_pdf.sh)
# Fails, leaving no DEST behind, when the book or the student edition is missing; the PDF is
# copied when it exists. Usage: bash scripts/assemble_site.sh DEST
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ $# -ne 1 ]; then echo "usage: assemble_site.sh DEST" >&2; exit 2; fi
dest="$1"
book="${ICLBOOK_BOOK_HTML:-_build/html}"
student="${ICLBOOK_STUDENT_HTML:-_build/student/html}"
pdf="${ICLBOOK_PDF:-_build/pdf/iclbook.pdf}"
for dir in "$book" "$student"; do
  if [ ! -f "$dir/index.html" ]; then
    echo "assemble_site: $dir/index.html is missing: build it first" >&2
    exit 1
  fi
done
rm -rf "$dest"
tmp="$dest.tmp"
rm -rf "$tmp"
mkdir -p "$tmp"
cp -a "$book/." "$tmp/"
rm -rf "$tmp/student"
cp -a "$student" "$tmp/student"
# The student edition is built from the book's _config.yml, so its pages name the book's
# pages as canonical (html.baseurl); point them at their own address under student/.
base="$(sed -n -E 's/^  baseurl: *"?([^"]*)"?\s*$/\1/p' _config.yml)"
if [ -n "$base" ]; then
  find "$tmp/student" -name '*.html' -exec \
    sed -i -E "/rel=\"canonical\"/ s#href=\"${base}#href=\"${base}student/#" {} +
fi
if [ -f "$pdf" ]; then cp "$pdf" "$tmp/iclbook.pdf"; fi
# GitHub Pages: serve files as they are (folders starting with _ such as _static included).
touch "$tmp/.nojekyll"
mv "$tmp" "$dest"
echo ">> site in $dest: book, student/$( [ -f "$dest/iclbook.pdf" ] && echo ', iclbook.pdf')"
