"""The result of the event study (docs/model.md section 7): :class:`EventStudy` and its text summary."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from liqtools.errors import DataError

__all__ = ["EFFECT_COLUMNS", "MEASURES", "MIN_EPISODES", "EventStudy", "few_episodes"]

MEASURES: tuple[str, ...] = ("return", "velocity", "volume_ratio")
EFFECT_COLUMNS: tuple[str, ...] = (
    "horizon",
    "measure",
    "effect",
    "se",
    "pvalue",
    "ci_low",
    "ci_high",
    "n_events",
    "n_controls",
    "n_event_episodes",
    "n_control_episodes",
    "n_episodes",
    "dof",
    "mean_difference",
)
# below this many episodes holding events (or controls) a test is flagged as resting on few episodes
MIN_EPISODES = 10


def few_episodes(effects: pd.DataFrame, *, with_controls: bool) -> pd.DataFrame:
    """The rows of an effects table with events whose test rests on fewer than MIN_EPISODES episodes of
    events, or of controls when there are controls."""
    if effects.empty:
        return effects
    few = effects["n_event_episodes"] < MIN_EPISODES
    if with_controls:
        few |= effects["n_control_episodes"] < MIN_EPISODES
    return effects[few & (effects["n_events"] > 0)]


@dataclass(frozen=True, eq=False)
class EventStudy:
    """Result of :func:`event_study`.

    Attributes
    ----------
    events
        One row per event: ``time, candle, band, side, low, high, approach`` (+1 entered from below, -1
        from above), ``entry_price`` (the band edge crossed, or the open when the candle opened inside),
        ``close``, ``velocity`` (log return per candle over the ``lookback`` candles up to the event,
        signed by the approach: > 0 means moving into the band), ``volume_ratio`` (the event candle's
        volume over the median of the ``lookback`` candles before it), ``trailing_vol_fast``,
        ``trailing_vol``, ``trailing_vol_slow`` (root mean square of the close-to-close log returns of
        the ``lookback``, ``4 * lookback`` and ``16 * lookback`` candles before the event candle, fewer
        near the start), then per horizon h ``return_h`` (log return from the event's close to the close
        h candles later, signed by the approach: > 0 means the move continued), ``velocity_h``
        (``|log return| / h``, the speed either way) and ``volume_ratio_h`` (mean volume of the next h
        candles over the same trailing median); and ``realized_long_usd, realized_short_usd`` of the
        period holding the event when realized liquidations were given.
    controls
        The same columns for the control events (``band`` numbers the control bands).
    effects
        One row per horizon and measure: ``horizon, measure, effect, se, pvalue, ci_low, ci_high,
        n_events, n_controls, n_event_episodes, n_control_episodes, n_episodes, dof, mean_difference``.
        ``effect`` is the OLS coefficient of an event dummy (statsmodels OLS): for ``return`` the plain
        difference mean(events) - mean(controls); for ``velocity`` and ``volume_ratio`` the difference
        at equal trailing volatility (the three ``trailing_vol*`` columns as centred covariates), because under persistent volatility the bands
        and the controls are entered in different volatility regimes and the plain difference then
        differs from 0 even where the bands carry no information. ``mean_difference`` is the plain
        difference for every measure. Without controls ``effect`` is the events' mean (tested against 0).
        Standard errors are by *episode* (see :mod:`liqtools.analysis.momentum_stats`): events and
        controls less than ``horizon + 1`` candles apart (chained) form one episode; each episode's
        scores get the CR2 (Bell-McCaffrey) small-sample correction, neighbouring episodes may correlate
        (Driscoll-Kraay over time-ordered episodes, Bartlett weights over the ``lags`` option's episodes
        each side; by default 1 for velocity and volume_ratio, 0 for return), and p-values and the ``1 - alpha`` interval use a t distribution with ``dof``
        Satterthwaite degrees of freedom, which are small when the controls (or events) fall in few
        episodes. With fewer than 3 episodes, or when one episode alone determines the difference,
        ``se`` and the rest are NaN. ``n_event_episodes`` / ``n_control_episodes`` count the episodes
        holding events / controls (an episode can hold both); below 10 of either a
        :class:`~liqtools.analysis.momentum_stats.FewEpisodesWarning` is issued and :meth:`summary` says so.
    paths
        Mean cumulative log return (signed by the approach) from the event's close, per candle offset
        ``-lookback .. max(horizons)``: ``event_mean, event_low, event_high, control_mean, control_low,
        control_high, n_events, n_controls`` (interval by the same inference by episode, windows of ``|k|``).
    bands, control_bands
        The bands studied and the control bands (``low, high, side``).
    options
        The keyword options used.
    """

    events: pd.DataFrame
    controls: pd.DataFrame
    effects: pd.DataFrame
    paths: pd.DataFrame
    bands: pd.DataFrame
    control_bands: pd.DataFrame
    options: Mapping[str, Any] = field(default_factory=dict)

    def effect(self, measure: str, horizon: int) -> pd.Series:
        """The effects row for one measure and horizon."""
        rows = self.effects[(self.effects["measure"] == measure) & (self.effects["horizon"] == horizon)]
        if rows.empty:
            raise DataError(f"no effect for measure {measure!r} at horizon {horizon}; measures {MEASURES}")
        return rows.iloc[0]

    def summary(self) -> str:
        """Plain-text table of the effects with the counts, the test and the caveats."""
        e = self.effects
        head = (
            f"Event study: {len(self.events)} entries into {len(self.bands)} band(s), "
            f"{len(self.controls)} control entries into {len(self.control_bands)} thin band(s); "
            f"rearm {self.options.get('rearm_pct')}%, lookback {self.options.get('lookback')} candles."
        )
        if e.empty:
            return head + "\n(no events)"
        shown = pd.DataFrame(
            {
                "horizon": e["horizon"],
                "measure": e["measure"],
                "effect": e["effect"].map(lambda x: f"{x:+.5f}"),
                "se": e["se"].map(lambda x: f"{x:.5f}"),
                "p": e["pvalue"].map(lambda x: f"{x:.3f}"),
                "95% CI": [f"[{lo:+.5f}, {hi:+.5f}]" for lo, hi in zip(e["ci_low"], e["ci_high"])],
                "events": [f"{a} ({b} ep.)" for a, b in zip(e["n_events"], e["n_event_episodes"])],
                "controls": [f"{a} ({b} ep.)" for a, b in zip(e["n_controls"], e["n_control_episodes"])],
                "dof": e["dof"].map(lambda x: f"{x:.1f}"),
            }
        )
        lines = [head, shown.to_string(index=False)]
        lines.append(
            "effect = events - controls (OLS); return: log return from the event close, signed so that > 0 continues "
            "the move into the band; velocity: |log return| per candle; volume_ratio: mean volume over the trailing "
            "median; velocity and volume_ratio are compared at equal trailing volatility. Standard errors by episode "
            "of overlapping windows (CR2 small-sample correction, Bartlett weights across neighbouring episodes), "
            "t with Satterthwaite dof. Events overlap in time and bands may be chosen with hindsight: treat p-values "
            "as descriptive unless the bands were fixed in advance."
        )
        few = few_episodes(e, with_controls=self.options.get("controls") is not None)
        if not few.empty:
            ep_ev = int(few["n_event_episodes"].min())
            ep_ct = int(few["n_control_episodes"].min())
            hs = ", ".join(str(h) for h in sorted(set(few["horizon"])))
            lines.append(
                f"Few episodes: at horizon(s) {hs} the tests rest on as few as {ep_ev} episode(s) of events and "
                f"{ep_ct} of controls (fewer than {MIN_EPISODES}); their p-values and intervals are rough estimates."
            )
        return "\n".join(lines)
