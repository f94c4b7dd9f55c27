"""Report every scrollbar a reader sees on the built docs pages at 1,280 px.

Usage: ``python docs/check_scrollbars.py docs/_build/html [--width 1280]``.

Each page is copied with a small script appended, then loaded in headless
Chromium (Debian's ``chromium``; the network is blocked by a dead proxy) with
``--dump-dom``. The script lists every element whose content is wider or taller
than its box and whose ``overflow`` lets it scroll (``auto`` or ``scroll``), and
whether the page itself is wider than the window; also a table, figure,
formula or code block wider than the box it sits in, and a code name broken
across two lines. Exit status 1 if any is
found. ``tests/test_docs.py`` runs it when a ``chromium`` is installed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PROBE = """
<script>
window.addEventListener("load", () => setTimeout(() => {
  const found = [];
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
    + (el.className && typeof el.className === "string"
       ? "." + el.className.trim().split(/\\s+/).join(".") : "");
  for (const el of document.querySelectorAll("body *")) {
    const style = getComputedStyle(el);
    if (style.display === "none" || style.visibility === "hidden") continue;
    const sx = /(auto|scroll)/.test(style.overflowX);
    const sy = /(auto|scroll)/.test(style.overflowY);
    const wide = el.scrollWidth > el.clientWidth + 1;
    const tall = el.scrollHeight > el.clientHeight + 1;
    if ((sx && wide) || (sy && tall)) {
      found.push({element: name(el),
                  text: (el.textContent || "").trim().slice(0, 60),
                  horizontal: sx && wide ? el.scrollWidth - el.clientWidth : 0,
                  vertical: sy && tall ? el.scrollHeight - el.clientHeight : 0});
    }
  }
  // content wider than the box it sits in (a table past the page's text)
  for (const el of document.querySelectorAll("table, pre, img, div.math, figure")) {
    const parent = el.parentElement;
    if (!parent || el.closest(".bd-sidebar-primary, .bd-sidebar-secondary")) continue;
    const right = parent.getBoundingClientRect().right;
    const over = el.getBoundingClientRect().right - right;
    if (over > 1) {
      found.push({element: name(el) + " (wider than its container)",
                  text: (el.textContent || "").trim().slice(0, 60),
                  horizontal: Math.round(over), vertical: 0});
    }
  }
  // a code name broken across lines ("PanelTimeSer / iesSplit"); a break
  // after ( , = . (where the docs put <wbr>) is between names, not inside one
  const brokenAt = (el) => {
    const range = document.createRange();
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    let top = null, before = "";
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (let i = 0; i < node.length; i++) {
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        const rect = range.getClientRects()[0];
        if (!rect) continue;
        if (top !== null && rect.top > top + 2 && !"(,=.[".includes(before)) {
          return node.data.slice(Math.max(0, i - 12), i) + " / "
            + node.data.slice(i, i + 12);
        }
        top = rect.top;
        before = node.data[i];
      }
    }
    return null;
  };
  for (const el of document.querySelectorAll("code, span.pre")) {
    const text = (el.textContent || "").trim();
    if (/\\s/.test(text) || el.querySelector("span.pre")) continue;
    if (el.getClientRects().length > 1) {
      const where = brokenAt(el);
      if (where) {
        found.push({element: name(el) + " (code name broken across lines)",
                    text: where, horizontal: 0, vertical: 0});
      }
    }
  }
  const doc = document.documentElement;
  if (doc.scrollWidth > window.innerWidth) {
    found.push({element: "page", text: "", horizontal:
                doc.scrollWidth - window.innerWidth, vertical: 0});
  }
  const out = document.createElement("pre");
  out.id = "scrollbar-report";
  out.textContent = JSON.stringify(found);
  document.body.appendChild(out);
}, 300));
</script>
"""

BROWSERS = ("chromium", "chromium-browser")


def find_browser() -> str | None:
    """The path of an installed Chromium, or None."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def scrollbars(page: Path, browser: str, width: int = 1280) -> list[dict]:
    """The scrollable overflowing elements of one built page (see module doc)."""
    probe = page.with_name(f"_scrollbars_{page.name}")
    html = page.read_text(encoding="utf-8")
    probe.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    try:
        with tempfile.TemporaryDirectory() as profile:
            done = subprocess.run(
                [
                    browser,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--hide-scrollbars",
                    "--proxy-server=127.0.0.1:9",
                    "--proxy-bypass-list=<-loopback>",
                    f"--user-data-dir={profile}",
                    f"--window-size={width},900",
                    "--virtual-time-budget=5000",
                    "--dump-dom",
                    probe.as_uri(),
                ],
                capture_output=True,
                text=True,
                timeout=120,
            )
    finally:
        probe.unlink()
    match = re.search(r'<pre id="scrollbar-report">(.*?)</pre>', done.stdout, re.S)
    if match is None:
        raise RuntimeError(f"{page}: no report from the browser\n{done.stderr[-2000:]}")
    text = match.group(1).replace("&lt;", "<").replace("&gt;", ">")
    return json.loads(text.replace("&quot;", '"').replace("&amp;", "&"))


def check_site(root: Path, browser: str, width: int = 1280) -> dict[str, list]:
    """``{page: [overflowing elements]}`` for every page with any."""
    pages = sorted(
        p
        for p in root.rglob("*.html")
        if p.name not in {"genindex.html", "search.html", "py-modindex.html"}
        and not p.name.startswith("_scrollbars_")
        and "_static" not in p.parts
        and "_sources" not in p.parts
    )
    report = {}
    for page in pages:
        found = scrollbars(page, browser, width)
        if found:
            report[page.relative_to(root).as_posix()] = found
    return report


def main(argv: list[str]) -> int:
    root = (Path(argv[0]) if argv else Path("docs/_build/html")).resolve()
    width = int(argv[argv.index("--width") + 1]) if "--width" in argv else 1280
    browser = find_browser()
    if browser is None:
        print("no chromium installed (apt-get install chromium)", file=sys.stderr)
        return 2
    pages = [p for p in root.rglob("*.html") if "_static" not in p.parts]
    report = check_site(root, browser, width)
    for page, found in report.items():
        for item in found:
            print(f"{page}: {item}")
    print(f"{len(pages)} pages checked at {width} px: {len(report)} with scrollbars")
    return 1 if report else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
