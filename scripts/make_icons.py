"""Render the app icons (static/icons/*.png) from the SVG below with the system Chromium.

Run once after changing the drawing and commit the PNGs; nothing renders them at build time:
    .venv/bin/python scripts/make_icons.py
"""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import sync_playwright

OUT = Path(__file__).resolve().parent.parent / "static" / "icons"
ACCENT = "#2f6fed"

# A speech bubble with three dots, on a 512×512 canvas.
BUBBLE = (
    '<path fill="{fg}" d="M168 128h176a56 56 0 0 1 56 56v112a56 56 0 0 1-56 56H248l-80 64'
    'v-64a56 56 0 0 1-56-56V184a56 56 0 0 1 56-56z"/>'
    '<g fill="{dots}"><circle cx="192" cy="240" r="24"/><circle cx="256" cy="240" r="24"/>'
    '<circle cx="320" cy="240" r="24"/></g>'
)


def svg(*, background: str, rounded: bool, scale: float, fg: str, dots: str) -> str:
    rect = (
        f'<rect width="512" height="512" rx="{112 if rounded else 0}" fill="{background}"/>'
        if background
        else ""
    )
    # Maskable icons are cropped by the platform to any shape inside the central 80 %.
    inner = f'<g transform="translate(256 256) scale({scale}) translate(-256 -256)">'
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 512 512">'
        f"{rect}{inner}{BUBBLE.format(fg=fg, dots=dots)}</g></svg>"
    )


ICONS = {
    # name: (size, svg)
    "icon.svg": (None, svg(background=ACCENT, rounded=True, scale=1, fg="#fff", dots=ACCENT)),
    "icon-192.png": (192, svg(background=ACCENT, rounded=True, scale=1, fg="#fff", dots=ACCENT)),
    "icon-512.png": (512, svg(background=ACCENT, rounded=True, scale=1, fg="#fff", dots=ACCENT)),
    "icon-maskable-192.png": (
        192,
        svg(background=ACCENT, rounded=False, scale=0.8, fg="#fff", dots=ACCENT),
    ),
    "icon-maskable-512.png": (
        512,
        svg(background=ACCENT, rounded=False, scale=0.8, fg="#fff", dots=ACCENT),
    ),
    # Android shows a notification's badge as a white silhouette: only its alpha counts.
    "badge-96.png": (96, svg(background="", rounded=False, scale=1.15, fg="#fff", dots="none")),
}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=os.environ.get("COIWEB_CHROMIUM", "/usr/bin/chromium"),
            args=["--no-sandbox", "--disable-gpu"],
        )
        for name, (size, drawing) in ICONS.items():
            if size is None:
                (OUT / name).write_text(drawing + "\n")
                continue
            page = browser.new_page(viewport={"width": size, "height": size})
            page.set_content(
                "<style>html,body{margin:0;background:transparent}svg{display:block;"
                f"width:{size}px;height:{size}px}}</style>{drawing}"
            )
            page.locator("svg").screenshot(path=str(OUT / name), omit_background=True)
            page.close()
            print(f"wrote {OUT / name}")
        browser.close()


if __name__ == "__main__":
    main()
