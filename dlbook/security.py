"""Network intrusion detection on flow records: per-host time windows, a robust z-score baseline,
and two deep detectors trained on benign traffic only.

- :func:`host_windows` — aggregates flow records into one row per internal host and time window
  (flows, distinct ports and peers, bytes and failed connections, each direction), with the
  window's label: the attack it belongs to when the host is the attack's actor.
- :func:`log_features` — ``log1p`` of the counts: heavy-tailed volumes on a scale a model likes.
- :class:`RobustZ` — per-group (host, hour of the week...) median and MAD; the score of a window
  is its largest robust z over the features. The baseline a deep detector must beat.
- :func:`dense_autoencoder`, :func:`reconstruction_error` — a small dense autoencoder that
  reconstructs a window's features given its context (time of day, weekday); its error is the
  anomaly score.
- :func:`host_sequences`, :func:`sequence_forecaster` — the last ``steps`` windows of a host,
  and an LSTM (or 1-D CNN) that predicts the next window from them; the prediction error is
  the score.
- :func:`alerts_per_day` — what a false-positive rate means for the analysts.

>>> from dlbook.data import netflows
>>> sim = netflows.simulate(days=1, n_workstations=2, seed=0)
>>> w = host_windows(sim.flows, n_hosts=sim.n_internal, days=sim.days)
>>> len(w) == 7 * 288, list(w.columns[:4])
(True, ['host', 'window', 'day', 'hour'])
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from dlbook.checks import positive_int, positive_number
from dlbook.config import import_keras

keras = import_keras()

__all__ = [
    "FAILED_FLAGS", "FEATURES", "RobustZ", "alerts_per_day", "context_features",
    "dense_autoencoder", "host_sequences", "host_windows", "log_features", "reconstruction_error",
    "sequence_forecaster",
]

FEATURES = ("flows_out", "flows_in", "dst_hosts_out", "dst_ports_out", "src_hosts_in",
            "bytes_out", "bytes_in", "failed_out", "failed_in")
"""The per-window features: counts per direction, as seen by the host (bytes it sent/received
as originator or as responder)."""
FAILED_FLAGS = ("S0", "REJ")
"""Connection states that count as failed: no answer, or refused."""

def _norm_ppf(q: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(q)


_REQUIRED = ("time", "src", "dst", "dst_port", "bytes_out", "bytes_in", "flags", "attack", "actor")


def _frame(flows: Any) -> pd.DataFrame:
    if not isinstance(flows, pd.DataFrame):
        raise TypeError(f"flows must be a pandas DataFrame of flow records, got {type(flows).__name__}")
    missing = [c for c in _REQUIRED if c not in flows.columns]
    if missing:
        raise ValueError(f"flows lack the columns {missing}; netflows.simulate() writes them all")
    return flows


def host_windows(flows: pd.DataFrame, *, n_hosts: int, days: Sequence[int],
                 minutes: int = 5) -> pd.DataFrame:
    """One row per internal host (ids ``0 .. n_hosts-1``) and ``minutes``-long window of ``days``,
    quiet windows included (all zero), with the :data:`FEATURES` and the label columns:

    ``kind`` — the attack kind when the window holds flows of an attack whose actor is this host,
    else ``"normal"``; ``touched`` — the window holds some other attack's flows (a scan's
    targets): neither clean normal traffic nor the attack itself, so evaluations drop it.

    >>> flows = pd.DataFrame({"time": [10.0, 20.0, 400.0], "src": [0, 0, 5], "dst": [5, 1, 0],
    ...     "dst_port": [443, 22, 80], "bytes_out": [100, 50, 10], "bytes_in": [1000, 0, 20],
    ...     "flags": ["SF", "S0", "SF"], "attack": ["normal"] * 3, "actor": [-1] * 3})
    >>> w = host_windows(flows, n_hosts=2, days=[0])
    >>> w.loc[0, ["flows_out", "dst_hosts_out", "bytes_out", "bytes_in", "failed_out"]].tolist()
    [2, 2, 150, 1000, 1]
    >>> w.loc[288, ["flows_in", "src_hosts_in", "failed_in"]].tolist()  # host 1, window 0
    [1, 1, 1]
    >>> w.loc[1, ["flows_out", "flows_in", "bytes_out", "bytes_in"]].tolist()  # host 0, window 1
    [0, 1, 20, 10]
    """
    flows = _frame(flows)
    n_hosts = positive_int(n_hosts, "n_hosts")
    minutes = positive_int(minutes, "minutes")
    if 1440 % minutes:
        raise ValueError(f"minutes must divide a day (1440) evenly, e.g. 5, 10 or 15; got {minutes}")
    days = tuple(int(d) for d in days)
    if not days:
        raise ValueError("days must name at least one day")
    per_day = 1440 // minutes
    day_pos = {d: i for i, d in enumerate(days)}
    t = flows["time"].to_numpy(float)
    day = (t // 86_400).astype(int)
    pos = np.array([day_pos.get(d, -1) for d in range(day.max() + 1)])[day] if len(t) else day
    keep = pos >= 0
    w_local = ((t % 86_400) // (minutes * 60)).astype(int)
    win = (pos * per_day + w_local)[keep]
    n_win = len(days) * per_day
    src, dst = flows["src"].to_numpy()[keep], flows["dst"].to_numpy()[keep]
    port = flows["dst_port"].to_numpy()[keep]
    b_out, b_in = flows["bytes_out"].to_numpy(float)[keep], flows["bytes_in"].to_numpy(float)[keep]
    failed = np.isin(flows["flags"].astype(str).to_numpy()[keep], FAILED_FLAGS)
    attack = flows["attack"].astype(str).to_numpy()[keep]
    actor = flows["actor"].to_numpy()[keep]
    size = n_hosts * n_win
    cols: dict[str, np.ndarray] = {}
    for side, host, peer in (("out", src, dst), ("in", dst, src)):
        inside = host < n_hosts
        key = host[inside] * n_win + win[inside]
        cols[f"flows_{side}"] = np.bincount(key, minlength=size)
        cols[f"failed_{side}"] = np.bincount(key, weights=failed[inside], minlength=size)
        sent = b_out if side == "out" else b_in
        got = b_in if side == "out" else b_out
        cols[f"sent_{side}"] = np.bincount(key, weights=sent[inside], minlength=size)
        cols[f"got_{side}"] = np.bincount(key, weights=got[inside], minlength=size)
        distinct = np.unique(np.stack([key, peer[inside]]), axis=1)[0]
        cols[f"peers_{side}"] = np.bincount(distinct, minlength=size)
        if side == "out":
            ports = np.unique(np.stack([key, port[inside]]), axis=1)[0]
            cols["ports_out"] = np.bincount(ports, minlength=size)
    hosts = np.repeat(np.arange(n_hosts), n_win)
    window = np.tile(np.arange(n_win), n_hosts)
    out = pd.DataFrame({
        "host": hosts, "window": window,
        "day": np.array(days)[window // per_day], "hour": (window % per_day) * minutes / 60,
        "flows_out": cols["flows_out"], "flows_in": cols["flows_in"],
        "dst_hosts_out": cols["peers_out"], "dst_ports_out": cols["ports_out"],
        "src_hosts_in": cols["peers_in"],
        "bytes_out": (cols["sent_out"] + cols["sent_in"]).astype(np.int64),
        "bytes_in": (cols["got_out"] + cols["got_in"]).astype(np.int64),
        "failed_out": cols["failed_out"].astype(np.int64), "failed_in": cols["failed_in"].astype(np.int64),
    })
    kind = np.full(size, "normal", dtype=object)
    touched = np.zeros(size, bool)
    bad = attack != "normal"
    for host in (src[bad], dst[bad]):
        inside = host < n_hosts
        key = host[inside] * n_win + win[bad][inside]
        is_actor = host[inside] == actor[bad][inside]
        kind[key[is_actor]] = attack[bad][inside][is_actor]
        touched[key[~is_actor]] = True
    out["kind"] = kind
    out["touched"] = touched & (kind == "normal")
    return out


def log_features(windows: pd.DataFrame, features: Sequence[str] = FEATURES) -> np.ndarray:
    """``log1p`` of the feature columns as float32 ``(n, len(features))``.

    >>> log_features(pd.DataFrame({"flows_out": [0, np.e - 1]}), ["flows_out"]).round(3).tolist()
    [[0.0], [1.0]]
    """
    missing = [f for f in features if f not in windows.columns]
    if missing:
        raise ValueError(f"windows lack the features {missing}; make them with host_windows()")
    values = windows[list(features)].to_numpy(float)
    if (values < 0).any():
        raise ValueError("feature counts must be >= 0 before log1p")
    return np.log1p(values).astype("float32")


def context_features(windows: pd.DataFrame, *, start_weekday: int = 0) -> np.ndarray:
    """Time of day as a point on a circle (sin, cos) and a weekend flag, float32 ``(n, 3)``.

    >>> context_features(pd.DataFrame({"hour": [6.0], "day": [5]})).round(3).tolist()
    [[1.0, 0.0, 1.0]]
    """
    angle = 2 * np.pi * windows["hour"].to_numpy(float) / 24
    weekend = ((windows["day"].to_numpy() + start_weekday) % 7 >= 5).astype(float)
    return np.stack([np.sin(angle), np.cos(angle), weekend], axis=1).astype("float32")


class RobustZ:
    """Robust z-scores per group: ``(x - median) / max(1.4826 * MAD, min_scale)``, with the
    median and MAD (median absolute deviation) of each feature fitted per group key on benign
    windows. Groups unseen in ``fit`` fall back to the statistics over all windows.

    :meth:`score` is the largest z over the features (one-sided: attacks *add* traffic); the
    floor ``min_scale`` keeps a feature that is almost always zero (failed connections) from
    turning one stray failure into an infinite score.

    >>> x = np.array([[1.0], [2.0], [3.0], [10.0], [20.0], [30.0]])
    >>> rz = RobustZ(min_scale=0.1).fit(x, groups=["a"] * 3 + ["b"] * 3)
    >>> rz.transform(np.array([[4.0], [4.0]]), groups=["a", "b"]).round(2).ravel().tolist()
    [1.35, -1.08]
    """

    def __init__(self, min_scale: float = 0.5, tail: float | None = 0.99) -> None:
        self.min_scale = positive_number(min_scale, "min_scale", hint="the smallest scale allowed")
        if tail is not None and (isinstance(tail, bool) or not isinstance(tail, (int, float))
                                 or not 0.5 < tail < 1):
            raise ValueError(f"tail must be a quantile between 0.5 and 1 (e.g. 0.99) or None, got {tail!r}")
        self.tail = tail
        self.stats_: dict[Hashable, tuple[np.ndarray, np.ndarray]] = {}

    @staticmethod
    def _check(x: Any, groups: Any) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(x, dtype=float)
        if x.ndim != 2 or len(x) == 0:
            raise ValueError(f"x must be a non-empty 2-D array (windows, features), got shape {x.shape}")
        if groups is None:
            groups = np.zeros(len(x), int)
        groups = np.asarray(groups)
        if groups.shape != (len(x),):
            raise ValueError(f"groups must give one key per row of x ({len(x)}), got shape {groups.shape}")
        return x, groups

    def _stats(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        med = np.median(x, axis=0)
        scale = 1.4826 * np.median(np.abs(x - med), axis=0)
        if self.tail is not None:  # Gaussian: (q99 - median) / 2.326 is sigma again
            scale = np.maximum(scale, (np.quantile(x, self.tail, axis=0) - med) / _norm_ppf(self.tail))
        return med, np.maximum(scale, self.min_scale)

    def fit(self, x: Any, groups: Any = None) -> RobustZ:
        x, groups = self._check(x, groups)
        self.n_features_ = x.shape[1]
        self.global_ = self._stats(x)
        order = np.argsort(groups, kind="stable")
        keys, starts = np.unique(groups[order], return_index=True)
        for key, rows in zip(keys, np.split(order, starts[1:]), strict=True):
            self.stats_[key.item() if hasattr(key, "item") else key] = self._stats(x[rows])
        return self

    def transform(self, x: Any, groups: Any = None) -> np.ndarray:
        """The robust z of every feature, shape like ``x``."""
        if not self.stats_:
            raise ValueError("this RobustZ is not fitted yet; call fit(benign_x, groups) first")
        x, groups = self._check(x, groups)
        if x.shape[1] != self.n_features_:
            raise ValueError(f"x has {x.shape[1]} features, but fit saw {self.n_features_}")
        med = np.empty_like(x)
        scale = np.empty_like(x)
        for key in np.unique(groups):
            rows = groups == key
            m, s = self.stats_.get(key.item() if hasattr(key, "item") else key, self.global_)
            med[rows], scale[rows] = m, s
        return (x - med) / scale

    def score(self, x: Any, groups: Any = None) -> np.ndarray:
        """The anomaly score of each row: its largest robust z over the features."""
        return self.transform(x, groups).max(axis=1)


def dense_autoencoder(n_features: int, n_context: int = 0, *, hidden: Sequence[int] = (32, 16),
                      code: int = 4, name: str = "window_autoencoder") -> keras.Model:
    """A dense autoencoder that maps ``[features, context]`` (one vector of length
    ``n_features + n_context``) to a reconstruction of the ``n_features`` features alone,
    through a bottleneck of ``code`` units: the context (time of day) conditions the
    reconstruction but is not itself scored.

    >>> model = dense_autoencoder(9, 3)
    >>> model.input_shape, model.output_shape
    ((None, 12), (None, 9))
    """
    n_features = positive_int(n_features, "n_features")
    if not isinstance(n_context, int) or n_context < 0:
        raise ValueError(f"n_context must be an int >= 0, got {n_context!r}")
    if isinstance(hidden, int):
        raise ValueError(f"hidden is a sequence of layer widths, e.g. (32, 16) or ({hidden},)")
    hidden = [positive_int(h, "each hidden width") for h in hidden]
    code = positive_int(code, "code")
    inputs = keras.Input((n_features + n_context,), name="window")
    x = inputs
    for units in hidden:
        x = keras.layers.Dense(units, activation="relu")(x)
    x = keras.layers.Dense(code, name="code")(x)
    for units in reversed(hidden):
        x = keras.layers.Dense(units, activation="relu")(x)
    outputs = keras.layers.Dense(n_features, name="reconstruction")(x)
    return keras.Model(inputs, outputs, name=name)


def reconstruction_error(model: keras.Model, x: Any, target: Any, *, reduce: str = "mse",
                         batch_size: int = 4096) -> np.ndarray:
    """The error per row between ``model(x)`` and ``target`` (the features the model
    reconstructs or predicts), computed in batches: the mean squared error over the features
    (``reduce="mse"``), or the largest excess of a feature over its reconstruction
    (``reduce="max"``: one-sided, like :meth:`RobustZ.score`, so one feature far above what
    the others imply is not averaged away).

    >>> m = dense_autoencoder(2, 1, hidden=(4,), code=1)
    >>> reconstruction_error(m, np.zeros((5, 3)), np.zeros((5, 2))).shape
    (5,)
    """
    if reduce not in ("mse", "max"):
        raise ValueError(f"reduce must be 'mse' or 'max', got {reduce!r}")
    x = np.asarray(x, dtype="float32")
    target = np.asarray(target, dtype="float32")
    if len(x) != len(target):
        raise ValueError(f"x and target need one row each per item, got {len(x)} and {len(target)}")
    pred = model.predict(x, batch_size=positive_int(batch_size, "batch_size"), verbose=0)
    if pred.shape != target.shape:
        raise ValueError(f"the model outputs shape {pred.shape[1:]}, target has {target.shape[1:]}")
    if reduce == "mse":
        return np.mean((pred - target) ** 2, axis=1)
    return np.max(target - pred, axis=1)


def host_sequences(values: Any, hosts: Any, *, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """For each row ``i`` whose host has ``steps`` earlier rows, the window of those rows
    ``values[i - steps : i]`` (the model's input) and the row's index ``i`` (its target).

    ``values`` is ``(n, d)`` in time order within each host (rows of one host contiguous, as
    :func:`host_windows` writes them). Returns ``(x, targets)`` with ``x`` shaped
    ``(len(targets), steps, d)``; the first ``steps`` rows of every host have no window.

    >>> x, t = host_sequences(np.arange(10.0)[:, None], [0] * 5 + [1] * 5, steps=3)
    >>> t.tolist(), x[0, :, 0].tolist(), x[2, :, 0].tolist()
    ([3, 4, 8, 9], [0.0, 1.0, 2.0], [5.0, 6.0, 7.0])
    """
    values = np.asarray(values, dtype="float32")
    hosts = np.asarray(hosts)
    steps = positive_int(steps, "steps")
    if values.ndim != 2 or hosts.shape != (len(values),):
        raise ValueError(f"values must be (n, d) and hosts (n,), got {values.shape} and {hosts.shape}")
    change = np.flatnonzero(np.diff(hosts) != 0) + 1
    starts = np.concatenate([[0], change])
    if len(np.unique(hosts)) != len(starts):
        raise ValueError("the rows of each host must be contiguous; sort by host, then time")
    ends = np.concatenate([change, [len(hosts)]])
    targets = np.concatenate([np.arange(s + steps, e) for s, e in zip(starts, ends, strict=True)])
    if targets.size == 0:
        raise ValueError(f"no host has more than steps={steps} rows; use fewer steps")
    view = np.lib.stride_tricks.sliding_window_view(values, steps, axis=0)  # (n-steps+1, d, steps)
    x = view[targets - steps].transpose(0, 2, 1)
    return np.ascontiguousarray(x), targets


def sequence_forecaster(steps: int, n_inputs: int, n_outputs: int, *, units: int = 32,
                        kind: str = "lstm", name: str = "next_window") -> keras.Model:
    """A model that reads ``steps`` past windows of ``n_inputs`` values each and predicts the
    next window's ``n_outputs`` features: an LSTM (``kind="lstm"``) or a causal 1-D CNN
    (``kind="conv"``: two dilated convolutions, then the last step).

    >>> sequence_forecaster(12, 12, 9).output_shape
    (None, 9)
    >>> sequence_forecaster(12, 12, 9, kind="conv").output_shape
    (None, 9)
    """
    steps = positive_int(steps, "steps")
    n_inputs, n_outputs = positive_int(n_inputs, "n_inputs"), positive_int(n_outputs, "n_outputs")
    units = positive_int(units, "units")
    inputs = keras.Input((steps, n_inputs), name="past_windows")
    if kind == "lstm":
        x = keras.layers.LSTM(units)(inputs)
    elif kind == "conv":
        x = keras.layers.Conv1D(units, 3, padding="causal", activation="relu")(inputs)
        x = keras.layers.Conv1D(units, 3, padding="causal", dilation_rate=2, activation="relu")(x)
        x = keras.layers.Cropping1D((steps - 1, 0), name="last_step")(x)
        x = keras.layers.Flatten()(x)
    else:
        raise ValueError(f"kind must be 'lstm' or 'conv', got {kind!r}")
    x = keras.layers.Dense(units, activation="relu")(x)
    outputs = keras.layers.Dense(n_outputs, name="next_features")(x)
    return keras.Model(inputs, outputs, name=name)


def alerts_per_day(fpr: float, n_hosts: int, *, minutes: int = 5) -> float:
    """Expected false alarms per day when each of ``n_hosts`` hosts is scored every ``minutes``
    minutes at false-positive rate ``fpr``.

    >>> alerts_per_day(0.01, 30)
    86.4
    """
    if isinstance(fpr, bool) or not isinstance(fpr, (int, float, np.floating)) or not 0 <= fpr <= 1:
        raise ValueError(f"fpr must be a rate from 0 to 1 (0.01 is 1 %), got {fpr!r}")
    n_hosts = positive_int(n_hosts, "n_hosts")
    minutes = positive_int(minutes, "minutes")
    return round(float(fpr) * n_hosts * 1440 / minutes, 6)
