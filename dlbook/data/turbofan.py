"""A seeded run-to-failure simulator of a fleet of engines with many sensors, modelled after
NASA's C-MAPSS turbofan degradation data (Saxena, Goebel, Simon and Eklund 2008).

C-MAPSS simulated a fleet of turbofan engines, each starting with its own unknown amount of
manufacturing variation and wear, flying cycle after cycle under changing operating conditions
until a fault in a module (the high-pressure compressor in the FD001 subset) grows to failure.
Every cycle records three operating settings and 21 sensors (temperatures, pressures, speeds,
flows). The public files (NASA Prognostics Data Repository) are a download, so this module
generates data of the same shape and the same difficulties:

- **A health index per unit** falls exponentially with use, as in the C-MAPSS damage model:
  ``health(t) = 1 - d0 - c * (exp(r * t) - 1)``, with initial wear ``d0`` (uniform on
  ``[0, initial_wear]``), a per-unit wear rate ``r`` (log-normal, so lifetimes spread from
  roughly 100 to 320 cycles at the default ``mean_life`` of 200) and ``c = 0.02``. The unit
  fails at the first cycle where health reaches 0. Early in life health is nearly flat, so
  the sensors say little about how long a young engine will last: this is why RUL targets
  are usually capped (see :func:`dlbook.maintenance.rul_targets`).
- **Operating conditions**: every cycle flies in one of ``n_conditions`` regimes (1 as in
  FD001/FD003, 6 as in FD002/FD004), given by three settings (altitude in kft, Mach number,
  throttle resolver angle; from the six C-MAPSS regimes) with a little noise. Each regime
  shifts every sensor's level by far more than degradation does, so raw sensors must be
  normalised per regime (:func:`dlbook.maintenance.normalize_by_condition`).
- **Sensors**: the 14 C-MAPSS sensors most papers keep (``T24 T30 T50 P30 Nf Nc Ps30 phi NRf
  NRc BPR htBleed W31 W32``), plus ``n_flat`` that do not respond to wear (as seven of the
  21 real ones do not). Each informative sensor moves with damage ``1 - health`` with its
  own sign and strength (temperatures and bleed rise, pressures, flows and ``phi`` fall),
  carries measurement noise (signal-to-noise from weak to strong), and a slow per-unit
  calibration drift unrelated to wear.

Columns: ``unit``, ``cycle`` (1, 2, ... up to the failure cycle), ``condition`` (the regime,
an int; in the real data you recover it by clustering the settings), ``altitude``,
``mach``, ``throttle``, then one column per sensor. :func:`simulate` runs every unit to
failure (a training fleet); :func:`truncate` cuts each unit at a random cycle before failure
and returns the true remaining useful life, like C-MAPSS's test files and their RUL files.

**Parameters**: ``n_units``, ``n_conditions`` (1-6), ``mean_life`` (cycles), ``initial_wear``
(the largest ``d0``), ``noise`` (scales every sensor's measurement noise), ``drift`` (scales
the calibration drift), ``n_flat``, ``seed``.

**Known simplifications**: one fault mode; wear rate does not depend on the regime flown;
sensor responses are linear in damage plus a regime offset, while real engine physics couples
them nonlinearly through the control system; noise is Gaussian and independent per cycle;
no maintenance, no sensor dropouts or outliers; failure happens exactly at a health threshold
everyone agrees on. Models will look better here than on C-MAPSS, and C-MAPSS itself is
cleaner than a real fleet.

>>> fleet = simulate(n_units=3, seed=0)
>>> list(fleet.columns[:6])
['unit', 'cycle', 'condition', 'altitude', 'mach', 'throttle']
>>> fleet.groupby("unit").cycle.max().between(100, 500).all()
np.True_
>>> test, rul = truncate(fleet, seed=0)
>>> bool((test.groupby("unit").cycle.max() + rul == fleet.groupby("unit").cycle.max()).all())
True
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dlbook.checks import positive_int, positive_number

__all__ = ["SENSORS", "SETTINGS", "health", "simulate", "truncate"]

SENSORS = ("T24", "T30", "T50", "P30", "Nf", "Nc", "Ps30", "phi", "NRf", "NRc", "BPR",
           "htBleed", "W31", "W32")
SETTINGS = ("altitude", "mach", "throttle")
_C = 0.02
# The six C-MAPSS regimes: altitude (kft), Mach, throttle resolver angle (deg).
_REGIMES = np.array([[0.0, 0.0, 100.0], [10.0, 0.25, 100.0], [20.0, 0.70, 100.0],
                     [25.0, 0.62, 60.0], [35.0, 0.84, 100.0], [42.0, 0.84, 100.0]])
# Sensor level (a typical FD001 value) and how strongly (in noise units at full damage, signed)
# each sensor responds to wear.
_LEVEL = np.array([642.0, 1590.0, 1409.0, 553.0, 2388.0, 9065.0, 47.5, 521.0, 2388.0, 8140.0,
                   8.44, 393.0, 38.8, 23.3])
_NOISE = np.array([0.5, 6.0, 9.0, 0.9, 0.07, 22.0, 0.27, 0.74, 0.07, 19.0, 0.037, 1.5, 0.18,
                   0.11])
_RESPONSE = np.array([6.0, 5.0, 7.0, -6.0, 5.0, 3.0, 7.0, -7.0, 5.0, 2.5, 5.5, 6.0, -6.0, -6.0])


def health(t: np.ndarray, d0: float, rate: float) -> np.ndarray:
    """The health index after ``t`` cycles for initial wear ``d0`` and wear rate ``rate``.

    >>> health(np.array([0.0]), 0.1, 0.02).round(3).tolist()
    [0.9]
    """
    return 1.0 - d0 - _C * (np.exp(rate * np.asarray(t, dtype=float)) - 1.0)


def simulate(n_units: int = 100, *, n_conditions: int = 1, mean_life: float = 200.0,
             initial_wear: float = 0.15, noise: float = 1.0, drift: float = 1.0,
             n_flat: int = 0, seed: int = 0) -> pd.DataFrame:
    """A fleet of ``n_units`` engines, each run from cycle 1 to failure.

    >>> frame = simulate(n_units=2, n_conditions=6, n_flat=2, seed=1)
    >>> frame.condition.nunique(), [c for c in frame.columns if c.startswith("flat")]
    (6, ['flat_1', 'flat_2'])
    """
    n_units = positive_int(n_units, "n_units")
    n_conditions = positive_int(n_conditions, "n_conditions")
    if n_conditions > len(_REGIMES):
        raise ValueError(f"n_conditions must be 1 to {len(_REGIMES)}, got {n_conditions}")
    mean_life = positive_number(mean_life, "mean_life", hint="cycles to failure")
    if not 0 <= initial_wear < 0.5:
        raise ValueError(f"initial_wear must lie in [0, 0.5), got {initial_wear!r}")
    noise = positive_number(noise, "noise", hint="1 is the C-MAPSS-like level")
    if isinstance(drift, bool) or not isinstance(drift, (int, float)) or drift < 0:
        raise ValueError(f"drift must be a number >= 0 (0 turns it off), got {drift!r}")
    if isinstance(n_flat, bool) or not isinstance(n_flat, int) or n_flat < 0:
        raise ValueError(f"n_flat must be an int >= 0, got {n_flat!r}")
    rng = np.random.default_rng(seed)
    regimes = _REGIMES[:n_conditions] if n_conditions > 1 else _REGIMES[:1]
    # Each regime shifts each sensor by a few percent of its level: far more than wear does.
    shift = 1.0 + 0.04 * rng.standard_normal((len(regimes), len(SENSORS)))
    shift[0] = 1.0
    flat_level = rng.uniform(10, 100, n_flat)
    frames = []
    for unit in range(1, n_units + 1):
        d0 = rng.uniform(0, initial_wear)
        rate = np.log(1 + 1 / _C) / mean_life * np.exp(0.2 * rng.standard_normal())
        life = int(np.floor(np.log(1 + (1 - d0) / _C) / rate)) + 1   # first cycle with health <= 0
        t = np.arange(1, life + 1)
        damage = 1.0 - np.clip(health(t, d0, rate), 0.0, 1.0)
        cond = rng.integers(0, len(regimes), life)
        settings = regimes[cond] * (1 + 0.002 * rng.standard_normal((life, 3)))
        calib = drift * rng.normal(0, 1.0, len(SENSORS)) * t[:, None] / 300.0
        z = damage[:, None] * _RESPONSE + calib + noise * rng.standard_normal((life, len(SENSORS)))
        values = _LEVEL * shift[cond] + z * _NOISE
        frame = pd.DataFrame(values, columns=list(SENSORS))
        for j, level in enumerate(flat_level, 1):
            frame[f"flat_{j}"] = level * shift[cond, j % len(SENSORS)] \
                + noise * 0.01 * level * rng.standard_normal(life)
        frame.insert(0, "unit", unit)
        frame.insert(1, "cycle", t)
        frame.insert(2, "condition", cond)
        for k, name in enumerate(SETTINGS):
            frame.insert(3 + k, name, settings[:, k])
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def truncate(fleet: pd.DataFrame, *, min_cycles: int = 31, max_rul: int | None = None,
             seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Cut every unit at a random cycle (at least ``min_cycles`` observed, at least one cycle
    before failure and, if given, at most ``max_rul`` cycles before it) and return the observed
    part and the true RUL per unit. (C-MAPSS's FD001 test RULs run from 7 to 145.)

    >>> obs, rul = truncate(simulate(n_units=2, seed=0), seed=1)
    >>> rul.index.name, bool((rul >= 1).all())
    ('unit', True)
    """
    needed = {"unit", "cycle"}
    if not needed <= set(fleet.columns):
        raise ValueError(f"fleet must have columns {sorted(needed)}; pass simulate()'s frame")
    min_cycles = positive_int(min_cycles, "min_cycles")
    rng = np.random.default_rng(seed)
    life = fleet.groupby("unit").cycle.max()
    if (life <= min_cycles).any():
        short = life[life <= min_cycles].index.tolist()
        raise ValueError(f"units {short} fail within {min_cycles} cycles; lower min_cycles")
    if max_rul is not None:
        max_rul = positive_int(max_rul, "max_rul")
    low = life * 0 + min_cycles if max_rul is None else np.maximum(min_cycles, life - max_rul)
    cut = pd.Series([int(rng.integers(a, n)) for a, n in zip(low, life, strict=True)],
                    index=life.index)
    observed = fleet[fleet.cycle <= fleet.unit.map(cut)].reset_index(drop=True)
    rul = (life - cut).rename("rul")
    rul.index.name = "unit"
    return observed, rul
