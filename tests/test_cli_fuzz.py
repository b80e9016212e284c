"""Generated command lines (hypothesis): every one ends with status 0 or 2, no traceback, and nothing is
written except the output file it names (issue 12).

``main()`` runs in-process with captured output, in a scratch folder that holds bad market files of every
foreseeable kind; the folder is compared before and after each call.
"""

import os
from pathlib import Path

import numpy as np
import pytest
from cli_util import run
from exchange_replay import hyperliquid_positions
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import liqtools as lt

JUNK = ["0", "-1", "1", "3", "24", "0.5", "nan", "inf", "-inf", "1e-310", "1e308", "1e400", "abc", "", "99999999",
        "2026-01-01T12:00", "2030-01-01", "1990-01-01", "garbage", "NaT", "10:0.5,20:0.5", "10:abc", "-3", "1,4", "7D"]

OPTIONS = {  # option -> plausible values, mixed with JUNK
    "--bin-size": ["250", "500", "1e-9"],
    "--time": ["2024-01-02T05:00", "2024-01-03", "2026-03-01T00:00"],
    "--leverage": ["10", "5:0.5,50:0.5", "1:1", "200"],
    "--mmr": ["0.004", "0.01", "0.99"],
    "--split": ["both", "taker", "candle", "0.3"],
    "--threshold": ["1.5", "1e-300"],
    "--gap": ["2"],
    "--max-distance": ["5", "0"],
    "--top": ["2", "1"],
    "--every": ["2", "1000"],
}
COMMAND_OPTIONS = {
    "clusters": {"--format": ["table", "json", "csv"]},
    "cascade": {"--shock": ["0.02", "-0.02", "-1"], "--depth": ["1e9", "1"], "--impact": ["linear", "sqrt"], "--target": ["70000", "1"]},
    "momentum": {"--horizons": ["1,2", "100", "1,100000"], "--rearm": ["0.5"], "--lookback": ["3", "500"]},
    "report": {"--cdn": [None], "--force": [None], "-o": ["out.html", "other.html", "missing/out.html", "adir", "pipe.html"]},
    "validate": {"--realized": ["liq.csv", "empty.csv", "adir", "ragged.csv"], "--half-life": ["12", "7D", "-1"],
                 "--entry": ["typical", "path"], "--format": ["table", "csv"]},
    "fetch": {"--start": ["2024-01-01", "garbage"], "-o": ["new.parquet", "adir", "missing/x.parquet", "pipe.html"],
              "--timeframe": ["1h", "1m"], "--end": ["2024-01-02"], "--source": ["rest", "archive"], "--no-cache": [None]},
    "dashboard": {"--port": ["8123", "0", "65536"], "--no-token": [None], "--max-kernels": ["2", "0"]},
    "positions": {"--users": ["users.txt", "bad_users.txt", "empty.csv", "adir", "missing.txt"], "--leaderboard": ["3", "0", "-1"],
                  "-o": ["pos.parquet", "adir", "missing/x.parquet", "pipe.html"], "--force": [None], "--no-rate-limit": [None]},
}
DATA = ["good.csv", "good.parquet", "tiny.csv", "empty.csv", "ragged.csv", "latin1.csv", "parquet_named.csv",
        "csv_named.parquet", "adir", "missing.csv", "header_only.csv", "notime.csv", "dupes.csv", "unsorted.csv",
        "huge_oi.csv", "collapse.csv", "nan_close.csv", "strings.csv", "one_row.csv", "neg_oi.csv", "junk.parquet", "minute.csv"]
MODEL_COMMANDS = ("clusters", "cascade", "momentum", "report")
CALLS: dict[str, int] = {"n": 0}
EXAMPLES = int(os.environ.get("LIQTOOLS_FUZZ_EXAMPLES", "200"))  # more: LIQTOOLS_FUZZ_EXAMPLES=2000


def _workspace(root: Path) -> Path:
    df = lt.load_sample().iloc[:120]
    df.to_csv(root / "good.csv")
    df.to_parquet(root / "good.parquet")
    df.iloc[:3].to_csv(root / "tiny.csv")
    df.iloc[:1].to_csv(root / "one_row.csv")
    df.to_parquet(root / "parquet_named.csv")
    df.to_csv(root / "csv_named.parquet")
    df.iloc[:0].to_csv(root / "header_only.csv")
    df.reset_index(drop=True).to_csv(root / "notime.csv", index=False)
    df.iloc[[0, 0, 1, 2]].to_csv(root / "dupes.csv")
    df.iloc[::-1].to_csv(root / "unsorted.csv")
    df.assign(oi_usd=np.where(np.arange(len(df)) % 2, 1.7e308, 1e300)).to_csv(root / "huge_oi.csv")
    df.assign(oi_usd=np.where(np.arange(len(df)) % 2, 1e-300, 1e12)).to_csv(root / "collapse.csv")
    df.assign(oi_usd=-df["oi_usd"]).to_csv(root / "neg_oi.csv")
    df.assign(close=np.where(np.arange(len(df)) % 3 == 0, np.nan, df["close"])).to_csv(root / "nan_close.csv")
    df.astype({"close": str}).assign(close="n/a").to_csv(root / "strings.csv")
    minute = df.copy()
    minute.index = minute.index[0] + (minute.index - minute.index[0]) / 60  # 1-minute candles
    minute.to_csv(root / "minute.csv")
    (root / "empty.csv").write_bytes(b"")
    (root / "ragged.csv").write_bytes(b"time,open,high,low,close,oi_usd\n2024-01-01,1,2,0.5,1,5\n2024-01-02,1,2,0.5,1,5,6\n")
    (root / "latin1.csv").write_bytes("time,open\n2024-01-01,\xe9\n".encode("latin-1"))
    (root / "junk.parquet").write_bytes(b"PAR1 but then nothing")
    lt.data.load_sample_liquidations().to_csv(root / "liq.csv")
    _, fixture = hyperliquid_positions()
    (root / "users.txt").write_text("# recorded accounts\n" + "\n".join(fixture["accounts"]) + "\n")
    (root / "bad_users.txt").write_text(next(iter(fixture["accounts"])) + "\n0xnot-an-address\n")
    (root / "adir").mkdir()
    os.mkfifo(root / "pipe.html")
    return root


def _tree(root: Path) -> dict[str, tuple]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st_ = p.lstat()
            out[str(p.relative_to(root))] = (st_.st_mode, st_.st_size, st_.st_mtime_ns)
    return out


@st.composite
def invocations(draw):
    command = draw(st.sampled_from(sorted(COMMAND_OPTIONS)))
    options = dict(COMMAND_OPTIONS[command])
    if command in MODEL_COMMANDS:
        options |= OPTIONS
    if command in MODEL_COMMANDS or command == "validate":
        options["--data"] = DATA
    argv = [command]
    names = draw(st.lists(st.sampled_from(sorted(options)), max_size=4, unique=True))
    if "--data" in options and "--data" not in names and draw(st.integers(0, 3)) > 0:
        names.append("--data")  # most cases read a file: the bad ones are the point
    for name in names:
        choices = options[name]
        if choices == [None]:
            argv.append(name)
            continue
        junk = JUNK if name not in ("--data", "--realized", "-o") else ["", "adir/", "/nonexistent/x.csv"]
        pool = junk if draw(st.integers(0, 3)) == 0 else choices  # a quarter junk, the rest plausible
        argv += [name, draw(st.sampled_from(pool))]
    if command == "fetch":
        argv[1:1] = [draw(st.sampled_from(["binanceusdm", "bybit"])), "BTC/USDT:USDT"]
        for name, value in (("--start", "2024-01-01"), ("-o", "new.parquet")):
            if name not in argv:
                argv += [name, value]
    if command == "positions":
        argv[1:1] = [draw(st.sampled_from(["hyperliquid", "nosuchvenue"])), draw(st.sampled_from(["BTC/USDC:USDC", "DOGE/USDC:USDC", "junk"]))]
        argv += ["--no-cache", "--no-progress"]  # the cache is tested on its own; here nothing may be written but -o
        if "--users" not in argv and "--leaderboard" not in argv and draw(st.integers(0, 3)) > 0:
            argv += ["--users", "users.txt"]
        if "-o" not in argv:
            argv += ["-o", "pos.parquet"]
    if command == "report" and "-o" not in argv:
        argv += ["-o", "out.html"]  # never the default name outside the scratch folder's knowledge
    if command == "momentum" and "--data" not in argv:
        argv += ["--data", "good.csv"]  # the full sample's event study is slow; the options are what vary
    return (["--debug"] if draw(st.booleans()) else []) + argv


class _ExitedServer:
    returncode = 1

    def poll(self):
        return 1

    def wait(self, timeout=None):
        return 1

    def terminate(self):
        pass

    kill = terminate


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return _workspace(tmp_path_factory.mktemp("fuzz"))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(argv=invocations())
def test_generated_command_lines(argv, workspace, monkeypatch):
    import liqtools.app
    import liqtools.data.exchange

    # the dashboard would serve until interrupted: in its place, a Voila that exits at once
    monkeypatch.setattr(liqtools.app, "_start_voila", lambda *a, **k: _ExitedServer())
    monkeypatch.setattr(liqtools.data.exchange, "fetch_market_data", lambda *a, **k: lt.load_sample().iloc[:10])  # no network
    import liqtools.data.exchange.positions as positions_mod

    real_instance = positions_mod._instance
    info, fixture = hyperliquid_positions()  # the recorded accounts, through ccxt's real parsing: no network
    monkeypatch.setattr(positions_mod, "_instance", lambda ex, rl: info.ex(fixture["markets"]) if ex == "hyperliquid" else real_instance(ex, rl))
    monkeypatch.chdir(workspace)
    monkeypatch.setenv("LIQTOOLS_CACHE_DIR", str(workspace / "cache"))
    before = _tree(workspace)
    status, _, err = run(argv)
    CALLS["n"] += 1
    kind = "usage" if status == 2 and "(see liqtools" in err else status
    key = f"{argv[1] if argv[0] == '--debug' else argv[0]} -> {kind}"
    CALLS[key] = CALLS.get(key, 0) + 1
    assert status in (0, 2), (argv, err)
    assert "Traceback" not in err, (argv, err)
    after = _tree(workspace)
    target = argv[argv.index("-o") + 1] if "-o" in argv else None
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    allowed = {os.path.normpath(target)} if target and status == 0 else set()
    assert changed <= allowed, (argv, changed)


def test_report_the_number_of_cases():
    """Prints how many command lines the property test ran (run with -s to see it)."""
    print(f"\ngenerated CLI cases run: {CALLS['n']}")
    for key in sorted(k for k in CALLS if k != "n"):
        print(f"  {key}: {CALLS[key]}")
