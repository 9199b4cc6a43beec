"""The report's HTML asks no other host: hil takes out the Google Analytics call the pinned Allure template writes
into every report (plugin-awesome's generators.js), and deletes a report whose call it cannot find to take out."""

import re
from pathlib import Path

import pytest

from hil.evidence.report import ReportError, _take_out_analytics

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "node_modules" / "@allurereport" / "plugin-awesome" / "dist" / "generators.js"


def _analytics_block() -> str:
    """The template's analytics, as the pinned CLI renders it (its handlebars values filled in)."""
    block = re.search(r"\{\{#if analyticsEnable\}\}(.*?)\{\{/if\}\}", TEMPLATE.read_text(), re.DOTALL)
    assert block, f"{TEMPLATE}: no analytics block (the template changed: see hil.evidence.report.ANALYTICS)"
    return re.sub(r"\{\{\s*\w+\s*\}\}", "x", block.group(1))


def test_the_pinned_templates_analytics_are_taken_out_and_nothing_else(tmp_path):
    page = f"<html><body><div id=\"app\"></div>{_analytics_block()}<script>window.allureReportData = {{}}</script>" \
           "</body></html>"
    index = tmp_path / "index.html"
    index.write_text(page, encoding="utf-8")
    _take_out_analytics(index)
    cut = index.read_text(encoding="utf-8")
    assert "googletagmanager" not in cut and "gtag(" not in cut and "dataLayer" not in cut
    assert cut.startswith('<html><body><div id="app"></div>') and "window.allureReportData = {}" in cut


def test_a_call_in_another_form_deletes_the_report_with_one_line(tmp_path):
    index = tmp_path / "index.html"
    index.write_text('<script src="https://www.googletagmanager.com/gtag/js?id=G-1" async></script>', encoding="utf-8")
    with pytest.raises(ReportError, match="calls Google Analytics in a form hil cannot take out"):
        _take_out_analytics(index)
    assert not index.exists()
