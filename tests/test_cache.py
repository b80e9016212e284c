"""The disk cache: coverage arithmetic, atomic files, crash and Ctrl-C safety, two processes at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from liqtools.data.cache import SeriesCache, cache_root, merge_ranges, missing_ranges
from liqtools.errors import CacheError

TESTS = Path(__file__).parent


def frame(ts, value):
    ts = np.asarray(ts, dtype=np.int64)
    return pd.DataFrame({"timestamp": ts, "close": np.full(len(ts), float(value))})


# -- coverage arithmetic -----------------------------------------------------------------------------

ranges = st.lists(st.tuples(st.integers(0, 200), st.integers(0, 60)).map(lambda t: (t[0], t[0] + t[1])), max_size=8)


@given(ranges, st.integers(0, 250), st.integers(0, 80))
def test_missing_ranges_complement_the_covered_ones(covered, first, length):
    last = first + length
    gaps = missing_ranges(covered, first, last)
    want = {x for x in range(first, last + 1)} - {x for a, b in covered for x in range(a, b + 1)}
    got = {x for a, b in gaps for x in range(a, b + 1)}
    assert got == want
    assert gaps == merge_ranges(gaps)  # sorted, disjoint, not touching


def test_cache_root_comes_from_argument_env_or_user_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("LIQTOOLS_CACHE_DIR", str(tmp_path / "env"))
    assert cache_root() == tmp_path / "env"
    assert cache_root(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("LIQTOOLS_CACHE_DIR")
    assert "liqtools" in str(cache_root())


# -- files -------------------------------------------------------------------------------------------


def test_append_read_compact_roundtrip(tmp_path):
    c = SeriesCache(tmp_path, "bybit", "BTC/USDT:USDT", "1h", "ohlcv")
    c.append(frame([0, 1, 2, 3], 1.0), [(0, 3)])
    c.append(frame([3, 4, 2], 2.0), [(2, 4)])  # overlapping and out of order: later rows win
    c.append(frame([], 0.0), [(5, 9)])  # an answered range without rows
    rows, covered = c.read()
    assert rows["timestamp"].tolist() == [0, 1, 2, 3, 4]
    assert rows["close"].tolist() == [1.0, 1.0, 2.0, 2.0, 2.0]
    assert covered == [(0, 9)]
    (c.path / ".tmp-leftover.parquet").write_bytes(b"half a file")
    c.compact()
    names = sorted(p.name for p in c.path.iterdir())
    assert len([n for n in names if n.startswith("data-")]) == 1
    assert not [n for n in names if n.startswith(("part-", ".tmp-"))]
    rows2, covered2 = c.read()
    pd.testing.assert_frame_equal(rows, rows2)
    assert covered2 == covered
    assert c.path == tmp_path / "bybit" / "BTC_USDT_USDT" / "1h" / "ohlcv"


def test_ctrl_c_while_writing_leaves_no_file(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    c = SeriesCache(tmp_path, "okx", "BTC/USDT:USDT", "1h", "ohlcv")
    c.append(frame([0, 1], 1.0), [(0, 1)])
    real = pq.write_table

    def interrupted(table, where, **kw):
        where.write(b"PAR1 partial bytes")
        raise KeyboardInterrupt

    monkeypatch.setattr(pq, "write_table", interrupted)
    with pytest.raises(KeyboardInterrupt):
        c.append(frame([2, 3], 2.0), [(2, 3)])
    monkeypatch.setattr(pq, "write_table", real)
    assert not list(c.path.glob(".tmp-*"))
    rows, covered = c.read()
    assert rows["timestamp"].tolist() == [0, 1] and covered == [(0, 1)]


def test_a_corrupt_file_is_named(tmp_path):
    c = SeriesCache(tmp_path, "okx", "BTC/USDT:USDT", "1h", "ohlcv")
    c.append(frame([0, 1], 1.0), [(0, 1)])
    bad = c.path / "part-00000000000000000001-abcdefabcdef.parquet"
    bad.write_bytes(b"not parquet")
    with pytest.raises(CacheError, match="unreadable cache file .*part-00000000000000000001"):
        c.read()


WRITER = textwrap.dedent(
    """
    import os, sys, time, numpy as np, pandas as pd
    from liqtools.data.cache import SeriesCache
    _fsync = os.fsync
    def slow_fsync(fd):  # a slow disk: the temporary file sits half-way for a while
        print("fsync", flush=True)
        time.sleep(0.3)
        _fsync(fd)
    os.fsync = slow_fsync
    c = SeriesCache(sys.argv[1], "binanceusdm", "BTC/USDT:USDT", "1m", "ohlcv")
    n = 200_000
    k = 0
    print("ready", flush=True)
    while True:
        print("writing", k, flush=True)
        ts = np.arange(k * n, (k + 1) * n, dtype=np.int64)
        c.append(pd.DataFrame({"timestamp": ts, "close": np.full(n, float(k))}), [(k * n, (k + 1) * n - 1)])
        k += 1
        if k % 3 == 0:
            c.compact()
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_process_killed_while_writing_leaves_no_corrupt_file(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    root = tmp_path / "cache"
    rng = np.random.default_rng(0)
    torn = 0
    for round_ in range(3):
        proc = subprocess.Popen([sys.executable, str(script), str(root)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        syncs = 0
        while syncs < 2 + round_:  # let a few files land, then kill in the middle of the next write
            syncs += proc.stdout.readline().strip() == "fsync"
        time.sleep(float(rng.uniform(0.0, 0.05)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        c = SeriesCache(root, "binanceusdm", "BTC/USDT:USDT", "1m", "ohlcv")
        torn += len(list(c.path.glob(".tmp-*")))  # a write cut short stays a temporary file
        rows, covered = c.read()  # every file present is whole
        ts = rows["timestamp"].to_numpy()
        # the rows are exactly the covered ranges, each written in full with its own value
        assert sum(b - a + 1 for a, b in covered) == len(ts)
        assert np.all(rows["close"].to_numpy() == ts // 200_000)
    assert torn >= 1, "no kill landed inside a write: the test did not test anything"
    c.compact()
    assert not list(c.path.glob(".tmp-*"))
    assert len(list(c.path.glob("*.parquet"))) == 1


HOLDER = textwrap.dedent(
    """
    import sys, time
    from filelock import FileLock
    with FileLock(sys.argv[1]):
        print("held", flush=True)
        time.sleep(30)
    """
)


def test_lock_timeout_is_a_clear_error(tmp_path):
    c = SeriesCache(tmp_path, "okx", "BTC/USDT:USDT", "1h", "ohlcv")
    c.path.mkdir(parents=True)
    script = tmp_path / "holder.py"
    script.write_text(HOLDER)
    proc = subprocess.Popen([sys.executable, str(script), str(c.path / ".lock")], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(CacheError, match="locked by another process"), c.lock(timeout=0.2):
            pass
    finally:
        proc.kill()
        proc.wait()
    with c.lock(timeout=5):  # released when the holder died
        pass


FETCHER = textwrap.dedent(
    """
    import json, sys, time
    sys.path.insert(0, sys.argv[2])
    from exchange_replay import H, History, SimVenue
    import liqtools.data.exchange as m
    m.FLUSH_SECONDS = 0.0
    m._now_ms = lambda: 1735689600000
    T0 = 1709251200000
    venue = SimVenue("bybit", History(T0, 2100, seed=21))
    slow = venue.replay.routes
    for key, handler in list(slow.items()):
        slow[key] = (lambda h: (lambda q: (time.sleep(0.02), h(q))[1]))(handler)
    rows = m.fetch_series(venue.ex(), "BTC/USDT:USDT", "ohlcv", "1h", start=T0, end=T0 + 2000 * H,
                          cache_dir=sys.argv[1], progress=False)
    print(json.dumps({"calls": len(venue.calls), "n": len(rows), "sum": float(rows["close"].sum())}))
    """
)


def test_two_processes_fetching_the_same_series_take_turns(tmp_path):
    script = tmp_path / "fetcher.py"
    script.write_text(FETCHER)
    root = tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS.parent), os.environ.get("PYTHONPATH", "")])}
    procs = [subprocess.Popen([sys.executable, str(script), str(root), str(TESTS)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert results[0]["n"] == results[1]["n"] == 2000
    assert results[0]["sum"] == results[1]["sum"]
    # one of them fetched (2 pages of 1000), the other found everything in the cache
    assert sorted(r["calls"] for r in results) == [0, 2]


# -- gaps the exchange really has (issue 12) -----------------------------------------------------------


def test_gaps_are_kept_with_their_reason_through_compaction(tmp_path):
    c = SeriesCache(tmp_path, "bybit", "BTC/USDT:USDT", "1h", "ohlcv")
    c.append(frame([0, 1, 4], 1.0), [(0, 4)], [(2, 3, "the exchange returned no rows here on two requests")])
    c.append(frame([5], 1.0), [(5, 9)], [(6, 9, "the exchange returned no rows here on two requests"), (5, 5, "x")])
    c.append(frame([], 0.0), [(10, 12)], [(10, 12, "before the listing")])
    want = [(2, 3, "the exchange returned no rows here on two requests"), (5, 5, "x"),
            (6, 9, "the exchange returned no rows here on two requests"), (10, 12, "before the listing")]
    assert c.read_gaps() == want
    c.compact()
    assert len(list(c.path.glob("*.parquet"))) == 1
    assert c.read_gaps() == want and c.read()[1] == [(0, 12)]


def test_a_gap_outside_the_ranges_written_with_it_is_refused(tmp_path):
    c = SeriesCache(tmp_path, "bybit", "BTC/USDT:USDT", "1h", "ohlcv")
    with pytest.raises(CacheError, match="outside the ranges"):
        c.append(frame([0], 1.0), [(0, 4)], [(3, 7, "maintenance")])
    assert c.read()[1] == [] and c.read_gaps() == []
