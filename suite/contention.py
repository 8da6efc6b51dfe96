"""Contention measured with every run, and the verdict on whether its clock can be trusted.

A training run's wall time means something only if the cores it was given were its own.
:class:`ContentionProbe` records, per epoch, the wall time, this process's CPU time (all
threads, user + system), its voluntary and involuntary context switches, and the CPU time
that the whole machine spent busy and stolen on the cores this process may use; and, per
run, the load average and the runnable task count before and after, and the few other
processes that used the most CPU meanwhile (so a report can name the load)::

    probe = ContentionProbe(threads=2)
    probe.begin_run()
    for epoch in range(epochs):
        with probe.epoch():
            train_one_epoch()
    block = probe.end_run()          # JSON-able: record["timings"]["contention"]
    quality, reason = classify_timing(block, threads=2, cores=2)

:func:`classify_timing` decides ``"ok"`` or ``"contended"`` from that block; the rule and
its thresholds are documented there and in docs/results-schema.md.

Why other processes' CPU time, and not the load average: the load average is an
exponentially damped one-minute mean of runnable tasks, so before a run it still carries
the previous run of the same matrix (the harness's own threads) and after it it carries
this run's own threads; it lags a competing process that started mid-run by a minute.
The CPU time the machine spent busy on this process's cores, minus the CPU time this
process itself used, is what other work took from those cores during exactly this
epoch. Load averages are still recorded, for the reader.

The machine's figures are read from ``/proc/stat`` through psutil, the process's from
``time.process_time`` and ``getrusage`` (a few reads per epoch, well under a millisecond).
``/proc/stat`` counts in 10 ms ticks per CPU, so an epoch's ``other_cores`` is uncertain
by about ``0.01 * cores / wall`` cores: :func:`classify_timing` judges single epochs only
when they last :data:`MIN_EPOCH_SECONDS` or more, and the run as a whole always. Where a
figure is unavailable (no psutil, not Linux) it is ``None`` and the verdict uses what
there is.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

#: Version of the block's layout (bump when a field changes meaning).
BLOCK_VERSION = 1

#: Cores of other work on this process's cores tolerated beyond the idle ones (see
#: :func:`classify_timing`): a quarter of a core, i.e. background daemons and the harness's
#: own bookkeeping pass, a neighbour that takes an eighth of a 2-core run does not.
OTHER_CORES_MARGIN = 0.25
#: An epoch counts as contended when other work exceeded the allowance in it; the run is
#: contended when at least this fraction of its epochs are (or over the run as a whole).
CONTENDED_EPOCH_FRACTION = 1 / 3
#: Shortest epoch whose own ``other_cores`` is judged (tick resolution, see above).
MIN_EPOCH_SECONDS = 0.25
#: CPU steal (hypervisor gave this VM's CPU time to another guest) of the run's cores,
#: as a percentage of their time, above which the run is contended.
STEAL_PERCENT_LIMIT = 5.0
#: How many of the busiest other processes the block names.
TOP_PROCESSES = 3

_BUSY_FIELDS = ("user", "nice", "system", "irq", "softirq")


def usable_cpus() -> list[int]:
    """Indices of the CPUs this process may run on (affinity), or all CPUs."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return list(range(os.cpu_count() or 1))


def machine_cpu_seconds(cpus: Sequence[int]) -> tuple[float | None, float | None, float | None]:
    """CPU-seconds since boot that ``cpus`` spent busy, stolen, and in all.

    Busy is user + nice + system + irq + softirq (``/proc/stat`` through psutil); ``None``
    for all three where psutil cannot read them.
    """
    psutil = _psutil()
    if psutil is None:  # pragma: no cover - psutil is a dependency
        return None, None, None
    try:
        per_cpu = psutil.cpu_times(percpu=True)
    except (OSError, AttributeError):  # pragma: no cover - exotic platforms
        return None, None, None
    chosen = [per_cpu[i] for i in cpus if i < len(per_cpu)] or per_cpu
    busy = sum(sum(getattr(t, name, 0.0) for name in _BUSY_FIELDS) for t in chosen)
    steal = sum(getattr(t, "steal", 0.0) for t in chosen)
    # guest time is already counted in user on Linux, so it stays out of the total
    total = sum(
        sum(v for k, v in t._asdict().items() if k not in ("guest", "guest_nice")) for t in chosen
    )
    return busy, steal, total


class OtherWorkMeter:
    """Cores that other processes used on ``cpus`` since the last :meth:`read`.

    The machine's busy CPU time on those cores minus this process's own CPU time, over the
    wall time between readings (the same figure as the probe's ``other_cores``).

    Parameters
    ----------
    cpus : sequence of int, optional
        This process's affinity when omitted.
    """

    def __init__(self, cpus: Sequence[int] | None = None) -> None:
        self.cpus = list(cpus) if cpus is not None else usable_cpus()
        self._last = self._now()

    def _now(self) -> tuple[float, float, float | None]:
        return time.perf_counter(), time.process_time(), machine_cpu_seconds(self.cpus)[0]

    def seconds_since_read(self) -> float:
        """Wall seconds since the last reading."""
        return time.perf_counter() - self._last[0]

    def read(self) -> float | None:
        """Other processes' average cores since the last reading (None if unknown)."""
        now = self._now()
        (wall0, cpu0, busy0), (wall1, cpu1, busy1) = self._last, now
        self._last = now
        if busy0 is None or busy1 is None or wall1 <= wall0:
            return None
        return max(0.0, (busy1 - busy0) - (cpu1 - cpu0)) / (wall1 - wall0)


@dataclass
class _Sample:
    """One reading of the clocks and counters."""

    wall: float
    process_cpu: float | None
    involuntary: int | None
    voluntary: int | None
    machine_busy: float | None  # CPU-seconds busy on the usable CPUs, since boot
    machine_steal: float | None
    machine_total: float | None


def _psutil() -> Any:
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is a dependency
        return None
    return psutil


class ContentionProbe:
    """Measure the contention a run meets; see the module docstring for the protocol.

    Parameters
    ----------
    threads : int
        Threads the run was given (the engines' thread count).
    cpus : sequence of int, optional
        The CPUs the run may use; this process's affinity when omitted.
    top_processes : bool, default True
        Name the busiest other processes in :meth:`end_run` (reads every process's CPU
        time at the start and end of the run: a few milliseconds per hundred processes).
    """

    def __init__(
        self, threads: int, cpus: Sequence[int] | None = None, top_processes: bool = True
    ) -> None:
        if threads < 1:
            raise ValueError(f"threads is {threads}; expected 1 or more")
        self.threads = int(threads)
        self.cpus = list(cpus) if cpus is not None else usable_cpus()
        self.top_processes = top_processes
        self._psutil = _psutil()
        self._epochs: list[dict[str, float | int | None]] = []
        self._run_start: _Sample | None = None
        self._machine_before: dict[str, Any] | None = None
        self._others_before: dict[int, tuple[str, float]] = {}

    # -- readings ------------------------------------------------------------------------
    def _sample(self) -> _Sample:
        wall = time.perf_counter()
        # process_time: all threads, user + system, at nanosecond resolution (psutil's
        # per-process figures come in 10 ms ticks). getrusage counts every thread's
        # context switches, exited ones too (psutil's count is the main thread's only).
        process_cpu = time.process_time()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        involuntary, voluntary = int(usage.ru_nivcsw), int(usage.ru_nvcsw)
        busy, steal, total = machine_cpu_seconds(self.cpus)
        return _Sample(wall, process_cpu, involuntary, voluntary, busy, steal, total)

    def _machine(self) -> dict[str, Any]:
        """Load averages and runnable tasks now."""
        state: dict[str, Any] = {"loadavg": None, "procs_running": None}
        try:
            state["loadavg"] = [round(value, 2) for value in os.getloadavg()]
        except (AttributeError, OSError):  # pragma: no cover - not Unix
            pass
        try:
            with open("/proc/loadavg") as handle:
                # 4th field "running/total": tasks runnable now (this process's included)
                state["procs_running"] = int(handle.read().split()[3].split("/")[0])
        except (OSError, IndexError, ValueError):  # pragma: no cover - not Linux
            pass
        return state

    def _other_processes(self) -> dict[int, tuple[str, float]]:
        """CPU seconds so far of every other process, by pid (name kept for the report)."""
        if self._psutil is None or not self.top_processes:
            return {}
        own = os.getpid()
        found: dict[int, tuple[str, float]] = {}
        for process in self._psutil.process_iter(["pid", "name", "cmdline", "cpu_times"]):
            info = process.info
            times = info.get("cpu_times")
            if info["pid"] == own or times is None:
                continue
            command = " ".join(info.get("cmdline") or []) or (info.get("name") or "?")
            found[info["pid"]] = (command[:120], float(times.user + times.system))
        return found

    # -- protocol ------------------------------------------------------------------------
    def begin_run(self) -> None:
        """Start a run: read the machine's load and every counter (clears earlier epochs)."""
        self._epochs = []
        self._machine_before = self._machine()
        self._others_before = self._other_processes()
        self._run_start = self._sample()

    @contextmanager
    def epoch(self) -> Iterator[None]:
        """Measure the block inside as one epoch (recorded even if the block raises)."""
        if self._run_start is None:
            self.begin_run()
        start = self._sample()
        try:
            yield
        finally:
            self._epochs.append(_delta(start, self._sample()))

    def end_run(self) -> dict[str, Any]:
        """Finish the run and return the contention block (JSON-able).

        Returns
        -------
        dict
            See docs/results-schema.md, "Contention": per-epoch lists (``epoch_*``),
            run totals, ``other_cores`` and ``steal_percent`` over the run, load before
            and after, and ``top_other_processes``.
        """
        if self._run_start is None:
            self.begin_run()
        assert self._run_start is not None
        run = _delta(self._run_start, self._sample())
        machine_after = self._machine()
        others_after = self._other_processes()
        epochs = self._epochs

        def column(name: str) -> list[Any]:
            return [epoch[name] for epoch in epochs]

        timed_wall = sum(epoch["wall"] or 0.0 for epoch in epochs)
        totals = _sum_epochs(epochs) if epochs else run
        block: dict[str, Any] = {
            "version": BLOCK_VERSION,
            "threads": self.threads,
            "usable_cores": len(self.cpus),
            "logical_cores": os.cpu_count(),
            "epoch_wall_seconds": column("wall"),
            "epoch_cpu_seconds": column("cpu"),
            "epoch_involuntary_switches": column("involuntary"),
            "epoch_voluntary_switches": column("voluntary"),
            "epoch_other_cores": column("other_cores"),
            "epoch_steal_percent": column("steal_percent"),
            "run_wall_seconds": _round(run["wall"]),
            "epochs_wall_seconds": _round(timed_wall),
            "cpu_seconds": _round(totals["cpu"]),
            "cpu_utilization": _ratio(totals["cpu"], (totals["wall"] or 0.0) * self.threads),
            "involuntary_switches_per_second": _ratio(totals["involuntary"], totals["wall"]),
            "other_cores": totals["other_cores"],
            "steal_percent": totals["steal_percent"],
            "machine_before": self._machine_before,
            "machine_after": machine_after,
            "top_other_processes": _top_consumers(self._others_before, others_after),
        }
        self._run_start = None
        return block


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(float(value), digits)


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(float(numerator) / float(denominator), 4)


def _delta(start: _Sample, end: _Sample) -> dict[str, Any]:
    """One interval's figures from two samples."""
    wall = end.wall - start.wall

    def diff(name: str) -> Any:
        a, b = getattr(start, name), getattr(end, name)
        return None if a is None or b is None else b - a

    cpu = diff("process_cpu")
    busy, steal, total = diff("machine_busy"), diff("machine_steal"), diff("machine_total")
    other_cores = steal_percent = None
    if busy is not None and cpu is not None and wall > 0:
        # /proc/stat ticks (10 ms) and the process's clock differ in resolution: never
        # report negative use by others.
        other_cores = round(max(0.0, busy - cpu) / wall, 4)
    if steal is not None and total:
        steal_percent = round(100.0 * steal / total, 3)
    return {
        "wall": _round(wall),
        "cpu": _round(cpu),
        "involuntary": diff("involuntary"),
        "voluntary": diff("voluntary"),
        "busy": busy,
        "steal": steal,
        "total": total,
        "other_cores": other_cores,
        "steal_percent": steal_percent,
    }


def _sum_epochs(epochs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The epochs' figures pooled (other cores and steal over the epochs' wall time)."""

    def total(name: str) -> Any:
        values = [epoch[name] for epoch in epochs]
        return None if any(v is None for v in values) else sum(values)

    wall, cpu = total("wall"), total("cpu")
    busy, steal, all_time = total("busy"), total("steal"), total("total")
    other_cores = None
    if busy is not None and cpu is not None and wall:
        other_cores = round(max(0.0, busy - cpu) / wall, 4)
    steal_percent = None if steal is None or not all_time else round(100 * steal / all_time, 3)
    return {
        "wall": wall,
        "cpu": cpu,
        "involuntary": total("involuntary"),
        "other_cores": other_cores,
        "steal_percent": steal_percent,
    }


def _top_consumers(
    before: Mapping[int, tuple[str, float]], after: Mapping[int, tuple[str, float]]
) -> list[dict[str, Any]]:
    """The other processes that used the most CPU between the two readings."""
    used = []
    for pid, (command, seconds) in after.items():
        start = before.get(pid, (command, 0.0))[1]  # started during the run: all of it
        if seconds - start > 0.01:
            used.append({"pid": pid, "command": command, "cpu_seconds": round(seconds - start, 3)})
    used.sort(key=lambda entry: -entry["cpu_seconds"])
    return used[:TOP_PROCESSES]


def other_cores_allowance(threads: int, cores: int) -> float:
    """Cores other work may use beside a run before it counts as contended.

    The cores the run leaves idle (``cores - threads``, never below 0) plus
    :data:`OTHER_CORES_MARGIN`.
    """
    return max(0, int(cores) - int(threads)) + OTHER_CORES_MARGIN


def classify_timing(
    block: Mapping[str, Any] | None, threads: int, cores: int
) -> tuple[str, str | None]:
    """Decide whether a run's timings were taken on cores of its own.

    The rule (docs/results-schema.md, "Contention"). With ``allowance = max(0, cores -
    threads) + 0.25`` cores, the run is ``"contended"`` when

    * other processes used more than ``allowance`` cores on average over the epochs, or
      in at least a third of the epochs of :data:`MIN_EPOCH_SECONDS` or more
      (``epoch_other_cores``): one busy neighbour beside a run given every core takes
      about 0.67 of a core or more (3 runnable threads on 2 cores), a quiet machine's
      daemons a few hundredths; or
    * CPU steal exceeded 5% of the run's cores' time (a hypervisor gave the time to
      another virtual machine).

    Involuntary context switches, CPU utilisation and the load averages are recorded for
    the reader but do not decide: they depend on the engine (TensorFlow's pool switches
    and idles far more than OpenBLAS's) and, for the load average, lag by a minute and
    count this run's own threads.

    Parameters
    ----------
    block : mapping or None
        From :meth:`ContentionProbe.end_run` (``record["timings"]["contention"]``).
        ``None`` or a block without figures gives ``("ok", None)``: nothing says otherwise.
    threads : int
        Threads the run was given.
    cores : int
        Cores the run may use.

    Returns
    -------
    tuple of (str, str or None)
        ``("ok", None)`` or ``("contended", reason)``, the reason in words with the
        figures and the busiest other process when known.
    """
    if not block:
        return "ok", None
    allowance = other_cores_allowance(threads, cores)
    reasons = []
    other = block.get("other_cores")
    walls = block.get("epoch_wall_seconds") or []
    per_epoch = [
        v
        for v, wall in zip(block.get("epoch_other_cores") or [], walls, strict=False)
        if v is not None and wall is not None and wall >= MIN_EPOCH_SECONDS
    ]
    busy_epochs = sum(1 for v in per_epoch if v > allowance)
    if (other is not None and other > allowance) or (
        per_epoch and busy_epochs / len(per_epoch) >= CONTENDED_EPOCH_FRACTION
    ):
        shown = other if other is not None else max(per_epoch)
        epochs = (
            f"over {allowance:.2f} in {busy_epochs} of {len(per_epoch)} epochs"
            if per_epoch
            else f"no epoch lasted the {MIN_EPOCH_SECONDS} s needed to judge it alone"
        )
        reasons.append(
            f"other processes used {shown:.2f} of the {cores} usable cores on average"
            f" ({epochs}; allowed {allowance:.2f} with {threads} threads)"
        )
    steal = block.get("steal_percent")
    if steal is not None and steal > STEAL_PERCENT_LIMIT:
        reasons.append(f"CPU steal {steal:.1f}% (limit {STEAL_PERCENT_LIMIT:.0f}%)")
    if not reasons:
        return "ok", None
    extra = []
    top = block.get("top_other_processes") or []
    if top:
        busiest = top[0]
        extra.append(
            f"busiest: pid {busiest['pid']} {busiest['command']!r}"
            f" ({busiest['cpu_seconds']:.1f} CPU s)"
        )
    before = (block.get("machine_before") or {}).get("loadavg")
    after = (block.get("machine_after") or {}).get("loadavg")
    if before and after:
        extra.append(f"load average {before[0]:.2f} before, {after[0]:.2f} after")
    return "contended", "; ".join(reasons + extra)
