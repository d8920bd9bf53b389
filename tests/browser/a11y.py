"""Looking at a page as the definition of done asks: axe-core's WCAG A and AA rules, and a
screenshot at a desktop and a phone width.

axe-core is vendored beside this file (tests/browser/vendor, MPL-2.0) and injected into the
page under test; nothing is fetched. Screenshots go to the test's folder, or to
$COCREATE_SCREENSHOTS when set, to be looked at.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core-4.14.1.min.js"
WCAG_A_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
WIDTHS = (1280, 360)


def violations(page: Any) -> list[str]:
    """axe-core's WCAG A/AA violations on the page as it is now, one line per element."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})"
        ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " targets: v.nodes.map(n => n.target.join(' '))})))",
        WCAG_A_AA,
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {target}"
        for v in found
        for target in v["targets"]
    ]


def looked_at(page: Any, name: str, folder: Path) -> dict[int, list[str]]:
    """At each width: a full-page screenshot, and axe-core's violations (by width)."""
    shots = Path(os.environ.get("COCREATE_SCREENSHOTS") or folder)
    shots.mkdir(parents=True, exist_ok=True)
    seen: dict[int, list[str]] = {}
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        page.screenshot(path=str(shots / f"{slug}-{width}.png"), full_page=True)
        seen[width] = violations(page)
    return seen


def assert_accessible(page: Any, name: str, folder: Path) -> None:
    seen = looked_at(page, name, folder)
    problems = [f"{width} px: {line}" for width, lines in seen.items() for line in lines]
    assert not problems, f"{name}: WCAG A/AA violations\n" + "\n".join(problems)


def no_horizontal_scroll(page: Any) -> bool:
    """At the current width nothing sticks out sideways (a phone would have to pan)."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))
