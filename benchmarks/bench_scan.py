"""Scan speed: 200 generated 30-day 1-minute markets, task "clusters", serial vs a 2-worker local Dask cluster.

    .venv/bin/python benchmarks/bench_scan.py                 # the acceptance run of issue 14
    .venv/bin/python benchmarks/bench_scan.py --markets 40    # a quicker look
    .venv/bin/python benchmarks/bench_scan.py --no-long       # without the one two-year market

Runs ``--rounds`` paired rounds (serial, then the cluster, back to back: the shared machine's speed
drifts by 20% over minutes, so each round's ratio compares runs made under the same load) and prints the
time of each run, each round's speed-up and their median (target >= 1.7x), the peak memory of each worker process (peak
RSS, target < 1.5 GB), the per-job figures docs/scale.md's paper estimate is derived from, and (unless
``--no-long``) one two-year 1-minute market's task time and peak memory in a fresh process. The markets
are written as parquet files first (not timed in the scan): the scan reads them as ``path`` jobs, so the
workers load their own data, as they would from a shared cache.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

import liqtools as lt
from liqtools.scale import local_cluster, write_universe

LONG = """
import sys, time
sys.path.insert(0, sys.argv[2])
from bench_scan import peak_rss_mb
from liqtools.scale.tasks import clusters_task
from liqtools.scale.universe import generated_market
df = generated_market(1, days=float(sys.argv[1]))
t = time.perf_counter()
out = clusters_task(df)
print(len(df), time.perf_counter() - t, peak_rss_mb(), len(out))
"""


SPIN = "import time; t = time.perf_counter(); x = sum(i * i for i in range(4_000_000)); print(time.perf_counter() - t)"


def machine_capacity(n: int) -> float:
    """How many times one process's work ``n`` processes get done at once right now (n: ideal; the machine
    is shared, so other work shows here): a pure-Python loop alone, then ``n`` copies side by side."""
    alone = float(subprocess.run([sys.executable, "-c", SPIN], capture_output=True, text=True, check=True).stdout)
    procs = [subprocess.Popen([sys.executable, "-c", SPIN], stdout=subprocess.PIPE, text=True) for _ in range(n)]
    side_by_side = max(float(p.communicate()[0]) for p in procs)
    return n * alone / side_by_side


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB: ``VmHWM`` (Linux; unlike ``ru_maxrss`` it does not carry
    the parent's peak across fork and exec), else ``ru_maxrss``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 if sys.platform != "darwin" else 1024 * 1024)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markets", type=int, default=200)
    ap.add_argument("--days", type=float, default=30)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3, help="paired rounds (serial, then the cluster): the machine's speed drifts")
    ap.add_argument("--long-days", type=float, default=730, help="length of the one long market (default two years)")
    ap.add_argument("--no-long", action="store_true", help="skip the long market")
    args = ap.parse_args()
    from dask.distributed import Client

    print(f"machine: {os.cpu_count()} cores; liqtools {lt.__version__}; {args.markets} markets of {args.days:g} days of 1-minute candles")
    print(f"capacity now: {args.workers} processes side by side do {machine_capacity(args.workers):.2f}x the work of one "
          f"(pure Python; {args.workers:.2f}x on an idle machine; the load average is {os.getloadavg()[0]:.2f})")
    with tempfile.TemporaryDirectory() as folder:
        t = time.perf_counter()
        jobs = write_universe(folder, args.markets, days=args.days, freq="1min")
        size = sum(Path(p).stat().st_size for p in jobs["path"])
        rows = int(pd.Timedelta(days=args.days) / pd.Timedelta("1min"))
        print(f"generated and wrote the markets in {time.perf_counter() - t:.1f} s: {rows:,} candles each, "
              f"{size / len(jobs) / 1e6:.2f} MB of parquet per market")

        from liqtools.scale.preload import warm

        warm()  # this process loads the compiled loops before the clock starts, as the workers do at start-up
        ratios, serial_times, dask_times, peaks_all = [], [], [], []
        for r in range(1, args.rounds + 1):
            t = time.perf_counter()
            serial = lt.scan(jobs, "clusters", client="serial")
            t_serial = time.perf_counter() - t
            t = time.perf_counter()
            with local_cluster(args.workers, dashboard_address=None) as cluster, Client(cluster) as client:
                t_start = time.perf_counter() - t
                client.run(lambda: __import__("liqtools.scale.tasks"))  # workers import liqtools before the clock starts
                t = time.perf_counter()
                dask_result = lt.scan(jobs, "clusters", client=client)
                t_dask = time.perf_counter() - t
                peaks = client.run(peak_rss_mb)
            pd.testing.assert_frame_equal(serial, dask_result)
            ok = int((dask_result.drop_duplicates("job")["status"] == "ok").sum())
            ratios.append(t_serial / t_dask)
            serial_times.append(t_serial)
            dask_times.append(t_dask)
            peaks_all.extend(peaks.values())
            print(f"round {r}: serial {t_serial:5.1f} s ({t_serial / len(jobs) * 1000:.0f} ms per market, read + task), "
                  f"{args.workers}-worker cluster {t_dask:5.1f} s (start {t_start:.1f} s, not included; {ok}/{len(jobs)} ok, "
                  f"results equal the serial run): speed-up {ratios[-1]:.2f}x")
        speedup = statistics.median(ratios)
        print(f"speed-up, median of {args.rounds} paired rounds: {speedup:.2f}x (range {min(ratios):.2f}-{max(ratios):.2f}x; "
              f"target >= 1.7x: {'met' if speedup >= 1.7 else 'NOT met'}); capacity after the runs: {machine_capacity(args.workers):.2f}x")
        worst = max(peaks_all)
        print(f"peak memory per worker (RSS): worst {worst:.0f} MB of {len(peaks_all)} worker processes "
              f"(target < 1.5 GB: {'met' if worst < 1536 else 'NOT met'}); serial process {peak_rss_mb():.0f} MB")
        t_dask = statistics.median(dask_times)
        print(f"throughput: {len(jobs) / t_dask:.1f} markets/s on {args.workers} workers; "
              f"{t_dask * args.workers / len(jobs) * 1000:.0f} worker-ms per market (serial: {statistics.median(serial_times) / len(jobs) * 1000:.0f} ms)")

    if not args.no_long:
        out = subprocess.run([sys.executable, "-c", LONG, str(args.long_days), str(Path(__file__).parent)], capture_output=True, text=True, check=True)
        n, secs, peak, clusters = out.stdout.split()
        print(f"one {args.long_days:g}-day 1-minute market ({int(n):,} candles), task clusters in a fresh process: "
              f"{float(secs):.1f} s, peak RSS {float(peak):.0f} MB (generation included in the peak), {clusters} clusters")


if __name__ == "__main__":
    main()
