"""The dashboard's trend chart as Chromium draws it: the labels under its axis never overlap and stay inside the
chart, on a desktop window and on a 390x844 phone, and every week's figure is in the table after it."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from fhircrm.ui import charts

pytestmark = pytest.mark.slow
NOW = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)
#: the dashboard's 12 weeks, labelled as ``fhircrm.indicators.dashboard`` labels them, the oldest first
WEEKS = [((NOW - timedelta(weeks=w)).strftime("%d %b"), 10.0 + (w % 4)) for w in range(11, -1, -1)]


async def _label_boxes(chromium, html: str, viewport: dict) -> tuple[dict, list[dict]]:
    context = await chromium.new_context(viewport=viewport)
    try:
        page = await context.new_page()
        # the card width of the dashboard's grid is at most the chart's max-width (520 px), less on a phone
        await page.set_content(f'<main style="width:min(520px, 100%)">{html}</main>')
        svg = await page.evaluate(
            "() => JSON.parse(JSON.stringify(document.querySelector('svg').getBoundingClientRect()))"
        )
        boxes = await page.evaluate(
            """() => [...document.querySelectorAll('svg text')]
                .filter(t => t.getAttribute('y') === '144')  // the axis labels' line (the chart is 150 high)
                .map(t => ({text: t.textContent, ...JSON.parse(JSON.stringify(t.getBoundingClientRect()))}))"""
        )
        return svg, boxes
    finally:
        await context.close()


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}])
async def test_the_weekly_labels_do_not_overlap_and_stay_inside(chromium, viewport: dict) -> None:
    html = str(charts.trend("Weekly no-show rate", WEEKS, period="Week ending"))
    svg, boxes = await _label_boxes(chromium, html, viewport)
    labels = [b["text"] for b in boxes]
    assert labels[-1] == WEEKS[-1][0]  # the current week is always named
    assert len(labels) >= 4  # and enough others to read the axis by
    boxes.sort(key=lambda b: b["x"])
    for before, after in itertools.pairwise(boxes):
        assert before["right"] + 2 <= after["left"], (before, after)
    assert svg["left"] <= boxes[0]["left"] and boxes[-1]["right"] <= svg["right"]


def test_every_week_is_in_the_table_after_the_chart() -> None:
    html = str(charts.trend("Weekly no-show rate", [*WEEKS[:-1], (WEEKS[-1][0], None)], period="Week ending"))
    table = html[html.index("<table>") :]
    assert '<th scope="col">Week ending</th>' in table
    for label, value in WEEKS[:-1]:
        assert f'<th scope="row">{label}</th><td>{value:.1f}%</td>' in table
    assert f'<th scope="row">{WEEKS[-1][0]}</th><td>-</td>' in table


def test_labelled_thins_from_the_last_point() -> None:
    assert charts.labelled(WEEKS, step=100.0) == list(range(12))
    assert charts.labelled(WEEKS, step=27.0)[-1] == 11
    picked = charts.labelled(WEEKS, step=27.0)
    assert len({b - a for a, b in itertools.pairwise(picked)}) == 1  # evenly spaced
