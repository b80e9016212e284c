"""LiveDashboard: watch the levels and the velocity in a notebook or Voila, the plots refreshing in place.

A :class:`~liqtools.watch.Monitor` takes each new closed candle; the dashboard then assigns its plots' data
(the heatmap's recent snapshots, the candles, the map after the last candle, the alerts) without replacing
a figure or a range, so a zoom or pan made in the page stays. A replay needs no thread: an ipywidgets
``Play`` ticks in the browser and each tick feeds the next stored candle in the kernel (Voila included).
Live data (:meth:`LiveDashboard.start_live`) polls an exchange in a background thread.
"""

from __future__ import annotations

import html
import threading
import weakref
from collections.abc import Callable
from typing import Any

import ipywidgets as W
import numpy as np
import pandas as pd

from liqtools.errors import DataError, LiqtoolsError
from liqtools.plotting.live import CROP, color_high, live_data, live_figure, live_ranges
from liqtools.plotting.maps import side_ranges
from liqtools.plotting.theme import price_text, profile_text
from liqtools.schema import validate_market
from liqtools.watch.monitor import Monitor, Reading
from liqtools.widgets._base import Explorer

__all__ = ["SPEEDS", "LiveDashboard"]

#: The speed control's choices: milliseconds between two candles of a replay (the ``Play`` interval).
SPEEDS = (("1 candle / 2 s", 2000), ("1 candle / s", 1000), ("2 candles / s", 500), ("4 candles / s", 250), ("10 candles / s", 100))


def _stream_or_assign(source: Any, new: dict[str, Any]) -> None:
    """Give ``source`` the columns ``new``: stream the rows after the ones the page already holds (a time
    ``time`` column that only moves forward), else assign the whole columns."""
    old = source.data
    old_t = np.asarray(old.get("time", []), dtype=float)
    new_t = np.asarray(new["time"], dtype=float)
    if set(old) == set(new):
        m = int(np.searchsorted(new_t, old_t[-1], side="right")) if len(old_t) else 0  # rows of ``new`` the page holds
        same = (m > 0 or len(old_t) == 0) and m <= len(old_t) and all(np.array_equal(np.asarray(old[c])[len(old_t) - m :], np.asarray(v)[:m]) for c, v in new.items())
        if same and m == len(new_t) == len(old_t):
            return
        if same and m < len(new_t):
            source.stream({c: np.asarray(v)[m:] if isinstance(v, np.ndarray) else list(v)[m:] for c, v in new.items()}, rollover=len(new_t))
            return
    source.data = new


#: Dashboards polling each (exchange, symbol): starting another stops them (a re-run cell leaves no poller behind).
_LIVE: dict[tuple[str, str], weakref.WeakSet] = {}

class LiveDashboard(Explorer):
    """The monitor on screen: the recent heatmap with candles and alert markers, the map after the last
    candle on its side (same price axis), the status line, and the alerts (newest first) under the rule.

    Parameters
    ----------
    monitor_or_history
        A :class:`~liqtools.watch.Monitor`, or candles to build one on (``monitor_options`` go to it).
    window
        Heatmap snapshots shown (hourly on hourly or 1-minute data: 120 is five days).
    follow
        Keep the newest candles in view after each one. Off (default): the view is set once, at the first
        draw, and a zoom or pan made in the page stays. The ``follow`` toggle turns it on; a zoom or pan in
        the page while following turns it off again.
    replay
        Candles after the monitor's history, fed one per tick of the ``play`` control.
    interval_ms
        Milliseconds between two ticks of the replay (the ``speed`` control).

    Controls: ``play`` (an ipywidgets ``Play``: its value is the number of replay candles fed; setting it
    from Python feeds up to it), ``speed`` (the tick interval), ``follow``; ``step_button`` feeds one
    candle. Sources: ``live_heatmap``, ``live_candles``, ``live_clusters``, ``live_alerts``,
    ``side_bars``, ``side_cumulative``, ``side_price`` (:func:`~liqtools.plotting.live.live_data`).
    ``status`` shows the last candle's status line, ``alerts_box`` the alerts (``alert_lines``).

    Examples
    --------
    >>> from liqtools import load_sample
    >>> dash = LiveDashboard.replay(load_sample(), start="2026-02-04 12:00")
    >>> dash.controls["play"].value = 4        # what four ticks of the Play control do: 12:00 to 15:00
    >>> dash.alert_lines[0][:40]
    '2026-02-04 15:00 UTC: price entered the '
    >>> len(dash.sources["live_alerts"].data["text"]), dash.monitor.readings
    (1, 4)
    """

    def __init__(
        self,
        monitor_or_history: Monitor | pd.DataFrame,
        *,
        window: int = 120,
        follow: bool = False,
        replay: pd.DataFrame | None = None,
        interval_ms: int = 500,
        crop: float = CROP,
        **monitor_options: Any,
    ) -> None:
        super().__init__()
        if isinstance(monitor_or_history, Monitor):
            if monitor_options:
                raise DataError(f"monitor options {sorted(monitor_options)} need candles, not a Monitor")
            self.monitor = monitor_or_history
        else:
            self.monitor = Monitor(monitor_or_history, **monitor_options)
        if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 2:
            raise DataError(f"window must be a whole number of snapshots >= 2, got {window!r}")
        self.window, self.crop = int(window), float(crop)
        self.replay_candles = None if replay is None else validate_market(replay, require=("oi_usd",))
        self.start_time = self.monitor.last_time
        self._lock = threading.RLock()
        self._setting_ranges = False
        self._live: tuple[threading.Thread, threading.Event] | None = None
        n = 0 if self.replay_candles is None else len(self.replay_candles)
        speeds = dict(SPEEDS)
        if interval_ms not in speeds.values():
            speeds[f"1 candle / {interval_ms} ms"] = int(interval_ms)
        self.controls.update(
            play=W.Play(value=0, min=0, max=n, step=1, interval=int(interval_ms), show_repeat=False, disabled=n == 0, description="replay"),
            speed=W.Dropdown(options=list(speeds.items()), value=int(interval_ms), description="speed", style={"description_width": "45px"}, layout=W.Layout(width="190px")),
            follow=W.ToggleButton(value=bool(follow), description="follow", icon="arrows-h", tooltip="keep the newest candles in view (off: your zoom and pan stay)"),
        )
        self.step_button = W.Button(description="next candle", icon="step-forward", disabled=n == 0, layout=W.Layout(width="130px"))
        self.step_button.on_click(lambda _b: self.next_candle())
        self.progress = W.Label()
        self.live_status = W.HTML()
        self.status = W.HTML()
        self.alerts_box = W.HTML()
        self.fed = 0  # replay candles fed
        figure = live_figure(self.monitor, self.window, crop=self.crop)
        self.heat = figure.children[0]
        self.x_range, self.y_range = self.heat.x_range, self.heat.y_range
        self.mapper: Any = self.heat.select_one({"name": "live_mapper"})
        self._side_ranges = {"bars": figure.select_one({"name": "side_x_range"}), "cum": figure.select_one({"name": "side_cum_range"})}
        for r in (self.x_range, self.y_range):
            r.on_change("start", self._user_moved)
            r.on_change("end", self._user_moved)
        box = W.HBox([self.controls["play"], self.step_button, self.controls["speed"], self.controls["follow"], self.progress, self.live_status], layout=W.Layout(flex_flow="row wrap", align_items="center"))
        self._finish(figure, box)
        self._show(None)
        if self.replay_candles is not None:
            self._sync_play()
        self.controls["play"].observe(lambda _c: self._run(self._tick), names="value")
        self.controls["speed"].observe(lambda c: setattr(self.controls["play"], "interval", int(c["new"])), names="value")
        self.controls["follow"].observe(lambda c: self._run(self._follow) if c["new"] else None, names="value")

    @classmethod
    def replay(cls, df: pd.DataFrame, *, start: Any = None, interval_ms: int = 500, **options: Any) -> LiveDashboard:
        """A dashboard on the candles before ``start`` (default: the middle of ``df``, as
        :func:`liqtools.watch.replay.replay`), with the rest to replay through the ``play`` control.
        ``options``: ``window``, ``follow`` and :class:`Monitor` options."""
        from liqtools.watch.replay import replay_cut

        df = validate_market(df, require=("oi_usd",))
        cut = replay_cut(df, start)
        return cls(df.iloc[:cut], replay=df.iloc[cut:], interval_ms=interval_ms, **options)

    # -- feeding -------------------------------------------------------------------------------------------
    def feed(self, candles: pd.DataFrame) -> list[Reading]:
        """Step the monitor with new closed candles and refresh the plots in place (ranges untouched unless
        following). Candles already seen are skipped; returns the monitor's readings."""
        with self._lock:
            readings = self.monitor.step(candles)
            if self.replay_candles is not None:
                self._sync_play()
            if readings:
                self._show(readings[-1])
            return readings

    def next_candle(self) -> None:
        """Feed the next replay candle (what one tick of ``play`` does)."""
        play = self.controls["play"]
        if play.value < play.max:
            play.value += 1

    def _tick(self) -> None:
        assert self.replay_candles is not None
        target = int(self.controls["play"].value)
        if target > self.fed:
            self.feed(self.replay_candles.iloc[self.fed : target])

    def _sync_play(self) -> None:
        """The replay's position after a feed (by the Play, the button or ``feed``): ``play`` shows it, and its
        stop button rewinds only to it (the past cannot be unfed)."""
        assert self.replay_candles is not None
        self.fed = int(self.replay_candles.index.searchsorted(self.monitor.last_time, side="right"))
        play = self.controls["play"]
        play.value = max(play.value, self.fed)
        play.min = self.fed
        self.step_button.disabled = self.fed >= len(self.replay_candles)
        self.progress.value = f"replay: {self.fed} of {len(self.replay_candles)} candles"

    # -- the picture ---------------------------------------------------------------------------------------
    def _show(self, reading: Reading | None) -> None:
        data = live_data(self.monitor, self.window, self.crop)
        self.data = data
        if reading is not None:  # (at the first draw the figure holds these already)
            self.sources["live_heatmap"].data = data["live_heatmap"]
        high = color_high(data["live_heatmap"]["image"][0])
        if self.mapper.high != high:
            self.mapper.high = high
        _stream_or_assign(self.sources["live_candles"], data["live_candles"])
        _stream_or_assign(self.sources["live_alerts"], data["live_alerts"])
        self._assign({k: data[k] for k in ("side_bars", "side_cumulative", "side_price", "live_clusters")})
        side = {"map_bars": data["side_bars"], "map_cumulative": data["side_cumulative"]}
        self._fit_ranges(self._side_ranges, side_ranges(side))
        if self.controls["follow"].value:
            self._follow()
        m = self.monitor
        price = float(m.df["close"].iloc[-1])
        if reading is not None:
            self.status.value = f"<pre style='margin:2px 0;font-size:12px;white-space:pre-wrap'>{html.escape(reading.status)}</pre>"
        else:
            self.status.value = f"<pre style='margin:2px 0;font-size:12px'>{m.last_time:%Y-%m-%d %H:%M} UTC  {price_text(price)}  (no candle fed yet)</pre>"
        rows = "".join(f"<li>{html.escape(line)}</li>" for line in self.alert_lines) or "<li>none yet</li>"
        self.alerts_box.value = (
            f"<b>Alerts, newest first ({len(m.alerts)})</b><ol style='margin:2px 0'>{rows}</ol>"
            f"<div style='color:#666;font-size:85%'>{html.escape(m.rule.describe())}</div>"
        )
        hm = m.heatmap
        self._set_readout([
            (f"{m.readings:,} candle(s) watched after the history ending {self.start_time:%Y-%m-%d %H:%M} UTC; "
             f"last {m.last_time:%Y-%m-%d %H:%M} UTC at {price_text(price)}; {len(m.alerts)} alert(s)."),
            f"Heatmap: the last {min(self.window, len(hm.times))} snapshots, bins of {price_text(hm.bin_size)}; {profile_text(hm.profile)}.",
        ])

    @property
    def alert_lines(self) -> list[str]:
        """The alerts as listed, newest first (``str(alert)``: time and the sentence a trader reads)."""
        return [str(a) for a in reversed(self.monitor.alerts)]

    def _follow(self) -> None:
        """Move the view onto the newest candles (the ``follow`` toggle)."""
        view = live_ranges(self.data)
        with self._lock:  # the live thread and the kernel's thread both move ranges
            self._setting_ranges = True
            try:
                for r, (start, end) in ((self.x_range, view["x"]), (self.y_range, view["y"])):
                    if (r.start, r.end) != (start, end):
                        r.update(start=start, end=end)
            finally:
                self._setting_ranges = False

    def _user_moved(self, _attr: str, _old: Any, _new: Any) -> None:
        """A zoom or pan from the page while following: stop following (the user's view stays)."""
        with self._lock:
            setting = self._setting_ranges
        if not setting and self.controls["follow"].value:
            self.controls["follow"].value = False

    @property
    def widget(self) -> W.Box:
        view = super().widget
        if self.status not in view.children:
            view.children = (view.children[0], self.status, *view.children[1:], self.alerts_box)
        return view

    # -- live ----------------------------------------------------------------------------------------------
    def start_live(
        self,
        exchange: Any,
        symbol: str,
        *,
        timeframe: str = "1m",
        every: float = 60.0,
        cache_dir: Any = None,
        polls: int | None = None,
        fetch: Callable[[pd.Timestamp], pd.DataFrame] | None = None,
        now: Callable[[], pd.Timestamp] | None = None,
    ) -> threading.Thread:
        """Poll ``exchange`` for closed candles every ``every`` seconds in a background thread and feed them.

        Each poll asks :func:`~liqtools.data.exchange.fetch_market_data` (cached, rate-limited) for the
        candles after the monitor's last one, lets the newest wait for their open interest as
        :func:`liqtools.watch.live.watch_live` does, and feeds the rest; a failed poll is said in
        ``live_status`` and the next one asks again. ``polls`` stops after that many; :meth:`stop_live`
        stops at once. ``fetch(start)`` replaces the exchange (tests). Not for Voila pages shared by many.
        """
        from liqtools.data.exchange import fetch_market_data, timeframe_ms
        from liqtools.watch.live import _now, _ready

        if not (isinstance(every, (int, float)) and every > 0):
            raise DataError(f"every must be a positive number of seconds, got {every!r}")
        self.stop_live()
        key = (str(getattr(exchange, "id", exchange)), symbol)
        for other in list(_LIVE.get(key, ())):  # a re-run cell: the older dashboard of this market stops polling
            other.stop_live()
        _LIVE.setdefault(key, weakref.WeakSet()).add(self)
        get = fetch or (lambda start: fetch_market_data(exchange, symbol, timeframe, start=start, end=None, cache_dir=cache_dir,
                                                        progress=False, include=("ohlcv", "open_interest")))
        clock = now or _now
        step = pd.Timedelta(timeframe_ms(timeframe), "ms")
        stop = threading.Event()

        def say(text: str) -> None:
            self.live_status.value = f"<span style='color:#555'>{html.escape(text)}</span>"

        def loop() -> None:
            done = 0
            say(f"watching {symbol} ({timeframe}) every {every:g} s")
            while (polls is None or done < polls) and not stop.wait(float(every)):
                done += 1
                try:
                    new = _ready(get(self.monitor.last_time + pd.Timedelta(1, "ms")), clock(), step)
                    readings = self.feed(new) if len(new) else []
                    say(f"{clock():%H:%M:%S} UTC  {len(readings)} new candle(s) from {symbol}")
                except LiqtoolsError as exc:  # a venue pausing, no candle yet: the next poll asks again
                    say(f"{clock():%H:%M:%S} UTC  poll failed ({exc}); asking again in {every:g} s")
                except Exception as exc:  # noqa: BLE001 - a thread's error is otherwise unseen: end the watch, say why
                    say(f"live watch stopped: {type(exc).__name__}: {exc}")
                    return
            say(f"live watch of {symbol} stopped")

        thread = threading.Thread(target=loop, name=f"liqtools-live-{symbol}", daemon=True)
        self._live = (thread, stop)
        thread.start()
        return thread

    def close(self) -> None:
        """Stop polling and close the widgets (what a re-run of the cell should do first)."""
        self.stop_live()
        self.widget.close()

    def stop_live(self) -> None:
        """Stop the live polling thread (if any) and wait for it."""
        if self._live is not None:
            thread, stop = self._live
            stop.set()
            if thread is not threading.current_thread():
                thread.join(timeout=30)
            self._live = None
