"""Browser tests run only when asked for (``-m browser``, .ci/run's browser step): they need
Debian's chromium and chromedriver (scripts/setup-browser) and start a whole demo."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "browser" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="browser test: run with -m browser (scripts/test-browser)")
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(skip)
