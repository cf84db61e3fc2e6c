"""Helpers the browser tests share: where a crossbar cell is on the page, what the page says."""

from __future__ import annotations

import re

N_ROWS, N_COLS = 101, 200                                     # the paper die's physical array
MARGIN = {"top": 28, "bottom": 36, "left": 48, "right": 12}   # the painter figure's fig_margin


def expect():
    """Playwright's ``expect`` (imported late: without playwright the fixtures skip first)."""
    from playwright.sync_api import expect as _expect

    return _expect


def cell_center(page, row, col):
    """Page coordinates of the centre of cell (row, col) of the crossbar figure."""
    figure = page.locator(".crossbar-figure").first
    figure.scroll_into_view_if_needed()
    box = figure.bounding_box()
    width = box["width"] - MARGIN["left"] - MARGIN["right"]
    height = box["height"] - MARGIN["top"] - MARGIN["bottom"]
    return (box["x"] + MARGIN["left"] + (col + 0.5) * width / N_COLS,
            box["y"] + MARGIN["top"] + (row + 0.5) * height / N_ROWS)


def defective_count(page):
    """The number of defective devices the painter's legend reports."""
    text = page.locator(".defect-counts").first.inner_text()
    return int(re.search(r"(\d+) defective of", text).group(1))
