#!/usr/bin/env bash
# Refresh book/assets/vendor/: the browser-side files the built book serves itself, so that
# maths and widgets work offline and no page loads anything from a CDN.
#
#   - MathJax 3 (npm `mathjax`, Apache-2.0): es5/tex-mml-chtml.js, the CHTML woff-v2 fonts it
#     loads, and the TeX extensions its autoloader may fetch (\boldsymbol, \cancel, ...).
#   - The Jupyter-widgets HTML manager (npm `@jupyter-widgets/html-manager`, BSD-3-Clause):
#     the non-AMD dist/embed.js (renders the widget state stored in a page, no kernel, no
#     require.js) and the three Font Awesome woff2 fonts its CSS refers to.
#
# Only these files are copied (about 4 MB); their checksums go to SHA256SUMS, which
# tests/browser/test_offline_assets.py verifies. The book build does not need npm: this script
# is run by hand to upgrade, and the result is committed. Needs `npm` (any registry mirror).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MATHJAX_VERSION=3.2.2          # matches Sphinx's default MathJax 3
HTML_MANAGER_VERSION=1.0.15    # the @jupyter-widgets/html-manager built with ipywidgets 8.1
DEST="$ROOT/book/assets/vendor"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

cd "$tmp"
npm pack --silent "mathjax@$MATHJAX_VERSION" "@jupyter-widgets/html-manager@$HTML_MANAGER_VERSION" \
  > /dev/null
mkdir mj hm
tar xzf "mathjax-$MATHJAX_VERSION.tgz" -C mj
tar xzf "jupyter-widgets-html-manager-$HTML_MANAGER_VERSION.tgz" -C hm

rm -rf "$DEST/mathjax" "$DEST/html-manager"
mkdir -p "$DEST/mathjax/output/chtml/fonts" "$DEST/mathjax/input/tex/extensions" \
  "$DEST/html-manager"

# MathJax: the combined component, its fonts, and the autoloadable TeX extensions
# (all-packages.js is a bundle of those same extensions and is never loaded by autoload).
cp mj/package/LICENSE "$DEST/mathjax/LICENSE"
cp mj/package/es5/tex-mml-chtml.js "$DEST/mathjax/"
cp -r mj/package/es5/output/chtml/fonts/woff-v2 "$DEST/mathjax/output/chtml/fonts/"
cp mj/package/es5/input/tex/extensions/*.js "$DEST/mathjax/input/tex/extensions/"
rm "$DEST/mathjax/input/tex/extensions/all-packages.js"

# HTML manager: the non-AMD embed bundle, its third-party notices, the woff2 fonts (browsers
# that run this bundle all take woff2, the first format its @font-face rules list).
cp hm/package/dist/embed.js hm/package/dist/embed.js.LICENSE.txt "$DEST/html-manager/"
cp hm/package/dist/*.woff2 "$DEST/html-manager/"
# The npm package ships no LICENSE file; ipywidgets' own licence (same project, BSD-3) is it.
"$ROOT/.venv/bin/python" - "$DEST/html-manager/LICENSE" <<'EOF'
import sys
from importlib.metadata import distribution

dist = distribution("ipywidgets")
licence = next(f for f in dist.files if f.name in ("LICENSE", "LICENSE.txt"))
text = licence.read_text()
with open(sys.argv[1], "w") as out:
    out.write("@jupyter-widgets/html-manager is part of ipywidgets; its licence:\n\n" + text)
    out.write(
        "\nThe *.woff2 files are Font Awesome Free 5 fonts (SIL Open Font License 1.1,"
        " https://fontawesome.com/license/free), bundled by the package.\n"
    )
EOF

cd "$DEST"
cat > VERSIONS <<EOF
mathjax $MATHJAX_VERSION https://registry.npmjs.org/mathjax/-/mathjax-$MATHJAX_VERSION.tgz
@jupyter-widgets/html-manager $HTML_MANAGER_VERSION https://registry.npmjs.org/@jupyter-widgets/html-manager/-/html-manager-$HTML_MANAGER_VERSION.tgz
EOF
find mathjax html-manager -type f | LC_ALL=C sort | xargs sha256sum > SHA256SUMS
echo ">> vendored into $DEST ($(du -sh --exclude=README.md . | cut -f1))"
