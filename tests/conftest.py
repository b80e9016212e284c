import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).parent))

settings.register_profile("ci", derandomize=True, max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")

DEFAULT_WEIGHTS = {5.0: 0.10, 10.0: 0.25, 25.0: 0.30, 50.0: 0.20, 100.0: 0.15}


def random_market(n: int, seed: int, *, vol: float = 0.02, oi_vol: float = 0.05, nan_share: float = 0.1, mark: bool = False) -> pd.DataFrame:
    """A random market frame in the schema: log-random-walk prices, random OI with gaps."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, vol, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, vol / 2, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, vol / 2, n)))
    oi = 1e6 * np.exp(np.cumsum(rng.normal(0, oi_vol, n)))
    oi[rng.random(n) < nan_share] = np.nan
    volume = rng.uniform(0, 10, n)
    volume[rng.random(n) < 0.05] = 0.0
    df = pd.DataFrame(
        {
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": volume,
            "taker_buy_volume": volume * rng.random(n),
            "oi_usd": oi,
        },
        index=pd.date_range("2026-01-01", periods=n, freq="h", tz="UTC"),
    )
    if mark:
        basis = np.exp(rng.normal(0, vol / 4, n))
        df["mark_high"] = high * basis
        df["mark_low"] = low * basis
        df["mark_close"] = np.clip(close * basis, df["mark_low"], df["mark_high"])
    return df


@pytest.fixture
def market() -> pd.DataFrame:
    return random_market(300, seed=7)


# -- browser tests: one Chromium and one served dashboard per module that asks for them -------------------
@pytest.fixture(scope="module")
def chromium():
    from browser_util import browser

    with browser() as b:
        yield b


@pytest.fixture(scope="module")
def dashboard_page(chromium):
    """notebooks/dashboard.ipynb served by Voila and open in Chromium: ``(page, errors)`` (console and page errors)."""
    from browser_util import ARTIFACTS, ROOT, first_plot_visible, open_page, voila_server

    errors: list[str] = []
    with voila_server(ROOT / "notebooks" / "dashboard.ipynb", ARTIFACTS / "voila.log") as url:
        page = open_page(chromium, url, errors)
        first_plot_visible(page, timeout_ms=180_000)
        page.locator(".noUi-handle").first.wait_for(timeout=60_000)
        yield page, errors
        page.close()
