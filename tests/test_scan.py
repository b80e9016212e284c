"""liqtools.scan (issue 14): jobs checked up front, failures recorded per job, the same rows in-process and on a
2-process Dask LocalCluster, data through the disk cache (fetched once, resumed after a killed worker).

No network: exchange jobs answer from simulated venues (tests/scan_util.py, on top of exchange_replay.py).
One cluster serves the module; each test that changes the workers' exchange switches removes its plugin.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import dask
import pandas as pd
import pytest
from dask.distributed import Client
from distributed.utils_test import captured_logger
from scan_util import HOURS, OfflineExchanges, exchange_job, offline_hooks, requests

import liqtools as lt
import liqtools.data.exchange as exchange_mod
from liqtools.cli import main
from liqtools.errors import DataError
from liqtools.scale import generated_market, local_cluster, write_universe
from liqtools.scale.tasks import clusters_task


@pytest.fixture(scope="module")
def client():
    # one death of a worker is retried (the resume test); a second makes the task fail (KilledWorker)
    with (dask.config.set({"distributed.scheduler.allowed-failures": 1}),
          local_cluster(2, dashboard_address=None) as cluster, Client(cluster) as c):
        yield c


@pytest.fixture(scope="module")
def universe(tmp_path_factory):
    """Four small generated markets as files, a missing file, a file that is not a market, and a sample."""
    folder = tmp_path_factory.mktemp("universe")
    jobs = write_universe(folder, 4, days=3, freq="5min")
    (folder / "junk.csv").write_text("not,a\nmarket,file\n")
    extra = pd.DataFrame({"path": [str(folder / "missing.parquet"), str(folder / "junk.csv"), None],
                          "sample": [None, None, "sol-2024"]})
    return pd.concat([jobs, extra], ignore_index=True)


def _offline(monkeypatch, log, **options):
    for key, value in offline_hooks(str(log), **options).items():
        monkeypatch.setattr(exchange_mod, key, value)


@pytest.fixture
def offline_workers(client, tmp_path):
    """Install the offline venues on the cluster's workers (and take them away after the test)."""
    installed = []

    def install(**options):
        log = tmp_path / f"requests-{uuid.uuid4().hex[:6]}.log"
        plugin = OfflineExchanges(str(log), **options)
        client.register_plugin(plugin)
        installed.append(plugin)
        return log

    yield install
    for plugin in installed:
        client.unregister_worker_plugin(plugin.name)


# -- the API and its refusals ------------------------------------------------------------------------


def test_importing_liqtools_does_not_import_dask():
    code = "import sys, liqtools; print(sorted(m for m in ('dask', 'distributed') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
    assert callable(lt.scan) and "scan" in lt.__all__


@pytest.mark.parametrize(
    ("jobs", "task", "message"),
    [
        ([{"sample": "btc"}], "cluster", "unknown task 'cluster'"),
        ([{"sample": "btc"}], 42, "task must be one of"),
        (pd.DataFrame({"symbol": ["BTC"]}), "clusters", "none of the columns that name a market's data"),
        ([], "clusters", "jobs is empty"),
        ("jobs.csv", "clusters", "jobs must be a DataFrame"),
        ([{"sample": "btc"}, {"path": None}], "clusters", "job 1 names no data"),
        ([{"sample": "btc", "path": "x.parquet"}], "clusters", "job 0 names path and sample"),
        ([{"exchange": "bybit", "symbol": "BTC/USDT:USDT", "start": "2024-01-01"}], "clusters", "job 0: an exchange job needs timeframe"),
        ([("bybit", "BTC/USDT:USDT", "1x", "2024-01-01")], "clusters", "job 0: timeframe must look like"),
        ([("bybit", "BTC/USDT:USDT", "1h", "yesterday-ish")], "clusters", "job 0: start must be a date/time"),
        ([("bybit", "BTC/USDT:USDT", "1h", "2024-02-01", "2024-01-01")], "clusters", "job 0: end .* is not after start"),
        ([{"sample": "doge"}], "clusters", "unknown sample 'doge'"),
        ([{"sample": "btc", "timeframe": "1h"}], "clusters", "timeframe belongs to exchange jobs only"),
        ([{"path": 3}], "clusters", "path must be a file name"),
        ([{"sample": "btc", "status": "x"}], "clusters", "may not have a column 'status'"),
        ([("bybit",)], "clusters", "job 0: expected a dict or an"),
    ],
)
def test_bad_input_is_one_clear_data_error(jobs, task, message):
    with pytest.raises(DataError, match=message):
        lt.scan(jobs, task, client="serial")


def test_a_bad_client_is_refused():
    with pytest.raises(DataError, match="client must be None, 'serial'"):
        lt.scan([{"sample": "btc"}], "clusters", client=3)


def test_failures_are_recorded_and_never_stop_the_scan(universe):
    res = lt.scan(universe, "clusters", client="serial")
    per_job = res.drop_duplicates("job").set_index("job")
    assert per_job["status"].tolist() == ["ok"] * 4 + ["error", "error", "ok"]
    assert per_job.loc[4, "error"].startswith("DataError: ") and "missing.parquet does not exist" in per_job.loc[4, "error"]
    assert per_job.loc[5, "error"].startswith("DataError: ") and "junk.csv" in per_job.loc[5, "error"]
    assert per_job["market"].tolist() == ["gen-0", "gen-1", "gen-2", "gen-3", "missing", "junk", "sol-2024"]
    assert per_job.loc[per_job["status"] == "ok", "error"].isna().all()
    # a good job's rows are the clusters of its market, exactly
    own = clusters_task(lt.data.read_market(universe.loc[1, "path"]))
    got = res[res["job"] == 1][list(own.columns)].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, own)
    assert list(res.columns[:5]) == ["job", "market", "path", "sample", "status"]
    assert res.attrs["task"] == "clusters" and res.attrs["runner"] == "serial"


def test_a_user_function_gives_rows_a_row_or_a_value():
    def trouble(df):
        if df["close"].iloc[-1] > 1000:
            raise RuntimeError("too dear")
        return {"last": df["close"].iloc[-1], "n": len(df)}

    jobs = [{"sample": "btc"}, {"sample": "eth-2024"}, {"sample": "sol-2024"}]
    res = lt.scan(jobs, trouble, client="serial")
    assert res["status"].tolist() == ["error", "error", "ok"]
    assert res.loc[0, "error"] == "RuntimeError: too dear"
    assert res.loc[2, "n"] == 1463
    value = lt.scan(jobs[:1], lambda df, k: len(df) * k, client="serial", options={"k": 2})
    assert value["value"].tolist() == [4224]
    rows = lt.scan(jobs[:2], lambda df: df.tail(2)[["close"]], client="serial")
    assert rows["market"].tolist() == ["btc", "btc", "eth-2024", "eth-2024"] and "time" in rows.columns
    empty = lt.scan(jobs[:1], lambda df: df.iloc[:0], client="serial")
    assert empty["status"].tolist() == ["ok"]


def test_heatmap_summary_and_benchmark_tasks(tmp_path):
    summary = lt.scan([{"sample": "btc"}, {"sample": "eth-2024"}], "heatmap-summary", client="serial")
    assert summary["candles"].tolist() == [2112, 1465]
    assert (summary["nearest_pct"].abs() <= 25).all() and set(summary["nearest_side"]) <= {"long", "short"}
    path = tmp_path / "eth.parquet"
    lt.load_sample("eth-2024").to_parquet(path)
    jobs = [{"sample": "eth-2024"}, {"path": str(path)}]
    bench = lt.scan(jobs, "benchmark", client="serial", options={"methods": ["default"], "folds": 4})
    assert bench.loc[bench["job"] == 0, "method"].tolist() == ["range", "default", "range", "default"]
    assert bench.loc[bench["job"] == 1, "error"].item().startswith("DataError: the benchmark needs realized liquidations")


# -- on a 2-process LocalCluster --------------------------------------------------------------------------


def test_cluster_results_equal_the_serial_run_exactly(client, universe):
    for task in ("clusters", "heatmap-summary"):
        serial = lt.scan(universe, task, client="serial")
        on_dask = lt.scan(universe, task, client=client)
        pd.testing.assert_frame_equal(on_dask, serial)
    by_address = lt.scan(universe.iloc[:2], "clusters", client=client.scheduler.address)
    pd.testing.assert_frame_equal(by_address, lt.scan(universe.iloc[:2], "clusters", client="serial"))
    assert by_address.attrs["runner"] == client.scheduler.address


def test_a_function_that_kills_its_worker_once_is_resumed(client, universe, tmp_path):
    marker = tmp_path / "killed"

    def dies_once(df, marker=str(marker)):
        import os

        if len(df) == 864 and not os.path.exists(marker):  # the first generated market, first attempt
            open(marker, "w").close()
            os._exit(1)
        return {"last": float(df["close"].iloc[-1])}

    jobs = universe.iloc[:4]
    with captured_logger("distributed.nanny", level=50):
        res = lt.scan(jobs, dies_once, client=client)
    assert marker.exists()
    pd.testing.assert_frame_equal(res, lt.scan(jobs, dies_once, client="serial"))
    assert (res["status"] == "ok").all()


def test_a_job_that_keeps_killing_workers_is_one_failed_row(client, universe):
    def always_dies(df):
        import os

        if len(df) == 864 and df["close"].iloc[0] == first:
            os._exit(1)
        return len(df)

    first = float(lt.data.read_market(universe.loc[0, "path"])["close"].iloc[0])
    with captured_logger("distributed.nanny", level=50), captured_logger("distributed.scheduler", level=50):
        res = lt.scan(universe.iloc[:3], always_dies, client=client)
    assert res["status"].tolist() == ["error", "ok", "ok"]
    assert res.loc[0, "error"].startswith("KilledWorker")


def test_jobs_in_chunks_give_the_same_rows_and_a_killing_job_fails_alone(client, universe, monkeypatch):
    import liqtools.scale.run as run_mod

    assert [run_mod.chunk_size(n, 2) for n in (4, 31, 32, 200, 10_000)] == [1, 1, 2, 12, 16]

    class NoWorkersYet:
        def scheduler_info(self):
            return {"workers": {}}

    assert run_mod.chunk_size(200, run_mod._threads(NoWorkersYet())) == 1  # however many join later
    monkeypatch.setattr(run_mod, "CHUNKS_PER_THREAD", 1)  # 7 jobs on 2 threads: chunks of 3, 3 and 1
    client.wait_for_workers(2)  # an earlier test's killed worker is back
    profiling = client.run(lambda: __import__("dask").config.get("distributed.worker.profile.enabled"))
    assert list(profiling.values()) == [False, False]  # local_cluster turns Dask's sampling profiler off
    # and its workers, restarted ones included, load the compiled loops when they start (nothing else imports this)
    loaded = client.run(lambda: "liqtools.scale.preload" in __import__("sys").modules)
    assert list(loaded.values()) == [True, True]
    assert run_mod.chunk_size(len(universe), 2) == 3
    seen = []
    res = lt.scan(universe, "heatmap-summary", client=client, progress=lambda done, total: seen.append((done, total)))
    pd.testing.assert_frame_equal(res, lt.scan(universe, "heatmap-summary", client="serial"))
    assert len(seen) == 3 and seen[-1] == (7, 7)  # one report per chunk, every job counted

    first = float(lt.data.read_market(universe.loc[0, "path"])["close"].iloc[0])

    def always_dies(df):
        import os

        if len(df) == 864 and df["close"].iloc[0] == first:
            os._exit(1)
        return len(df)

    with captured_logger("distributed.nanny", level=50), captured_logger("distributed.scheduler", level=50):
        res = lt.scan(universe.iloc[:4], always_dies, client=client)  # chunks of 2: job 1 dies with job 0
    assert res["status"].tolist() == ["error", "ok", "ok", "ok"]
    assert res.loc[0, "error"].startswith("KilledWorker") and res["value"].iloc[1:].tolist() == [864] * 3


def test_exchange_jobs_fetch_each_series_once_even_concurrently(client, offline_workers, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    log = offline_workers(delay=0.01)
    jobs = [exchange_job(market="a"), exchange_job(market="b"), exchange_job(symbol="NOPE/USDT:USDT")]
    res = lt.scan(jobs, "clusters", client=client, cache_dir=cache)
    per_job = res.drop_duplicates("job")
    assert per_job["status"].tolist() == ["ok", "ok", "error"]
    assert "NOPE/USDT:USDT" in per_job["error"].iloc[2]
    done = requests(str(log))
    # the reference: the same job in this process, with a cold cache of its own
    serial_log = tmp_path / "serial.log"
    _offline(monkeypatch, serial_log)
    serial = lt.scan(jobs, "clusters", client="serial", cache_dir=tmp_path / "cold")
    pd.testing.assert_frame_equal(res, serial)
    once = [p for _, p in requests(str(serial_log))]
    assert sorted(p for _, p in done) == sorted(once)  # both workers' requests together: one fetch's worth
    # a rerun fetches nothing; a longer window only what is missing
    log2 = tmp_path / "rerun.log"
    _offline(monkeypatch, log2)
    again = lt.scan(jobs, "clusters", client="serial", cache_dir=cache)
    pd.testing.assert_frame_equal(again, res)
    assert requests(str(log2)) == []
    longer = lt.scan([exchange_job(HOURS + 24)], "heatmap-summary", client="serial", cache_dir=cache)
    assert longer["candles"].item() == HOURS + 24 and 0 < len(requests(str(log2))) <= 4


def test_a_worker_killed_mid_fetch_is_resumed_from_the_cache(client, offline_workers, tmp_path, monkeypatch):
    marker = tmp_path / "killed"
    log = offline_workers(kill_marker=str(marker), kill_after=1)
    cache = tmp_path / "cache"
    with captured_logger("distributed.nanny", level=50):
        res = lt.scan([exchange_job()], "clusters", client=client, cache_dir=cache)
    assert marker.exists() and (res["status"] == "ok").all()
    pids = {pid for pid, _ in requests(str(log))}
    assert len(pids) == 2  # the killed worker, then the one that resumed
    serial_log = tmp_path / "serial.log"
    _offline(monkeypatch, serial_log)
    pd.testing.assert_frame_equal(res, lt.scan([exchange_job()], "clusters", client="serial", cache_dir=tmp_path / "cold"))
    # the resumed job asked only for what the killed one had not cached: one fetch's requests, plus the page in flight
    assert len(requests(str(log))) == len(requests(str(serial_log))) + 1


def test_local_cluster_takes_threads_and_a_config_of_its_own():
    with local_cluster(1, processes=False, dashboard_address=None) as cluster, Client(cluster) as c:
        assert lt.scan([{"sample": "btc"}], "heatmap-summary", client=c)["status"].tolist() == ["ok"]
    with (local_cluster(1, dashboard_address=None, config={"distributed.worker.profile.enabled": True}) as cluster,
          Client(cluster) as c):  # the caller's config wins over the cluster's default
        assert list(c.run(lambda: __import__("dask").config.get("distributed.worker.profile.enabled")).values()) == [True]


def test_client_none_starts_and_closes_a_local_cluster():
    res = lt.scan([{"sample": "btc"}], "heatmap-summary")
    assert res["status"].tolist() == ["ok"] and res.attrs["runner"].startswith("tcp://")


# -- the command line --------------------------------------------------------------------------------


def test_cli_scan_writes_one_table_and_refuses_bad_input(client, universe, tmp_path, capsys):
    jobs = tmp_path / "jobs.csv"
    universe.to_csv(jobs, index=False)
    out = tmp_path / "r.parquet"
    assert main(["scan", "--jobs", str(jobs), "--task", "clusters", "--scheduler", client.scheduler.address, "-o", str(out),
                 "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "7 jobs: 5 ok, 2 failed" in text and "missing.parquet does not exist" in text
    written = pd.read_parquet(out)
    serial = lt.scan(pd.read_csv(jobs), "clusters", client="serial")
    assert written["job"].tolist() == serial["job"].tolist()
    pd.testing.assert_series_equal(written["notional_usd"], serial["notional_usd"])
    # refusals: one line, status 2
    assert main(["scan", "--jobs", str(jobs), "-o", str(out), "--serial"]) == 2
    assert "exists: pass --force" in capsys.readouterr().err
    assert main(["scan", "--jobs", str(jobs), "-o", str(out), "--serial", "--force", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["scan", "--jobs", str(tmp_path / "none.csv"), "-o", str(tmp_path / "x.parquet")]) == 2
    assert main(["scan", "--jobs", str(jobs), "-o", str(tmp_path / "x.txt"), "--serial"]) == 2
    assert main(["scan", "--jobs", str(jobs), "-o", str(tmp_path / "x.csv"), "--serial", "--workers", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("liqtools: error: ") for line in err)
    with pytest.raises(SystemExit) as exit_info:
        main(["scan", "--jobs", str(jobs), "--task", "nope", "-o", str(tmp_path / "y.csv")])
    assert exit_info.value.code == 2


def test_generated_markets_are_seeded_market_frames(tmp_path):
    a, b = generated_market(5, days=2, freq="1h"), generated_market(5, days=2, freq="1h")
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 48 and str(a.index.tz) == "UTC" and (a["oi_usd"] > 0).all()
    assert not a.equals(generated_market(6, days=2, freq="1h"))
    with pytest.raises(DataError, match="fewer than 2 candles"):
        generated_market(1, days=0.001, freq="1h")
    with pytest.raises(DataError, match="is not a folder"):
        write_universe(Path(tmp_path) / "nope", 2)


def test_a_task_from_a_module_the_workers_cannot_import(client, universe, tmp_path, monkeypatch):
    """``liqtools scan --task mytask:f`` with mytask.py in the current folder: the function goes by value."""
    from liqtools.cli.scan import task_arg, write_table

    (tmp_path / "mytask_byvalue.py").write_text("def f(df):\n    return {'n': len(df), 'x': 'big' if len(df) > 800 else 1.5}\n")
    monkeypatch.chdir(tmp_path)
    fn = task_arg("mytask_byvalue:f")
    res = lt.scan(universe.iloc[:2], fn, client=client)
    assert res["status"].tolist() == ["ok", "ok"] and res["n"].tolist() == [864, 864]
    mixed = pd.concat([res, res.assign(x=1.5)], ignore_index=True)  # 'big' and 1.5 in one column
    with pytest.warns(UserWarning, match=r"columns \['x'\] mix types"):
        write_table(mixed, tmp_path / "out.parquet")
    back = pd.read_parquet(tmp_path / "out.parquet")
    assert back["x"].tolist() == ["big", "big", "1.5", "1.5"] and back["error"].isna().all()


def test_a_task_module_that_fails_to_import_is_one_line(tmp_path, monkeypatch):
    from cli_util import run

    (tmp_path / "badmod_scan.py").write_text("def f(:\n")
    (tmp_path / "raises_scan.py").write_text("raise RuntimeError('boom at import')\n")
    (tmp_path / "jobs.csv").write_text("sample\nbtc\n")
    monkeypatch.chdir(tmp_path)
    for task, word in (("badmod_scan:f", "SyntaxError"), ("raises_scan:f", "RuntimeError: boom at import")):
        status, _, err = run(["scan", "--jobs", "jobs.csv", "--task", task, "-o", "out.csv", "--serial"])
        assert status == 2 and word in err and "Traceback" not in err, err


def test_local_cluster_keeps_the_preloads_of_dasks_configuration(monkeypatch):
    import dask
    import dask.distributed

    import liqtools.scale.run as run_mod

    seen = {}
    monkeypatch.setattr(dask.distributed, "LocalCluster", lambda **options: seen.update(options))
    with dask.config.set({"distributed.worker.preload": ["my_site.preload"]}):
        run_mod.local_cluster(1)
    assert seen["preload"] == ["my_site.preload", "liqtools.scale.preload"]
    run_mod.local_cluster(1, preload=["mine"])  # a caller's own list replaces it
    assert seen["preload"] == ["mine"]
