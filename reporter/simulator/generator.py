"""Drawing a realistic fleet from a seed: servers, monthly patch runs, results, retries, inventory.

Rare cases (running executions, zero-patch runs, ``patches`` as a number, runs where every patch
failed, servers that keep failing) are given exact counts from their share of the fleet, so every
fleet of a reasonable size shows each of them at least once.
"""

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from reporter.simulator import catalogue
from reporter.simulator.catalogue import Offer
from reporter.simulator.payloads import duration_text
from reporter.simulator.records import FleetParts, PayloadStyle, SimExecution, SimPatch, SimServer
from reporter.simulator.servers import draw_power_states, extra_servers, make_servers

# Days after patch Tuesday each environment is patched: dev first, prod last.
WINDOW_DAYS = {"dev": (1, 3), "staging": (3, 6), "prod": (6, 12)}
OFFSETS = tuple(timedelta(minutes=m) for m in (-300, -240, 60, 330, 600))
SHARES = {
    "running": 0.03,  # of servers: their latest execution is still going
    "stubborn": 0.05,  # of servers: a failed update keeps failing
    "zero": 0.04,  # of executions: nothing to install
    "as_number": 0.01,  # of executions: ``patches`` written as a count
    "all_failed": 0.01,  # of executions: every patch failed (status failed)
    "discovery": 0.04,  # of servers: inventory lists them without an execution ID
    "unknown": 0.02,  # of execution rows: an extra row the API does not know
}


def exact_count(total: int, share: float) -> int:
    """How many of ``total`` get a feature of ``share``: at least one once ``total`` >= 10."""
    return max(1, round(total * share)) if total >= 10 else 0


def patch_tuesday(year: int, month: int) -> datetime:
    """The second Tuesday of the month, 00:00 UTC (Microsoft's monthly release day)."""
    first = datetime(year, month, 1, tzinfo=UTC)
    return first + timedelta(days=(1 - first.weekday()) % 7 + 7)


def patch_months(now: datetime, count: int) -> list[tuple[int, int]]:
    """The month of each of ``count`` executions, oldest first, over ~4 months before ``now``."""
    year, month = now.year, now.month
    if patch_tuesday(year, month) + timedelta(days=2) > now:
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    months = []
    for slot in range(count):
        back = (count - 1 - slot) * 4 // count
        total = year * 12 + month - 1 - back
        months.append((total // 12, total % 12 + 1))
    return months


def _style(rng: random.Random, seconds: int | None, running: bool) -> PayloadStyle:
    fmt = rng.choices(("Z", "+00:00", "offset", "space"), (0.55, 0.15, 0.1, 0.2))[0]
    if running:
        duration = rng.choice(("", None))
    else:
        draw = rng.random()
        if draw < 0.02:
            duration = None  # the field is missing
        elif draw < 0.04:  # contradicts the times
            duration = duration_text((seconds or 0) + rng.choice((-1, 1)) * rng.randint(300, 2400))
        else:
            duration = duration_text(seconds or 0, clock=draw > 0.9)
    return PayloadStyle(
        capitalized=rng.random() < 0.3,
        time_format=fmt,
        offset=rng.choice(OFFSETS),
        status_case=rng.choices(("lower", "upper", "title"), (0.6, 0.2, 0.2))[0],
        running_word="in_progress" if rng.random() < 0.3 else "running",
        duration=duration,
        unknown_time=rng.choice(("", None)),
    )


class _Generator:
    """Keeps what spans executions: monthly catalogues, used execution IDs, per-server retries."""

    def __init__(self, seed: int, now: datetime) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.now = now
        self.used_ids: set[str] = set()
        self.months: dict[tuple[int, int], dict[str, list[Offer]]] = {}
        self.seconds: dict[str, tuple[int, int]] = {}

    def catalogue(self, year: int, month: int) -> dict[str, list[Offer]]:
        found = self.months.get((year, month))
        if found is None:
            found = catalogue.windows_catalogue(year, month, self.seed)
            found.update(catalogue.linux_catalogue(year, month, self.seed))
            found["SQL"] = catalogue.sql_offers(year, month, self.seed)
            for offers in found.values():
                self.seconds.update((offer.title, offer.seconds) for offer in offers)
            self.months[year, month] = found
        return found

    def execution_id(self, datacenter: str) -> str:
        while True:
            candidate = f"{datacenter}-{self.rng.randint(100000, 999999)}"
            if candidate not in self.used_ids:
                self.used_ids.add(candidate)
                return candidate

    def titles(self, server: SimServer, year: int, month: int, rerun: bool) -> list[str]:
        """The updates a server is offered in that month (a re-run gets only Defender)."""
        rng = self.rng
        month_catalogue = self.catalogue(year, month)
        if rerun:
            offers: list[Offer] = []
        else:
            offers = list(month_catalogue[server.os])
            if server.role == "SQL":
                offers += month_catalogue["SQL"]
        titles = [offer.title for offer in offers if rng.random() < offer.chance]
        if server.windows and rng.random() < 0.6:
            old_name = server.os.endswith(("2012 R2", "2016")) and rng.random() < 0.4
            titles.append(
                catalogue.defender_title(rng, catalogue.month_index(year, month), old_name)
            )
        return titles

    def outcome(self, server: SimServer, retried: bool, stubborn: bool) -> tuple[int, int | None]:
        """A (result code, HRESULT or None) for one patch."""
        rng = self.rng
        draw = rng.random()
        if retried:
            failed = draw < (0.75 if stubborn else 0.15)
            draw = 0.02 if failed else 0.5
        if draw < 0.003:
            return 0, None
        if draw < 0.053:
            code = 4 if draw < 0.043 else 5
            if not server.windows:
                return code, catalogue.LINUX_FAILURE if rng.random() < 0.3 else None
            hresult = rng.choice(catalogue.FAILURE_HRESULTS) if rng.random() < 0.9 else None
            return code, hresult
        code = 3 if draw < 0.103 else 2
        reboot = server.windows and rng.random() < 0.03
        return code, catalogue.REBOOT_REQUIRED if reboot else None

    def execution(
        self,
        server: SimServer,
        month: tuple[int, int],
        previous: SimExecution | None,
        retry: list[str],
        features: set[str],
    ) -> tuple[SimExecution, list[str]]:
        """Draw one execution of ``server``; return it and the titles to retry next time.

        ``features`` holds the rare cases chosen for this slot: running, zero, as_number,
        all_failed, stubborn, rerun (a second run in the same month).
        """
        rng = self.rng
        year, month_number = month
        running = "running" in features
        titles: list[str] = []
        if "zero" not in features or running:
            offered = self.titles(server, year, month_number, "rerun" in features)
            titles = list(dict.fromkeys(retry + offered))
        if running and len(titles) < 2:
            offers = self.catalogue(year, month_number)[server.os]
            titles = list(dict.fromkeys(titles + [offer.title for offer in offers[:2]]))
        init = rng.randint(20, 120)
        planned, clock = [], init  # (seconds after the start, seconds it takes) per patch
        for title in titles:
            low, high = self.seconds.get(title, (30, 90))
            seconds = rng.randint(low, high)
            planned.append((clock, seconds))
            clock += seconds + rng.randint(1, 5)
        total = clock + rng.randint(5, 60)

        status, done = "completed", len(titles)  # patches before index ``done`` have ended
        if running:
            status = "pending" if rng.random() < 0.3 else "running"
            done = rng.randint(0, len(titles) - 1) if status == "running" else 0
            start = self.now - timedelta(seconds=planned[done][0] + rng.randint(30, 900))
        else:
            start = self._start(server, month, previous, "rerun" in features, total)
        if previous is not None and start <= (previous.end or previous.start):
            start = (previous.end or previous.start) + timedelta(minutes=rng.randint(1, 600))

        patches, failed = self._attempts(server, titles, planned, start, done, set(retry), features)
        if status == "pending":
            patches = [SimPatch(patch.title, None, None, "pending", "") for patch in patches]
        elif not running and patches and len(failed) == len(patches):
            status = "failed"
        style = _style(rng, None if running else total, running)
        if not running and patches and "as_number" in features:
            style = replace(style, patches_as_number=True)
        execution = SimExecution(
            account=server.account,
            server_id=server.server_id,
            execution_id=self.execution_id(server.datacenter),
            start=start,
            end=None if running else start + timedelta(seconds=total),
            status=status,
            patches=patches,
            windows=server.windows,
            init_end=None if status == "pending" else start + timedelta(seconds=init),
            style=style,
        )
        next_retry = retry if running or not titles else failed
        return execution, next_retry

    def _start(
        self,
        server: SimServer,
        month: tuple[int, int],
        previous: SimExecution | None,
        rerun: bool,
        total: int,
    ) -> datetime:
        """When a finished run started: days after patch Tuesday by environment, at night."""
        rng = self.rng
        low, high = WINDOW_DAYS[server.attributes["environment"]]
        start = patch_tuesday(*month) + timedelta(
            days=rng.randint(low, high), seconds=rng.randint(0, 5 * 3600)
        )
        if rerun and previous is not None and previous.end is not None:
            start = previous.end + timedelta(days=rng.randint(1, 3), seconds=rng.randint(0, 9999))
        # A finished run ended hours before ``now``, leaving room for a running one after it.
        latest = self.now - timedelta(seconds=total + rng.randint(6 * 3600, 48 * 3600))
        return min(start, latest)

    def _attempts(
        self,
        server: SimServer,
        titles: list[str],
        planned: list[tuple[int, int]],
        start: datetime,
        done: int,
        retried: set[str],
        features: set[str],
    ) -> tuple[list[SimPatch], list[str]]:
        """The patch attempts of one run and the titles that failed.

        Patches from index ``done`` on have not ended: the one at ``done`` has started (a
        running execution), the rest are pending. ``retried`` titles failed last time.
        """
        rng = self.rng
        prefix = rng.choices(catalogue.TITLE_PREFIXES, (0.85, 0.05, 0.10))[0]
        whole_run = rng.choice(catalogue.WHOLE_RUN_HRESULTS) if server.windows else None
        patches, failed = [], []
        for index, (title, (offset, seconds)) in enumerate(zip(titles, planned, strict=True)):
            begin = start + timedelta(seconds=offset)
            if index >= done:
                patches.append(
                    SimPatch(prefix + title, begin if index == done else None, None, "pending", "")
                )
                continue
            if "all_failed" in features:
                code, hresult = 4, whole_run
            else:
                code, hresult = self.outcome(server, title in retried, "stubborn" in features)
            outcome = "failed" if code in (0, 4, 5) else "completed"
            if outcome == "failed":
                failed.append(title)
            message = catalogue.result_message(rng, code, hresult)
            end = begin + timedelta(seconds=seconds)
            patches.append(SimPatch(prefix + title, begin, end, outcome, message))
        return patches, failed

    def inventory(self, account: str, servers: list[SimServer], fleet: list[SimExecution]) -> list:
        """Inventory rows: one per execution, server-only rows, unknown executions, alias quirks."""
        rng = random.Random(f"inventory:{self.seed}")
        by_server: dict[str, list[SimExecution]] = {}
        for execution in fleet:
            by_server.setdefault(execution.server_id, []).append(execution)
        discovery = set(
            rng.sample(range(len(servers)), exact_count(len(servers), SHARES["discovery"]))
        )
        rows = []
        for index, server in enumerate(servers):
            listed = (
                [""]
                if index in discovery
                else [e.execution_id for e in by_server[server.server_id]]
            )
            rows += [(server, execution_id) for execution_id in listed]
        known = [server for index, server in enumerate(servers) if index not in discovery]
        for _ in range(exact_count(len(rows), SHARES["unknown"]) if known else 0):
            server = rng.choice(known)
            unknown_id = self.execution_id(server.datacenter)
            rows.insert(rng.randint(0, len(rows)), (server, unknown_id))
        result = []
        for server, execution_id in rows:
            draw = rng.random()
            alias = "" if draw < 0.05 else account.lower() if draw < 0.1 else account
            result.append(
                {
                    "server_id": server.server_id,
                    "execution_id": execution_id,
                    "account_alias": alias,
                    **server.attributes,
                }
            )
        return result


def generate_fleet(
    servers: int,
    executions_per_server: int,
    seed: int,
    account: str,
    now: datetime,
) -> FleetParts:
    """The parts of the fleet :meth:`Fleet.generate` describes (see there for the arguments)."""
    if servers < 1 or executions_per_server < 1:
        raise ValueError("a fleet needs at least one server and one execution per server")
    if not account.isascii() or not account.isalnum():
        raise ValueError(f"account alias must be letters and digits, got {account!r}")
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    generator = _Generator(seed, now.astimezone(UTC))
    rng = generator.rng
    server_list = make_servers(rng, servers, account)
    slots = servers * executions_per_server
    per_server = {
        name: set(rng.sample(range(servers), exact_count(servers, SHARES[name])))
        for name in ("running", "stubborn")
    }
    per_slot = {
        name: set(rng.sample(range(slots), exact_count(slots, SHARES[name])))
        for name in ("zero", "as_number", "all_failed")
    }
    months = patch_months(generator.now, executions_per_server)
    executions: list[SimExecution] = []
    for index, server in enumerate(server_list):
        previous: SimExecution | None = None
        retry: list[str] = []
        for slot, month in enumerate(months):
            position = index * executions_per_server + slot
            features = {name for name, chosen in per_slot.items() if position in chosen}
            if index in per_server["stubborn"]:
                features.add("stubborn")
            if index in per_server["running"] and slot == executions_per_server - 1:
                features.add("running")
            if slot and months[slot - 1] == month:
                features.add("rerun")
            previous, retry = generator.execution(server, month, previous, retry, features)
            executions.append(previous)
    rows = generator.inventory(account, server_list, executions)
    # Drawn after everything above, and from their own generator where they can be, so that a
    # seed gives the same listed fleet and inventory as before they existed.
    unlisted, archived = extra_servers(seed, server_list, account)
    unlisted_executions: list[SimExecution] = []
    for server in unlisted:
        last: SimExecution | None = None
        failed: list[str] = []
        for slot, month in enumerate(months):
            features = {"rerun"} if slot and months[slot - 1] == month else set()
            last, failed = generator.execution(server, month, last, failed, features)
            unlisted_executions.append(last)
    draw_power_states(seed, [*server_list, *unlisted])
    return FleetParts(
        account,
        server_list,
        executions,
        rows,
        seed=seed,
        now=generator.now,
        unlisted_servers=unlisted,
        unlisted_executions=unlisted_executions,
        archived_servers=archived,
    )
