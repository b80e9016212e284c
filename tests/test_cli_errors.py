"""The command line turns every foreseeable failure into one clear line and exit status 2 (issue 12)."""

import os
import socket
import stat

import pytest
from cli_util import run

import liqtools as lt
from liqtools.errors import DataError


def assert_one_line_error(status, err, *words):
    assert status == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("usage:")]
    assert len(lines) == 1, err
    for word in words:
        assert word in lines[0], lines[0]


def _bad_files(tmp_path):
    small = lt.load_sample().iloc[:60]
    files = {}
    files["empty.csv"] = b""
    files["ragged.csv"] = b"time,open,high,low,close,oi_usd\n2024-01-01,1,2,0.5,1,5\n2024-01-01T01:00,1,2,0.5,1,5,7,8\n"
    files["latin1.csv"] = "time,open,high,low,close,oi_usd\n2024-01-01,1,2,0.5,1,5\nvalue \xe9t\xe9,1,2,0.5,1,5\n".encode("latin-1")
    files["header_only.csv"] = b"time,open,high,low,close,oi_usd\n"
    files["junk.parquet"] = b"this is not a parquet file at all"
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    small.to_parquet(tmp_path / "parquet_named.csv")
    small.to_csv(tmp_path / "csv_named.parquet")
    (tmp_path / "folder.csv").mkdir()
    return tmp_path


@pytest.mark.parametrize(
    "name, words",
    [
        ("empty.csv", ["empty.csv", "empty"]),
        ("ragged.csv", ["ragged.csv", "line 3"]),
        ("latin1.csv", ["latin1.csv", "UTF-8"]),
        ("header_only.csv", ["header_only.csv"]),
        ("junk.parquet", ["junk.parquet", "not a parquet file"]),
        ("parquet_named.csv", ["parquet_named.csv", "parquet"]),
        ("csv_named.parquet", ["csv_named.parquet", "CSV"]),
        ("folder.csv", ["folder.csv", "directory"]),
    ],
)
def test_unreadable_market_files_are_one_line(tmp_path, name, words):
    folder = _bad_files(tmp_path)
    status, _, err = run(["clusters", "--data", str(folder / name)])
    assert_one_line_error(status, err, *words)
    status, _, err = run(["validate", "--realized", str(folder / name)])
    assert_one_line_error(status, err, name)


def test_an_empty_data_name_is_an_error_not_the_sample():
    status, _, err = run(["clusters", "--data", ""])
    assert_one_line_error(status, err, "file name is empty")


def test_values_whose_sums_overflow_are_refused(tmp_path):
    import numpy as np

    path = tmp_path / "huge.csv"
    df = lt.load_sample().iloc[:120]
    df.assign(oi_usd=np.where(np.arange(len(df)) % 2, 1.7e308, 1e300)).to_csv(path)  # today: NaN sums, status 0
    for command in ("clusters", "cascade", "validate"):
        status, _, err = run([command, "--data", str(path)])
        assert_one_line_error(status, err, "huge.csv", "oi_usd", "rescale")


def test_a_file_without_read_permission_is_one_line(tmp_path, monkeypatch):
    path = tmp_path / "secret.csv"
    lt.load_sample().iloc[:60].to_csv(path)
    path.chmod(0)
    if os.geteuid() == 0:  # root reads files whatever their mode: have open() refuse as it does for a user
        from liqtools.data import files

        def refuse(*args, **kwargs):
            raise PermissionError(13, "Permission denied", str(path))

        monkeypatch.setattr(files, "open", refuse, raising=False)
    status, _, err = run(["clusters", "--data", str(path)])
    assert_one_line_error(status, err, "secret.csv", "permission")


@pytest.mark.parametrize("value", ["0", "nan", "1e-310", "-2", "inf", "abc"])
def test_bad_bin_size(value):
    status, _, err = run(["clusters", "--bin-size", value])
    assert_one_line_error(status, err, "--bin-size")


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--top", "-1"], ["--top"]),
        (["--top", "0"], ["--top"]),
        (["--max-distance", "nan"], ["--max-distance"]),
        (["--threshold", "inf"], ["--threshold"]),
        (["--mmr", "nan"], ["--mmr"]),
        (["--gap", "-1"], ["--gap"]),
    ],
)
def test_bad_cluster_options(argv, words):
    status, _, err = run(["clusters", *argv])
    assert_one_line_error(status, err, *words)


@pytest.mark.parametrize(
    "value, words",
    [
        ("garbage", ["--time", "garbage"]),
        ("NaT", ["--time"]),
        ("2030-01-01", ["after the last candle", "2026-03-05 10:00"]),
        ("2026-03-05T12:00", ["after the last candle"]),
        ("1990-01-01", ["before the first candle"]),
        ("-1", ["--time", "not a time"]),  # pandas reads it as the year -1, then cannot hold it in nanoseconds
    ],
)
def test_time_outside_the_data(value, words):
    status, _, err = run(["clusters", "--time", value])
    assert_one_line_error(status, err, *words)


def test_time_inside_the_last_candle_is_fine():
    status, out, _ = run(["clusters", "--time", "2026-03-05T10:30"])
    assert status == 0 and "2026-03-05 10:00 UTC" in out


def test_clusters_at_refuses_nat_and_far_future():
    df = lt.load_sample()
    import pandas as pd

    with pytest.raises(DataError, match="not a time"):
        lt.clusters_at(df, pd.NaT)
    with pytest.raises(DataError, match="after the last candle"):
        lt.clusters_at(df, "2100-01-01")


def test_horizons_longer_than_the_data():
    status, _, err = run(["momentum", "--horizons", "1,5000"])
    assert_one_line_error(status, err, "5000", "2,112 candles")
    status, _, err = run(["momentum", "--horizons", "1000000000000"])
    assert_one_line_error(status, err, "--horizons")
    status, _, err = run(["momentum", "--lookback", "100000"])
    assert_one_line_error(status, err, "--lookback")


def test_every_thins_the_heatmap_and_is_named_when_needed():
    status, out, _ = run(["clusters", "--every", "24"])
    assert status == 0
    assert out == run(["clusters"])[1]  # the map at a candle does not depend on the picture's thinning
    status, _, err = run(["clusters", "--bin-size", "0.2"])  # 2,112 snapshots x 330,901 bins: too large
    assert_one_line_error(status, err, "--every 14", "--bin-size")
    assert "every=" not in err and "bin_size" not in err
    status, _, err = run(["clusters", "--every", "0"])
    assert_one_line_error(status, err, "--every")


@pytest.mark.parametrize("port", ["99999999", "-1", "65536", "abc"])
def test_bad_ports_are_errors_before_any_server_starts(monkeypatch, port):
    import liqtools.app

    def no_server(*args, **kwargs):
        raise AssertionError("a server was started")

    monkeypatch.setattr(liqtools.app.subprocess, "Popen", no_server)
    status, _, err = run(["dashboard", "--port", port])
    assert_one_line_error(status, err, "--port")


def test_a_busy_port_is_an_error_not_another_port(monkeypatch):
    import liqtools.app

    monkeypatch.setattr(liqtools.app.subprocess, "Popen", lambda *a, **k: pytest.fail("a server was started"))
    monkeypatch.setattr(liqtools.app, "_has_module", lambda name: True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        status, _, err = run(["dashboard", "--port", str(port)])
    assert_one_line_error(status, err, str(port), "in use")


def test_an_internal_error_is_short_unless_debug(monkeypatch):
    import liqtools.cli.clusters

    def boom(args):
        raise RuntimeError("boom")

    monkeypatch.setattr(liqtools.cli.clusters, "cmd_clusters", boom)
    status, _, err = run(["clusters"])
    assert status == 1 and "Traceback" not in err
    assert "RuntimeError: boom" in err and "run with --debug for the traceback" in err
    assert len(err.strip().splitlines()) == 1
    status, _, err = run(["--debug", "clusters"])
    assert status == 1 and "Traceback" in err and "boom" in err


# report -o -----------------------------------------------------------------------------------


def test_output_path_refuses_what_is_not_a_regular_file(tmp_path):
    from liqtools.cli._common import output_path

    with pytest.raises(DataError, match="not a regular file"):
        output_path("/dev/null", force=True)  # only checked, never written
    with pytest.raises(DataError, match="directory"):
        output_path(tmp_path, force=True)
    with pytest.raises(DataError, match="does not exist"):
        output_path(tmp_path / "missing" / "r.html", force=False)
    (tmp_path / "there.html").write_text("x")
    with pytest.raises(DataError, match="--force"):
        output_path(tmp_path / "there.html", force=False)
    assert output_path(tmp_path / "there.html", force=True) == tmp_path / "there.html"
    assert output_path(tmp_path / "new.html", force=False) == tmp_path / "new.html"


def test_report_refuses_a_fifo_a_directory_and_a_missing_folder(tmp_path):
    fifo = tmp_path / "pipe.html"
    os.mkfifo(fifo)
    status, _, err = run(["report", "-o", str(fifo)])
    assert_one_line_error(status, err, "pipe.html", "not a regular file")
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    (tmp_path / "dir.html").mkdir()
    status, _, err = run(["report", "-o", str(tmp_path / "dir.html")])
    assert_one_line_error(status, err, "dir.html", "directory")
    status, _, err = run(["report", "-o", str(tmp_path / "no" / "such" / "r.html")])
    assert_one_line_error(status, err, "does not exist")
    assert not (tmp_path / "no").exists()


def test_report_asks_for_force_and_writes_normal_permissions(tmp_path):
    path = tmp_path / "r.html"
    path.write_text("keep me")
    status, _, err = run(["report", "-o", str(path)])
    assert_one_line_error(status, err, "r.html", "--force")
    assert path.read_text() == "keep me"
    old = os.umask(0o027)
    try:
        status, out, _ = run(["report", "-o", str(path), "--force"])
    finally:
        os.umask(old)
    assert status == 0 and "wrote" in out
    assert path.read_text() != "keep me"
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~0o027


def test_fetch_checks_its_output_before_downloading(tmp_path, monkeypatch):
    import liqtools.data.exchange

    monkeypatch.setattr(liqtools.data.exchange, "fetch_market_data", lambda *a, **k: pytest.fail("downloaded"))
    for target, words in ((tmp_path, "directory"), (tmp_path / "no" / "x.parquet", "does not exist")):
        status, _, err = run(["fetch", "binanceusdm", "BTC/USDT:USDT", "--start", "2024-01-01", "-o", str(target)])
        assert_one_line_error(status, err, *words)
