"""How the compiled loops run: on two threads from a million levels on (or one, as Dask's workers ask),
with work that needs neither side on the thread done first, and compiled anew where numba cannot cache."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"near_cut": (0.01, 0.3), "half_life_mix": [(0.5, "6h"), (0.5, None)]},
        {"split": "candle", "leverage": {2: 0.0, 10: 0.6, 125: 0.4}},  # levels without notional left out
    ],
)
def test_two_threads_give_the_same_heatmap_as_one(monkeypatch, options):
    # large inputs make and search each side's levels (the closing logs on the thread done first), then the
    # picture beside the per-candle sums, on two threads
    from liqtools import liquidation_heatmap, load_sample
    from liqtools.analysis import _numeric

    df = load_sample()
    one = liquidation_heatmap(df, **options)
    pools = []

    class Counted(_numeric.ThreadPoolExecutor):
        def __init__(self, *args, **kwargs):
            pools.append(self)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(_numeric, "ThreadPoolExecutor", Counted)
    monkeypatch.setattr(_numeric, "PARALLEL_LEVELS", 0)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    two = liquidation_heatmap(df, **options)
    assert len(pools) == 2  # the searches, then the picture beside the per-candle sums
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # a Dask worker's setting: one thread, the cluster has the cores
    liquidation_heatmap(df, **options)
    assert len(pools) == 2
    assert np.array_equal(one.long, two.long) and np.array_equal(one.short, two.short)
    assert one.liquidated.equals(two.liquidated) and one.flows.equals(two.flows)
    for name in ("created", "consumed", "end", "price", "notional", "is_long"):
        assert np.array_equal(getattr(one._levels, name), getattr(two._levels, name)), name
    assert len(one._levels.price) < 2 * len(df) * len(one.profile) or not options.get("leverage")


def test_spare_work_runs_once_on_the_thread_done_first(monkeypatch):
    import threading
    import time

    from liqtools.analysis import _numeric

    monkeypatch.setattr(_numeric, "PARALLEL_LEVELS", 0)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    log = []

    def call(name, wait):
        def run():
            time.sleep(wait)
            log.append(name)
            return name

        return run

    def spare():
        log.append("spare")
        return threading.current_thread().name

    # the second call ends first: its thread takes the spare work while the first still sleeps
    out = _numeric.in_parallel(0, call("slow", 0.3), call("quick", 0.0), spare=spare)
    assert out[:2] == ["slow", "quick"] and out[2].startswith("liqtools") and log == ["quick", "spare", "slow"]
    log.clear()
    out = _numeric.in_parallel(0, call("quick", 0.0), call("slow", 0.3), spare=spare)
    assert out[2] == threading.current_thread().name and log == ["quick", "spare", "slow"]
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # one thread: after the first call, before the second
    log.clear()
    assert _numeric.in_parallel(0, call("a", 0.0), call("b", 0.0), spare=spare)[:2] == ["a", "b"] and log == ["a", "spare", "b"]

    def broken():
        raise ValueError("spare failed")

    with pytest.raises(ValueError, match="spare failed"):
        _numeric.in_parallel(0, call("a", 0.0), call("b", 0.0), spare=broken)


def test_kernels_compile_without_a_writable_cache(monkeypatch):
    # numba refuses cache=True where it finds nowhere to write: the loops then compile in each process
    import numba

    from liqtools import _jit

    real = numba.njit

    def no_cache(*args, **kwargs):
        if kwargs.get("cache"):
            raise RuntimeError("cannot cache function 'f': no locator available for file 'f.py'")
        return real(*args, **kwargs)

    monkeypatch.setattr(numba, "njit", no_cache)
    twice = _jit.jit(lambda x: 2 * x)
    assert twice(21) == 42
