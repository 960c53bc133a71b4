"""A seeded simulator of network flow records (NetFlow/IPFIX-like) for a small organisation,
with four kinds of attack mixed into its benign traffic.

No real flow capture can ship with this book offline (the public intrusion-detection sets are
gigabytes and carry their own licences), so this module *models* one. What it models:

- **The organisation**: ``n_workstations`` workstations (a few of them administrators who use
  SSH) and five servers: ``web`` (public, answers clients on the internet), ``dns`` (resolves
  for everyone and forwards to the internet), ``mail``, ``file`` (SMB file share) and ``ssh``
  (the bastion host). Outside: a pool of ``n_external`` internet hosts whose popularity follows a
  Zipf law, as web destinations do.
- **Benign traffic**: workstation activity follows a working day (08:00-18:00, a lunch dip, a
  little at night) and a working week (weekends at about a tenth); each host has its own level
  and each day its own mood (log-normal multipliers), and on some days a workstation is off
  entirely. Services: HTTPS/HTTP to the internet, DNS to the resolver, IMAP/SMTP to the mail
  server, SMB to the file server, SSH from admins, and background updates/NTP day and night.
  Transfer sizes are heavy-tailed (log-normal bodies, occasional Pareto-sized downloads and
  uploads), as measured flow sizes are. Servers answer the internet (web, mail), forward DNS,
  and receive a low, steady drizzle of failed SSH probes from the internet, as every
  public SSH port does. About 2 % of web connections fail (no answer or refused).
- **Attacks** (:class:`Attack`), shaped after the scenarios of the CIC-IDS2017 and UNSW-NB15
  dataset descriptions (Sharafaldin et al. 2018; Moustafa & Slay 2015):
  ``scan`` a compromised workstation probes many ports of a few internal hosts (one-packet
  flows, most unanswered or refused); ``bruteforce`` one internet host tries SSH logins on the
  bastion (many short, small, complete connections, like SSH-Patator); ``dos`` a SYN flood
  from many spoofed sources on the web server; ``exfiltration`` a workstation sends a steady
  extra ``rate`` bytes per second to one new external host over HTTPS for hours: the hard one,
  because its flows look like ordinary uploads.

Each flow record has: ``time`` (seconds since midnight of day 0, a Monday by default),
``src``/``dst`` (integer host ids: internal hosts are ``0 .. n_internal - 1``, see ``hosts``;
larger ids are external), ``dst_port``, ``proto`` (``tcp``/``udp``), ``duration`` (s),
``bytes_out``/``bytes_in`` (sent by the source / by the destination), ``packets``, ``flags``
(Zeek-style connection states: ``SF`` complete, ``S0`` no answer, ``REJ`` refused, ``RSTO``
aborted by the originator), and ``attack`` (``"normal"`` or the attack kind), ``actor`` (the
internal host the attack is *about*: scanner, victim server, exfiltrating workstation; -1 for
normal flows).

**Parameters** of :func:`simulate`: ``days`` (which days to generate: an int ``n`` for days
``0 .. n-1`` or an iterable of day numbers), ``n_workstations``, ``n_admins`` (default: 3, or all workstations if fewer), ``n_external``,
``attacks`` (a list of :class:`Attack`), ``seed``. Every day's benign traffic comes from its own
random stream (``seed``, day), so generating days 10-13 alone gives exactly the traffic they have
inside a 14-day run, and changing the attacks never changes the benign traffic.

**Known simplifications**: one flow per connection, no long-lived flows split by export timeouts;
no NAT, DHCP or address churn; no traffic between workstations; every service has one fixed
port; no payload, no TLS fingerprints, no user accounts; no seasonality beyond the week; the
benign process is stationary (no new software, no new users, no holidays); attacks are
textbook-clean and their labels exact. Real traffic is messier in every one of these ways,
which is why detectors look better here than they would on a real network.

>>> sim = simulate(days=1, n_workstations=4, attacks=[Attack("scan", start=10.0, hours=0.5,
...                                                          host=0)], seed=0)
>>> sorted(sim.flows.columns)[:4], len(sim.hosts)
(['actor', 'attack', 'bytes_in', 'bytes_out'], 9)
>>> scan = sim.flows[sim.flows.attack == "scan"]
>>> bool((scan.src == 0).all()), int(scan.dst_port.nunique()) > 100
(True, True)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dlbook.checks import positive_int, positive_number

__all__ = ["ATTACK_KINDS", "SERVERS", "Attack", "NetFlows", "attack_schedule", "simulate"]

ATTACK_KINDS = ("scan", "bruteforce", "dos", "exfiltration")
SERVERS = ("web", "dns", "mail", "file", "ssh")
DAY = 86_400.0
_BIN = 300.0  # rates are set per 5-minute bin; flow times are uniform inside a bin
_DEFAULT_INTENSITY = {"scan": 1.0, "bruteforce": 1.0, "dos": 1.0, "exfiltration": 20_000.0}


@dataclass(frozen=True)
class Attack:
    """One attack episode.

    ``start`` is in hours since midnight of day 0, ``hours`` its length, ``host`` the internal
    host it is about (the scanning or exfiltrating workstation, the attacked server; for
    ``bruteforce`` and ``dos`` it defaults to the ``ssh`` and ``web`` server when -1), and
    ``intensity`` a multiplier of its default rate; for ``exfiltration`` it is the extra upload
    rate in bytes per second (default 20,000 B/s).

    >>> Attack("dos", start=34.0, hours=0.5).kind
    'dos'
    >>> Attack("ddos", start=1.0, hours=1.0)
    Traceback (most recent call last):
        ...
    ValueError: unknown attack kind 'ddos'; known: scan, bruteforce, dos, exfiltration
    """

    kind: str
    start: float
    hours: float
    host: int = -1
    intensity: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in ATTACK_KINDS:
            raise ValueError(f"unknown attack kind {self.kind!r}; known: {', '.join(ATTACK_KINDS)}")
        if isinstance(self.start, bool) or not isinstance(self.start, (int, float)) or self.start < 0:
            raise ValueError(f"start is in hours since day 0 and must be >= 0, got {self.start!r}")
        positive_number(self.hours, "hours", hint="the attack's length in hours")
        if self.intensity is not None:
            positive_number(self.intensity, "intensity",
                            hint="bytes per second for exfiltration, a rate multiplier otherwise")

    @property
    def rate(self) -> float:
        """The intensity, or the kind's default when none was given."""
        return float(self.intensity if self.intensity is not None else _DEFAULT_INTENSITY[self.kind])


@dataclass(frozen=True)
class NetFlows:
    """A simulated capture: the flow records, the internal hosts and the attacks in it."""

    flows: pd.DataFrame
    hosts: pd.DataFrame
    attacks: tuple[Attack, ...]
    days: tuple[int, ...]

    @property
    def n_internal(self) -> int:
        return len(self.hosts)


def _hosts(n_workstations: int, n_admins: int) -> pd.DataFrame:
    names = [f"ws-{i:02d}" for i in range(n_workstations)] + [f"srv-{s}" for s in SERVERS]
    roles = ["workstation"] * n_workstations + list(SERVERS)
    admin = [i < n_admins for i in range(n_workstations)] + [False] * len(SERVERS)
    return pd.DataFrame({"name": names, "role": roles, "admin": admin})


def _day_profile(weekday: int) -> np.ndarray:
    """Relative workstation activity in each 5-minute bin of a day (peak about 1)."""
    hour = (np.arange(288) + 0.5) / 12
    work = 1 / (1 + np.exp(-(hour - 8.3) * 3)) * 1 / (1 + np.exp((hour - 17.5) * 2))
    work *= 1 - 0.35 * np.exp(-((hour - 12.5) ** 2) / 0.3)  # lunch
    scale = 1.0 if weekday < 5 else 0.08
    return 0.03 + scale * work


class _Builder:
    """Collects flow columns from many vectorised draws and concatenates them once."""

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []

    def add(self, **cols: Any) -> None:
        n = len(cols["time"])
        if n:
            self.parts.append({k: np.broadcast_to(np.asarray(v), (n,)).copy() for k, v in cols.items()})

    def frame(self) -> pd.DataFrame:
        cols = ["time", "src", "dst", "dst_port", "proto", "duration", "bytes_out", "bytes_in",
                "packets", "flags", "attack", "actor"]
        if not self.parts:
            return pd.DataFrame({c: [] for c in cols})
        data = {c: np.concatenate([p[c] for p in self.parts]) for c in cols}
        df = pd.DataFrame(data)
        for c in ("proto", "flags", "attack"):
            df[c] = df[c].astype("category")
        df["bytes_out"] = df["bytes_out"].astype(np.int64)
        df["bytes_in"] = df["bytes_in"].astype(np.int64)
        df["packets"] = df["packets"].astype(np.int64)
        return df.sort_values("time", kind="stable").reset_index(drop=True)


def _times(rng: np.random.Generator, rate: np.ndarray, day: int) -> np.ndarray:
    """Poisson arrivals with a per-bin ``rate`` (expected flows per 5 minutes) over one day."""
    counts = rng.poisson(rate)
    bins = np.repeat(np.arange(rate.size), counts)
    return day * DAY + (bins + rng.random(bins.size)) * _BIN


def _packets(rng: np.random.Generator, total_bytes: np.ndarray) -> np.ndarray:
    return 2 + rng.poisson(total_bytes / 900.0)


def _heavy(rng: np.random.Generator, n: int, median: float, sigma: float, *, tail: float = 0.0,
           tail_scale: float = 0.0, cap: float = 2e9) -> np.ndarray:
    """Log-normal sizes with a share ``tail`` replaced by Pareto(alpha=1.2) sizes."""
    sizes = rng.lognormal(np.log(median), sigma, n)
    if tail > 0:
        big = rng.random(n) < tail
        sizes[big] = tail_scale * (1 + rng.pareto(1.2, big.sum()))
    return np.minimum(sizes, cap).round()


def _benign_day(out: _Builder, rng: np.random.Generator, day: int, weekday: int,
                hosts: pd.DataFrame, level: np.ndarray, n_external: int) -> None:
    n_ws = int((hosts.role == "workstation").sum())
    server = {s: n_ws + i for i, s in enumerate(SERVERS)}
    n_int = len(hosts)
    popular = 1 / np.arange(1, n_external + 1) ** 1.1
    popular /= popular.sum()
    profile = _day_profile(weekday)
    dns_queries = 0.0
    for h in range(n_ws):
        mood = level[h] * rng.lognormal(0, 0.3) * (rng.random() > 0.05)  # 5 %: a day off
        act = profile * mood
        # web: HTTPS (mostly) and HTTP to popular external hosts
        t = _times(rng, 6.0 * act, day)
        n = t.size
        dst = n_int + rng.choice(n_external, n, p=popular)
        up = _heavy(rng, n, 900, 0.8, tail=0.01, tail_scale=2e5)
        down = _heavy(rng, n, 6e3, 1.5, tail=0.03, tail_scale=2e5)
        fail = rng.random(n)
        flags = np.where(fail < 0.012, "S0", np.where(fail < 0.02, "REJ", "SF"))
        ok = flags == "SF"
        up, down = np.where(ok, up, 60), np.where(ok, down, np.where(flags == "REJ", 40, 0))
        out.add(time=t, src=h, dst=dst, dst_port=np.where(rng.random(n) < 0.9, 443, 80),
                proto="tcp", duration=np.where(ok, rng.lognormal(0, 1.5, n), 3.0), bytes_out=up,
                bytes_in=down, packets=_packets(rng, up + down), flags=flags, attack="normal",
                actor=-1)
        dns_queries += 1.6 * n
        # DNS lookups, mail, file share
        t = _times(rng, 9.0 * act, day)
        q = rng.integers(40, 90, t.size)
        out.add(time=t, src=h, dst=server["dns"], dst_port=53, proto="udp", duration=0.01,
                bytes_out=q, bytes_in=q + rng.integers(16, 400, t.size), packets=2, flags="SF",
                attack="normal", actor=-1)
        t = _times(rng, 0.6 * act, day)
        up = _heavy(rng, t.size, 2e3, 1.2, tail=0.05, tail_scale=1e5)
        down = _heavy(rng, t.size, 8e3, 1.5)
        out.add(time=t, src=h, dst=server["mail"],
                dst_port=np.where(rng.random(t.size) < 0.8, 993, 587), proto="tcp",
                duration=rng.lognormal(0.5, 1.0, t.size), bytes_out=up, bytes_in=down,
                packets=_packets(rng, up + down), flags="SF", attack="normal", actor=-1)
        t = _times(rng, 0.8 * act, day)
        up = _heavy(rng, t.size, 3e3, 1.5, tail=0.08, tail_scale=3e5)
        down = _heavy(rng, t.size, 2e4, 2.0, tail=0.05, tail_scale=5e5)
        out.add(time=t, src=h, dst=server["file"], dst_port=445, proto="tcp",
                duration=rng.lognormal(1.0, 1.5, t.size), bytes_out=up, bytes_in=down,
                packets=_packets(rng, up + down), flags="SF", attack="normal", actor=-1)
        # background: updates, NTP, telemetry, day and night
        t = _times(rng, np.full(288, 0.3 * (mood > 0) + 0.05), day)
        up = _heavy(rng, t.size, 500, 0.7)
        down = _heavy(rng, t.size, 2e3, 2.0, tail=0.02, tail_scale=1e6)
        out.add(time=t, src=h, dst=n_int + rng.integers(0, 20, t.size),
                dst_port=np.where(rng.random(t.size) < 0.3, 123, 443),
                proto=np.where(rng.random(t.size) < 0.3, "udp", "tcp"), duration=0.5,
                bytes_out=up, bytes_in=down, packets=_packets(rng, up + down), flags="SF",
                attack="normal", actor=-1)
        if hosts.admin[h]:  # administrators: SSH sessions to the bastion
            t = _times(rng, 0.15 * act, day)
            up = _heavy(rng, t.size, 2e4, 1.5)
            down = _heavy(rng, t.size, 8e4, 1.8)
            out.add(time=t, src=h, dst=server["ssh"], dst_port=22, proto="tcp",
                    duration=rng.lognormal(4, 1.5, t.size), bytes_out=up, bytes_in=down,
                    packets=_packets(rng, up + down), flags="SF", attack="normal", actor=-1)
    # servers: the public web site, inbound mail, DNS forwarding, SSH noise from the internet
    hour = (np.arange(288) + 0.5) / 12
    public = 0.6 + 0.4 * np.sin((hour - 9) / 24 * 2 * np.pi)
    t = _times(rng, 15.0 * public, day)
    down = _heavy(rng, t.size, 600, 0.6)
    up = _heavy(rng, t.size, 2e4, 1.5, tail=0.02, tail_scale=5e5)
    out.add(time=t, src=n_int + n_external + rng.integers(0, 50_000, t.size), dst=server["web"],
            dst_port=443, proto="tcp", duration=rng.lognormal(0, 1, t.size), bytes_out=down,
            bytes_in=up, packets=_packets(rng, up + down), flags="SF", attack="normal", actor=-1)
    t = _times(rng, 1.5 * public, day)
    up = _heavy(rng, t.size, 1e4, 1.5, tail=0.03, tail_scale=2e5)
    out.add(time=t, src=n_int + n_external + rng.integers(0, 50_000, t.size), dst=server["mail"],
            dst_port=25, proto="tcp", duration=rng.lognormal(0.5, 1, t.size), bytes_out=up,
            bytes_in=400, packets=_packets(rng, up), flags="SF", attack="normal", actor=-1)
    t = _times(rng, np.full(288, 0.3 * dns_queries / 288 + 0.5), day)
    q = rng.integers(40, 90, t.size)
    out.add(time=t, src=server["dns"], dst=n_int + rng.integers(0, 13, t.size), dst_port=53,
            proto="udp", duration=0.03, bytes_out=q, bytes_in=q + rng.integers(16, 500, t.size),
            packets=2, flags="SF", attack="normal", actor=-1)
    t = _times(rng, np.full(288, 0.4), day)
    out.add(time=t, src=n_int + n_external + rng.integers(0, 50_000, t.size), dst=server["ssh"],
            dst_port=22, proto="tcp", duration=rng.lognormal(0, 1, t.size),
            bytes_out=rng.integers(1_500, 3_000, t.size), bytes_in=rng.integers(1_500, 3_000, t.size),
            packets=rng.integers(10, 25, t.size), flags=np.where(rng.random(t.size) < 0.5, "SF", "RSTO"),
            attack="normal", actor=-1)


def _attack_flows(out: _Builder, rng: np.random.Generator, attack: Attack, days: set[int],
                  hosts: pd.DataFrame, n_external: int) -> None:
    n_int = len(hosts)
    server = {s: int(np.flatnonzero(hosts.role == s)[0]) for s in SERVERS}
    start, stop = attack.start * 3600, (attack.start + attack.hours) * 3600
    length = stop - start

    def arrivals(per_5min: float) -> np.ndarray:
        t = np.sort(start + rng.random(rng.poisson(per_5min * length / _BIN)) * length)
        return t[np.isin((t // DAY).astype(int), list(days))]

    kind, rate = attack.kind, attack.rate
    outsider = n_int + n_external + 50_000 + int(rng.integers(0, 10_000))
    if kind == "scan":
        host = attack.host if attack.host >= 0 else 0
        t = arrivals(400 * rate)
        targets = rng.choice(np.delete(np.arange(n_int), host), size=min(6, n_int - 1), replace=False)
        refused = rng.random(t.size) < 0.3
        out.add(time=t, src=host, dst=rng.choice(targets, t.size), dst_port=rng.integers(1, 10_000, t.size),
                proto="tcp", duration=0.0, bytes_out=44, bytes_in=np.where(refused, 40, 0),
                packets=np.where(refused, 2, 1), flags=np.where(refused, "REJ", "S0"), attack=kind,
                actor=host)
    elif kind == "bruteforce":
        host = attack.host if attack.host >= 0 else server["ssh"]
        t = arrivals(120 * rate)
        out.add(time=t, src=outsider, dst=host, dst_port=22, proto="tcp",
                duration=rng.uniform(0.5, 3.0, t.size), bytes_out=rng.integers(2_000, 3_500, t.size),
                bytes_in=rng.integers(2_500, 4_000, t.size), packets=rng.integers(18, 30, t.size),
                flags=np.where(rng.random(t.size) < 0.7, "SF", "RSTO"), attack=kind, actor=host)
    elif kind == "dos":
        host = attack.host if attack.host >= 0 else server["web"]
        t = arrivals(3_000 * rate)
        out.add(time=t, src=outsider + rng.integers(0, 5_000, t.size), dst=host, dst_port=443,
                proto="tcp", duration=0.0, bytes_out=60, bytes_in=0, packets=1, flags="S0",
                attack=kind, actor=host)
    else:  # exfiltration: steady extra uploads to one new external host
        host = attack.host if attack.host >= 0 else 0
        t = arrivals(2.5)  # a flow about every two minutes
        gaps = np.diff(np.concatenate([[t[0] - 120.0], t])) if t.size else t
        up = rng.poisson(rate * gaps)
        out.add(time=t, src=host, dst=outsider, dst_port=443, proto="tcp",
                duration=rng.uniform(1, 20, t.size), bytes_out=up,
                bytes_in=rng.integers(2_000, 6_000, t.size), packets=_packets(rng, up), flags="SF",
                attack=kind, actor=host)


def _day_list(days: int | Iterable[int]) -> tuple[int, ...]:
    if isinstance(days, (int, np.integer)) and not isinstance(days, bool):
        return tuple(range(positive_int(days, "days")))
    try:
        listed = tuple(sorted({int(d) for d in days}))  # type: ignore[union-attr]
    except TypeError:
        raise TypeError(f"days must be an int or an iterable of day numbers, got {days!r}") from None
    if not listed or listed[0] < 0:
        raise ValueError(f"days must be non-empty day numbers >= 0, got {days!r}")
    return listed


def simulate(days: int | Iterable[int] = 14, *, n_workstations: int = 24, n_admins: int | None = None,
             n_external: int = 400, attacks: Sequence[Attack] = (), seed: int = 0,
             start_weekday: int = 0) -> NetFlows:
    """Simulate flow records for ``days`` (see the module docstring for what is modelled).

    >>> sim = simulate(days=[2], n_workstations=3, seed=1)
    >>> sim.days, int(sim.flows.time.min() // 86_400), set(sim.flows.attack)
    ((2,), 2, {'normal'})
    """
    day_list = _day_list(days)
    n_workstations = positive_int(n_workstations, "n_workstations")
    if n_admins is None:
        n_admins = min(3, n_workstations)
    if isinstance(n_admins, bool) or not isinstance(n_admins, int) or not 0 <= n_admins <= n_workstations:
        raise ValueError(f"n_admins must be an int from 0 to n_workstations ({n_workstations}), "
                         f"got {n_admins!r}")
    n_external = positive_int(n_external, "n_external")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if start_weekday not in range(7):
        raise ValueError(f"start_weekday must be 0 (Monday) .. 6 (Sunday), got {start_weekday!r}")
    attacks = tuple(attacks)
    for a in attacks:
        if not isinstance(a, Attack):
            raise TypeError(f"attacks must be Attack(...) records, got {a!r}")
    hosts = _hosts(n_workstations, n_admins)
    for a in attacks:
        if a.host >= len(hosts):
            raise ValueError(f"{a} names host {a.host}, but there are only {len(hosts)} internal hosts")
    level = np.random.default_rng([seed, 1_000_003]).lognormal(0, 0.5, n_workstations)
    out = _Builder()
    for day in day_list:
        rng = np.random.default_rng([seed, day])
        _benign_day(out, rng, day, (start_weekday + day) % 7, hosts, level, n_external)
    for i, attack in enumerate(attacks):
        _attack_flows(out, np.random.default_rng([seed, 7_777, i]), attack, set(day_list), hosts,
                      n_external)
    return NetFlows(out.frame(), hosts, attacks, day_list)


def attack_schedule(days: Iterable[int], *, per_kind: int = 1, hosts: int | pd.DataFrame = 29,
                    exfil_rate: float = 20_000.0, seed: int = 0,
                    start_weekday: int = 0) -> list[Attack]:
    """``per_kind`` episodes of each attack kind on the working days among ``days``, during
    working hours, one episode at a time. Scans and exfiltration come from random workstations;
    exfiltration lasts 3 to 6 hours at ``exfil_rate`` bytes per second.

    >>> [a.kind for a in attack_schedule([3, 4], seed=0)]
    ['scan', 'bruteforce', 'dos', 'exfiltration']
    """
    per_kind = positive_int(per_kind, "per_kind")
    positive_number(exfil_rate, "exfil_rate", hint="bytes per second")
    n_hosts = len(hosts) if isinstance(hosts, pd.DataFrame) else positive_int(hosts, "hosts")
    n_ws = n_hosts - len(SERVERS)
    if n_ws < 1:
        raise ValueError(f"hosts must count the {len(SERVERS)} servers and at least one workstation")
    work = [d for d in _day_list(days) if (start_weekday + d) % 7 < 5]
    if not work:
        raise ValueError("days holds no working day (Monday-Friday) to place attacks on")
    rng = np.random.default_rng([seed, 4_242])
    # Working-hour slots of 1 h (09:00-17:00) per day; exfiltration takes 09:00-16:00 of a day.
    episodes = []
    for k in range(per_kind):
        for kind in ATTACK_KINDS:
            episodes.append((kind, k))
    slots = [(d, h) for d in work for h in range(9, 17)]
    exfil_days = list(rng.permutation(work))
    taken: set[tuple[int, int]] = set()
    out = []
    for i, (kind, _k) in enumerate(episodes):
        if kind == "exfiltration":
            day = int(exfil_days[i % len(exfil_days)])
            hours = float(rng.uniform(3, 6))
            out.append(Attack(kind, start=day * 24 + 9 + float(rng.uniform(0, 7 - hours)), hours=hours,
                              host=int(rng.integers(0, n_ws)), intensity=exfil_rate))
            continue
        free = [s for s in slots if s not in taken]
        if not free:
            raise ValueError("too many episodes for these days; pass more days or fewer per_kind")
        day, hour = free[int(rng.integers(0, len(free)))]
        taken.add((day, hour))
        hours = float(rng.uniform(0.25, 0.75))
        host = int(rng.integers(0, n_ws)) if kind == "scan" else -1
        out.append(Attack(kind, start=day * 24 + hour + float(rng.uniform(0, 1 - hours)), hours=hours,
                          host=host))
    return out
