"""Open a report page in headless chromium, offline, and measure it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

__all__ = ["chromium", "probe_page"]

_PROBE = """
<script>
window.addEventListener("load", () => setTimeout(() => {
  const images = [...document.images];
  const width = window.innerWidth;
  const wide = [...document.querySelectorAll("body *")]
    .filter((el) => el.getBoundingClientRect().right > width + 1)
    .map((el) => el.tagName);
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({
    images: images.length,
    broken: images.filter((i) => !(i.complete && i.naturalWidth > 0)).length,
    innerWidth: width,
    scrollWidth: document.documentElement.scrollWidth,
    wide: wide});
  document.body.appendChild(out);
}, 100));
</script>
"""


def chromium() -> str | None:
    """The path of a chromium to run headless, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def probe_page(path: Path, tmp_path: Path) -> dict:
    """Open ``path`` at 1,280 px with the network blocked; what the probe saw.

    The images on the page, how many failed to load, the window's inner width,
    the document's scroll width and the tags of elements past the right edge.
    """
    probed = tmp_path / "probed.html"
    probed.write_text(
        path.read_text(encoding="utf-8").replace("</body>", _PROBE + "</body>"),
        encoding="utf-8",
    )
    offline = ["--headless", "--no-sandbox", "--disable-gpu",
               "--proxy-server=127.0.0.1:9",
               "--host-resolver-rules=MAP * ~NOTFOUND",
               "--window-size=1280,2400"]  # fmt: skip
    result = subprocess.run(
        [chromium(), *offline, "--dump-dom", "--virtual-time-budget=5000",
         probed.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    found = re.search(r'<pre id="probe">(.*?)</pre>', result.stdout, re.S)
    assert found, result.stderr[-2000:]
    return json.loads(found.group(1).replace("&quot;", '"'))
