import json
import subprocess
import sys

import pandas as pd
import pytest

import liqtools as lt
from liqtools.cli import main
from liqtools.data.depth import market_depth

CLI_CLUSTERS = {"threshold": 1.0, "gap": 1, "max_distance_pct": 25.0, "top": 5}  # the CLI's defaults


def test_clusters_table(capsys):
    assert main(["clusters"]) == 0
    out = capsys.readouterr().out
    assert "Estimated liquidation clusters at 2026-03-05 10:00 UTC, price $73,400" in out
    assert "Shorts: $" in out and "Longs: $" in out and "Estimated, not observed" in out
    view = lt.clusters_at(lt.load_sample(), cluster_options=CLI_CLUSTERS)
    assert view.sentences()[0] in out


def test_clusters_json_matches_the_api(capsys):
    assert main(["clusters", "--format", "json", "--leverage", "10:0.5,50:0.5", "--bin-size", "250", "--top", "3"]) == 0
    payload = json.loads(capsys.readouterr().out)
    view = lt.clusters_at(lt.load_sample(), leverage={10: 0.5, 50: 0.5}, bin_size=250, cluster_options=CLI_CLUSTERS | {"top": 3})
    got = pd.DataFrame(payload["clusters"])
    pd.testing.assert_frame_equal(got, view.clusters, check_dtype=False)
    assert payload["price"] == view.price and "Estimated" in payload["note"]


def test_clusters_csv_from_a_data_file_at_a_time(tmp_path, capsys):
    path = tmp_path / "btc.parquet"
    lt.load_sample().iloc[:1500].to_parquet(path)
    assert main(["clusters", "--data", str(path), "--time", "2026-01-15T12:00", "--format", "csv", "--split", "0.5"]) == 0
    got = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    view = lt.clusters_at(lt.load_sample().iloc[:1500], "2026-01-15T12:00", split=0.5, cluster_options=CLI_CLUSTERS)
    assert view.time == pd.Timestamp("2026-01-15 12:00", tz="UTC")
    pd.testing.assert_frame_equal(got, view.clusters, check_dtype=False)


def test_errors_exit_2_with_a_message(tmp_path, capsys):
    assert main(["clusters", "--leverage", "10:0.5,20:0.6"]) == 2
    assert "sum to 1" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    lt.load_sample().iloc[:50].assign(high=1.0).to_csv(bad)
    assert main(["clusters", "--data", str(bad)]) == 2
    assert "bad.csv" in capsys.readouterr().err
    assert main(["clusters", "--data", str(tmp_path / "none.parquet")]) == 2
    with pytest.raises(SystemExit):
        main(["clusters", "--split", "sideways"])


def test_report_writes_a_standalone_page(tmp_path, capsys):
    out = tmp_path / "r.html"
    assert main(["report", "-o", str(out)]) == 0
    html = out.read_text()
    assert "Estimated, not observed" in html and "Shorts: $" in html
    for name in ("heatmap_image", "candles", "map_bars", "map_cumulative", "clusters"):
        assert f'"name":"{name}"' in html.replace(" ", "")
    assert "cdn.bokeh.org" not in html  # BokehJS is inline: the page opens offline
    assert not list(tmp_path.glob(".r.html.*"))  # no temporary file left behind


def test_console_script_runs():
    r = subprocess.run([sys.executable, "-m", "liqtools", "clusters", "--top", "1"], capture_output=True, text=True, check=True)
    assert r.stdout.count("\n short") + r.stdout.count("\nshort") >= 1 and "Shorts:" in r.stdout


def test_cascade_command_prints_the_chain(capsys):
    assert main(["cascade", "--shock", "-0.02", "--target", "70000"]) == 0
    out = capsys.readouterr().out
    view = lt.clusters_at(lt.load_sample(), cluster_options=CLI_CLUSTERS)
    depth = market_depth("BTC")  # the documented default: bids for a flush, square-root impact
    r = lt.simulate_cascade(view.levels, view.price, -0.02, depth_usd=depth)
    assert r.depth_usd == depth.bid_usd and r.impact == "sqrt"
    assert f"Final price ${r.final_price:,.0f} ({r.move_pct:+.2f}%)" in out
    assert out.count("\n    ") >= len(r.steps) - 1  # one table row per step
    d = lt.tipping_point(view.levels, view.price, 70_000, depth_usd=depth)
    assert f"a {d:+.3%} shock" in out
    assert "Up vs down" in out and "Depth: BTC bids $101.2M, asks $104.7M per 1%" in out and "2024-06-02" in out
    assert "Impact: sqrt law" in out and "per 1% of bids (sqrt impact)" in out


def test_cascade_default_is_plausible(capsys):
    # issue 13: the default +1% shock on the sample used to end at +258%; the documented default moves a few percent
    assert main(["cascade"]) == 0
    out = capsys.readouterr().out
    final = out.split("\nFinal price $")[1].split(")")[0]  # e.g. "75,011 (+2.19%"
    move = float(final.split("(")[1].rstrip("%"))
    assert 0 < move < 5 and "RUNAWAY" not in out
    assert main(["cascade", "--market", "ETH"]) == 0
    assert "Depth: ETH bids $91.8M, asks $105.0M per 1%" in capsys.readouterr().out
    assert main(["cascade", "--market", "DOGE"]) == 2
    assert "no documented order-book depth for 'DOGE'" in capsys.readouterr().err


def test_cascade_runaway_is_flagged(capsys):
    assert main(["cascade", "--depth", "1e5", "--impact", "linear", "--shock", "0.002"]) in (0, 2)
    captured = capsys.readouterr()
    assert "RUNAWAY" in captured.out or "outside any meaning" in captured.err
    assert main(["cascade", "--depth", "1e5", "--shock", "0.01"]) == 0
    assert "RUNAWAY (forced flow" in capsys.readouterr().out


def test_cascade_depth_option_and_errors(capsys):
    assert main(["cascade", "--shock", "0.01", "--depth", "1e9"]) == 0
    assert "Depth $1.00B per 1% (--depth), both sides." in capsys.readouterr().out
    assert main(["cascade", "--depth", "-5"]) == 2
    assert "depth_usd must be > 0" in capsys.readouterr().err
    assert main(["cascade", "--shock", "-1.5"]) == 2
    assert "shock must be" in capsys.readouterr().err


def test_report_has_a_cascade_section(tmp_path):
    out = tmp_path / "r.html"
    assert main(["report", "-o", str(out), "--shock", "0.02"]) == 0
    html = out.read_text().replace("&lt;", "<").replace("&gt;", ">")  # Div text sits HTML-escaped in the JSON
    assert "<h3>Cascade</h3>" in html and "short squeeze: shock +2.00%" in html and "long flush: shock -2.00%" in html
    assert "per 1% of asks (sqrt impact)" in html and "Depth assumed: BTC asks $104.7M per 1%" in html
    assert '"name":"cascade_up"' in html.replace(" ", "") and '"name":"cascade_down"' in html.replace(" ", "")
    assert "<h3>Momentum near clusters</h3>" in html and '"name":"momentum_paths"' in html.replace(" ", "")


def test_clusters_command_and_clusters_at_agree_given_the_same_options(capsys):
    # `liqtools clusters` = clusters_at(df, cluster_options=CLI_CLUSTERS); with no options, clusters_at uses
    # find_clusters' defaults (no distance filter, so a wider mean and different runs): the README says so
    assert main(["clusters", "--format", "csv", "--top", "50"]) == 0
    got = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    view = lt.clusters_at(lt.load_sample(), cluster_options=CLI_CLUSTERS | {"top": 50})
    pd.testing.assert_frame_equal(got, view.clusters, check_dtype=False)
    assert main(["clusters"]) == 0
    out = capsys.readouterr().out
    assert all(line in out for line in lt.clusters_at(lt.load_sample(), cluster_options=CLI_CLUSTERS).summary().splitlines())
    plain = lt.clusters_at(lt.load_sample()).summary()
    assert plain.splitlines()[0] in out and plain.splitlines()[1] not in out  # the README explains the difference


def test_clusters_names_the_model_for_people_not_as_a_python_repr():
    from cli_util import run

    status, out, _ = run(["clusters"])
    assert status == 0 and "LeverageProfile(" not in out
    assert "Model: leverage mix 5x 10%, 10x 25%, 25x 30%, 50x 20%, 100x 15% (maintenance margin 0.4%), split both, bins of $200." in out
    status, out, _ = run(["clusters", "--format", "json"])
    model = json.loads(out)["model"]
    assert model["leverage"] == {"5": 0.1, "10": 0.25, "25": 0.3, "50": 0.2, "100": 0.15} and model["mmr"] == [0.004] * 5
