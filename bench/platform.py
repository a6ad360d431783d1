"""The platform benchmark: how fast the services store, publish and push events.

It starts a real `forge up` (`bench.services`) whose runs are `bench_ticker` runs
(`bench.ticker`: no training, epochs at a set rate), and prints one table per measurement:

- **ingest**: the events per second one scheduler stores and publishes, on SQLite and on
  Postgres. Several runs emit epochs at a rate that doubles step after step; a NATS subscriber
  (the read-only identity) times each event from its `emitted_at` to its arrival. A step is
  sustained when the runs' events all arrive at ≥ 90 % of the offered rate with a p99 under
  `SUSTAINED_P99_MS`; the figure is the last sustained step.
- **fan-out**: push latency at 100, 1,000 and 5,000 WebSocket viewers of one gateway, all on one
  run and spread over ten, from `emitted_at` to the frame's arrival (`bench.viewers`). Every
  viewer must get every event, in order, and the close that ends the run; a row says how many
  did not. The gateway's resident memory before and after the viewers joined gives the memory
  per viewer.
- **submit → first event**: from the submit request to the arrival, over the WebSocket, of
  `ExperimentStarted` and of the first batch and epoch events, on an idle trainer (its ready
  job process done importing); and from the last epoch's
  `emitted_at` to the arrival of `ExperimentFinished` (the run's files are stored between).

The machine is shared and small, so every figure is a median of what this run measured; run it
more than once before comparing. `--quick` keeps to SQLite, one run and fewer viewers (about
two minutes); the whole benchmark takes under ten.

    make bench-platform        # or: .venv/bin/python -m bench.platform [--quick] [--only ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script, Python put bench/ first on the path, where this file would stand in for
    # the standard library's `platform`: the repository goes there instead.
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import asyncio
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp

from bench.services import ADMIN_PASSWORD, Services, running_services
from bench.ticker import NAME
from bench.viewers import Emissions, Viewer, open_viewers

SUSTAINED_P99_MS = 250.0
WAIT_S = 120.0


@dataclass(frozen=True)
class Latency:
    p50_ms: float
    p99_ms: float
    max_ms: float
    count: int

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Latency:
        if not seconds:
            return cls(float("nan"), float("nan"), float("nan"), 0)
        ordered = sorted(seconds)
        at = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
        return cls(at(0.5), at(0.99), ordered[-1] * 1000, len(ordered))


class Client:
    """The REST calls the benchmark makes, as the admin."""

    def __init__(self, services: Services, http: aiohttp.ClientSession) -> None:
        self.services = services
        self.http = http
        self.token = ""

    async def login(self) -> None:
        async with self.http.post(
            f"{self.services.gateway}/api/v1/auth/token",
            json={"username": "admin", "password": ADMIN_PASSWORD},
        ) as answer:
            answer.raise_for_status()
            self.token = (await answer.json())["access_token"]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def wait_for_ticker(self) -> None:
        """Until a trainer has registered and announced the ticker pipeline."""
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            async with self.http.get(
                f"{self.services.gateway}/api/v1/pipelines", headers=self.headers
            ) as answer:
                if answer.status == 200 and NAME in await answer.text():
                    return
            await asyncio.sleep(0.2)
        raise RuntimeError("no trainer announced the bench_ticker pipeline")

    async def submit(self, config: dict[str, Any]) -> str:
        async with self.http.post(
            f"{self.services.gateway}/api/v1/experiments",
            json={"pipeline": NAME, "config": config},
            headers=self.headers,
        ) as answer:
            if answer.status != 201:
                raise RuntimeError(f"submit answered {answer.status}: {await answer.text()}")
            experiment_id: str = (await answer.json())["experiment_id"]
            return experiment_id

    async def status(self, experiment_id: str) -> str:
        async with self.http.get(
            f"{self.services.gateway}/api/v1/experiments/{experiment_id}", headers=self.headers
        ) as answer:
            status: str = (await answer.json())["status"]
            return status


async def connected_client(services: Services, http: aiohttp.ClientSession) -> Client:
    client = Client(services, http)
    await client.login()
    await client.wait_for_ticker()
    return client


# Fan-out


@dataclass(frozen=True)
class FanoutResult:
    viewers: int
    runs: int
    rate: float
    latency: Latency
    incomplete: int
    bytes_per_viewer: float


async def fanout(
    services: Services, viewers: int, runs: int, rate: float, seconds: float
) -> FanoutResult:
    """`viewers` viewers over `runs` runs of `rate` epochs a second for `seconds`."""
    async with aiohttp.ClientSession() as http:
        client = await connected_client(services, http)
        with tempfile.TemporaryDirectory(prefix="forge-bench-go-") as folder:
            go = Path(folder) / "go"
            config = {"epochs": max(1, int(rate * seconds)), "rate": rate, "start_file": str(go)}
            experiments = [await client.submit(config) for _ in range(runs)]
            emissions = {experiment_id: Emissions() for experiment_id in experiments}
            before = services.rss_bytes("gateway")
            opened = await open_viewers(
                services.gateway_port, client.token, experiments, viewers, emissions
            )
            await _until_joined(opened)
            after = services.rss_bytes("gateway")
            started = time.time()
            go.touch()
            await asyncio.wait_for(
                asyncio.gather(*(viewer.closed for _, viewer in opened)), seconds + WAIT_S
            )
    delays, incomplete = [], 0
    closes = Counter(
        f"{viewer.close_code} {viewer.close_reason}"
        for _, viewer in opened
        if viewer.close_code != 1000
    )
    if closes:
        print(f"  closed otherwise than at the run's end: {dict(closes)}", flush=True)
    for experiment_id, viewer in opened:
        emitted = emissions[experiment_id].at
        seqs = [seq for seq, _ in viewer.arrivals]
        if seqs != list(range(1, len(seqs) + 1)) or viewer.close_code != 1000:
            incomplete += 1
        delays += [
            arrived - emitted[seq]
            for seq, arrived in viewer.arrivals
            if seq in emitted and emitted[seq] >= started
        ]
    return FanoutResult(
        viewers, runs, rate, Latency.of(delays), incomplete, (after - before) / viewers
    )


async def _until_joined(opened: list[tuple[str, Viewer]]) -> None:
    """Until every viewer has had the run's first event (the ticker's log line as it waits), or
    was closed: a viewer's socket is open before the gateway has looked the run up and joined
    its feed. A viewer closed meanwhile counts as one that missed events."""
    deadline = time.monotonic() + WAIT_S
    while not all(viewer.arrivals or viewer.closed.done() for _, viewer in opened):
        if time.monotonic() > deadline:
            return
        await asyncio.sleep(0.05)


# Ingest


@dataclass(frozen=True)
class IngestStep:
    database: str
    offered: float
    delivered: float
    latency: Latency
    complete: bool

    @property
    def sustained(self) -> bool:
        return (
            self.complete
            and self.delivered >= 0.9 * self.offered
            and self.latency.p99_ms <= SUSTAINED_P99_MS
        )


async def ingest_step(
    services: Services, database: str, runs: int, rate: float, seconds: float
) -> IngestStep:
    """`runs` runs of `rate` epochs a second each, timed on NATS as the scheduler publishes."""
    import nats

    from azuraforge.v1 import events_pb2

    arrivals: list[tuple[float, float, str]] = []
    waiting: set[str] = set()

    async def noted(message: Any) -> None:
        now = time.time()
        event = events_pb2.ExperimentEvent.FromString(message.data)
        if event.HasField("epoch_ended"):
            arrivals.append((now, event.emitted_at.ToNanoseconds() / 1e9, event.experiment_id))
        elif event.HasField("log_line") and event.log_line.message.startswith("waiting for"):
            waiting.add(event.experiment_id)

    bus = await nats.connect(services.nats_reader_url)
    try:
        await bus.subscribe("forge.experiments.*.events", cb=noted)
        await bus.flush()
        async with aiohttp.ClientSession() as http:
            client = await connected_client(services, http)
            with tempfile.TemporaryDirectory(prefix="forge-bench-go-") as folder:
                go = Path(folder) / "go"
                epochs = max(1, int(rate * seconds))
                config = {"epochs": epochs, "rate": rate, "start_file": str(go)}
                experiments = [await client.submit(config) for _ in range(runs)]
                await _until_waiting(waiting, experiments)
                go.touch()
                deadline = time.monotonic() + seconds + WAIT_S
                while len(arrivals) < runs * epochs and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
    finally:
        await bus.close()
    complete = len(arrivals) == runs * epochs
    span = max(arrival for arrival, _, _ in arrivals) - min(emitted for _, emitted, _ in arrivals)
    return IngestStep(
        database,
        runs * rate,
        len(arrivals) / span if span > 0 else 0.0,
        Latency.of([arrival - emitted for arrival, emitted, _ in arrivals]),
        complete,
    )


async def _until_waiting(waiting: set[str], experiments: list[str]) -> None:
    """Until every run's process is at the start line (the ticker's log line said so): the
    steps time the events, not the job processes' start."""
    deadline = time.monotonic() + WAIT_S
    while not waiting.issuperset(experiments):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the runs were not all started within {WAIT_S:g} s")
        await asyncio.sleep(0.1)


async def ingest(
    services: Services, database: str, rates: Sequence[float], runs: int, seconds: float
) -> list[IngestStep]:
    """Steps of rising rates until one is not sustained."""
    steps = []
    for rate in rates:
        step = await ingest_step(services, database, runs, rate / runs, seconds)
        steps.append(step)
        print(f"  ingest {database} {rate:,.0f}/s: {_ingest_row(step)}", flush=True)
        if not step.sustained:
            break
    return steps


# Submit -> first event


@dataclass(frozen=True)
class FirstEvents:
    started_ms: float
    batch_ms: float
    epoch_ms: float
    # From the last epoch's emitted_at to the arrival of ExperimentFinished.
    finished_ms: float


async def first_events(services: Services, tries: int) -> FirstEvents:
    """From the submit request to the first events' arrival, the median of `tries` runs."""
    started, batch, epoch, finished = [], [], [], []
    async with aiohttp.ClientSession() as http:
        client = await connected_client(services, http)
        for _ in range(tries):
            await asyncio.to_thread(services.wait_until_idle, "trainer")
            begun = time.time()
            experiment_id = await client.submit({"epochs": 3, "rate": 1000.0})
            url = f"{services.gateway}/api/v1/experiments/{experiment_id}/events"
            arrivals: dict[str, float] = {}
            last_epoch = 0.0
            protocols = ("azuraforge.v1", f"bearer.{client.token}")
            async with http.ws_connect(url, protocols=protocols) as ws:
                async for message in ws:
                    now = time.time()
                    data = message.json()
                    for kind in ("experiment_started", "batch_progress", "epoch_ended"):
                        if kind in data and kind not in arrivals:
                            arrivals[kind] = now - begun
                    if "epoch_ended" in data:
                        last_epoch = datetime.fromisoformat(data["emitted_at"]).timestamp()
                    if "experiment_finished" in data:
                        finished.append(now - last_epoch)
            started.append(arrivals["experiment_started"])
            batch.append(arrivals["batch_progress"])
            epoch.append(arrivals["epoch_ended"])
    median = lambda values: statistics.median(values) * 1000  # noqa: E731
    return FirstEvents(median(started), median(batch), median(epoch), median(finished))


# The tables


def _ingest_row(step: IngestStep) -> str:
    latency = step.latency
    verdict = "sustained" if step.sustained else "not sustained"
    return (
        f"| {step.database} | {step.offered:,.0f} | {step.delivered:,.0f} | "
        f"{latency.p50_ms:.0f} | {latency.p99_ms:.0f} | {latency.max_ms:.0f} | {verdict} |"
    )


def print_tables(
    steps: list[IngestStep], fanouts: list[FanoutResult], first: FirstEvents | None
) -> None:
    if steps:
        print("\nIngest: epoch events a second one scheduler stores and publishes (NATS arrival)")
        print("| database | offered/s | delivered/s | p50 ms | p99 ms | max ms | |")
        print("|---|---|---|---|---|---|---|")
        for step in steps:
            print(_ingest_row(step))
        for database in dict.fromkeys(step.database for step in steps):
            sustained = [s.offered for s in steps if s.database == database and s.sustained]
            best = f"{max(sustained):,.0f}" if sustained else "none of the steps"
            print(f"{database}: sustains {best} events/s")
    if fanouts:
        print("\nFan-out: push latency from emitted_at to WebSocket arrival, one gateway")
        print(
            "| viewers | runs | epochs/s per run | p50 ms | p99 ms | max ms | "
            "viewers missing an event | gateway memory per viewer |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for result in fanouts:
            latency = result.latency
            print(
                f"| {result.viewers:,} | {result.runs} | {result.rate:g} | {latency.p50_ms:.1f} "
                f"| {latency.p99_ms:.1f} | {latency.max_ms:.0f} | {result.incomplete} "
                f"| {result.bytes_per_viewer / 1024:.1f} KiB |"
            )
    if first is not None:
        print("\nSubmit → first events, and last epoch → ExperimentFinished (median, WebSocket)")
        print(
            "| submit → ExperimentStarted | → first BatchProgress | → first EpochEnded "
            "| last EpochEnded → ExperimentFinished |"
        )
        print("|---|---|---|---|")
        print(
            f"| {first.started_ms:.0f} ms | {first.batch_ms:.0f} ms | {first.epoch_ms:.0f} ms "
            f"| {first.finished_ms:.0f} ms |"
        )


# (viewers, runs, epochs a second per run, seconds): frames a second stay near 10,000, what
# a Python client process can take in on a core shared with the gateway.
FANOUTS = [
    (100, 1, 10.0, 10.0),
    (1000, 1, 10.0, 10.0),
    (1000, 10, 1.0, 10.0),
    (5000, 1, 2.0, 10.0),
    (5000, 10, 1.0, 10.0),
]
QUICK_FANOUTS = [(100, 1, 10.0, 5.0), (1000, 1, 10.0, 5.0)]
INGEST_RATES = [1000.0, 2000.0, 5000.0, 10000.0, 15000.0, 20000.0]
QUICK_INGEST_RATES = [1000.0, 5000.0]


async def main(args: argparse.Namespace) -> None:
    steps: list[IngestStep] = []
    fanouts: list[FanoutResult] = []
    first = None
    databases = ["sqlite"] if args.quick else ["sqlite", "postgres"]
    if args.only in (None, "ingest"):
        for database in databases:
            with running_services(database, slots=4) as services:
                rates = QUICK_INGEST_RATES if args.quick else INGEST_RATES
                steps += await ingest(services, database, rates, runs=4, seconds=4.0)
    if args.only in (None, "fanout", "submit"):
        with running_services("sqlite", slots=10) as services:
            if args.only in (None, "submit"):
                first = await first_events(services, tries=3 if args.quick else 5)
                print(f"  submit: {first}", flush=True)
            if args.only in (None, "fanout"):
                for viewers, runs, rate, seconds in QUICK_FANOUTS if args.quick else FANOUTS:
                    result = await fanout(services, viewers, runs, rate, seconds)
                    print(f"  fanout: {result}", flush=True)
                    fanouts.append(result)
    print_tables(steps, fanouts, first)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="SQLite only, fewer viewers")
    parser.add_argument("--only", choices=("ingest", "fanout", "submit"), help="one measurement")
    asyncio.run(main(parser.parse_args()))
