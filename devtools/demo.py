"""Synthetic but realistic Hunan demo data, written through ``Ledger.handle`` only.

``generate`` plans a whole history (2008-01-01 to :data:`END`) with ``random.Random(seed)``, sorts the
plan by business date and appends it command by command, so every domain rule is checked and the log
reads roughly in time order. Contract: the same seed gives the same commands, the same business data
and the same event ids and retiree ids (both derived from the seed; ``Context.new_id``); only
timestamps differ between runs. Rerunning a seed on the same ledger therefore replays and appends
nothing; another seed on a ledger that has demo data conflicts on the community codes.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from math import exp
from uuid import UUID, uuid5

from devtools.demo_capacity import plan_capacity
from devtools.demo_vocabulary import (
    CHANNELS,
    CITIES,
    CITY_CYCLE,
    COMMENTS,
    COURSES,
    DANWEI,
    GIVEN,
    LEAVE_REASONS,
    ROLES,
    SCORES,
    SECTOR_PAY,
    SERVICES,
    STREETS,
    SURNAMES,
    TOWNS,
)
from ledger import commands as c
from ledger.application import Ledger
from ledger.domain.values import NAMESPACE
from ledger.errors import InvalidInputError

START, END = date(2008, 1, 1), date(2026, 6, 30)
Progress = Callable[[int, int], None]

RANK = {cls: n for n, cls in enumerate(c.EVENT_OF_COMMAND)}  # same-day order: join before service, ...
NO_RETIREE = UUID(int=0)


@dataclass(frozen=True)
class DemoSummary:
    """What ``generate`` wrote: counts by kind and by event type (replayed commands included)."""

    communities: int
    staff_members: int
    retirees: int
    deaths: int
    events: int
    by_type: dict[str, int]
    replayed: int


@dataclass(frozen=True)
class _Step:
    day: date
    rank: int
    order: int
    command: c.Command
    retiree: int  # index of the retiree whose id the command needs, -1 for community commands
    principal: str


@dataclass
class _Stint:
    staff_id: str
    role: str
    joined: date
    left: date | None


class _Planner:
    """Plans every command of the demo history; nothing is written until ``generate`` runs the plan."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.steps: list[_Step] = []
        self.stints: dict[str, list[_Stint]] = {}
        self.quality: dict[str, int] = {}
        self.cities: dict[str, str] = {}
        self.districts: dict[str, str] = {}
        self.id_numbers: set[str] = set()
        self.rates = {year: self.rng.uniform(3.0, 6.0) for year in range(START.year, END.year + 1)}

    def add(self, day: date, command: c.Command, principal: str, retiree: int = -1) -> None:
        self.steps.append(_Step(max(day, START), RANK[type(command)], len(self.steps), command, retiree, principal))

    def day_between(self, first: date, last: date) -> date:
        return first + timedelta(days=self.rng.randint(0, max(0, (last - first).days)))

    def name(self, kind: str) -> str:
        return self.rng.choice(SURNAMES) + self.rng.choice(GIVEN[kind])

    # ---- communities and their staff --------------------------------------------------------

    def communities(self, count: int) -> list[str]:
        names = list(STREETS)
        self.rng.shuffle(names)
        cities = [CITY_CYCLE[n % len(CITY_CYCLE)] for n in range(count)]
        order = {city: self.rng.sample(sorted(v[2]), len(v[2])) for city, v in CITIES.items()}
        per_district: Counter[str] = Counter()
        codes = []
        for n, city in enumerate(cities):
            prefix, _, districts = CITIES[city]
            district = order[city][cities[:n].count(city) % len(districts)]  # spread over the districts
            per_district[district] += 1
            code = f"{prefix}-{districts[district][0]}-{per_district[district]:03d}"
            rural = city == "Changde" and cities[:n].count(city) % 2 == 1  # every second one is a town
            street = self.rng.choice(TOWNS[district]) if rural else names[n % len(names)] + "街道"
            name = street if rural else f"{names[n % len(names)]}{'' if n < len(names) else n}社区"
            kind = "rural_town" if rural else "urban_community"
            self.add(START, c.RegisterCommunity(code, name, city, district, street, kind), "agency:HN-HRSS")
            self.cities[code], self.districts[code] = city, district
            self.quality[code] = self.rng.choice((0, 0, 1, 2, 4, 6))
            self.staff(code)
            codes.append(code)
        return codes

    def staff(self, code: str) -> None:
        slots = ["full_time"] * self.rng.choice((1, 1, 2, 2, 2, 3))
        slots += ["part_time"] * self.rng.choice((0, 1, 1, 2)) + ["volunteer"] * self.rng.choice((1, 2, 3))
        stints = self.stints[code] = []
        for slot, role in enumerate(slots):
            mean, qualified, gap = ROLES[role]
            joined = START + timedelta(days=self.rng.randint(0, 20 if slot == 0 else 400))
            while joined <= END:
                staff_id = f"{code}-S{len(stints) + 1:02d}"
                who = f"community:{code}"
                self.add(joined, c.JoinStaff(code, staff_id, self.name("staff"), role,
                                             self.rng.random() < qualified, joined), who)
                ends = joined + timedelta(days=60 + int(self.rng.expovariate(1 / mean)))
                left = ends if ends <= END else None
                stints.append(_Stint(staff_id, role, joined, left))
                if left is None:
                    break
                self.add(left, c.RecordStaffLeft(code, staff_id, left, self.rng.choice(LEAVE_REASONS)), who)
                joined = left + timedelta(days=1 if slot == 0 else self.rng.randint(7, gap))
        for year in range(START.year, END.year + 1):
            for _ in range(self.rng.choice((0, 1, 1, 2))):
                day = self.day_between(date(year, 2, 1), min(date(year, 12, 15), END))
                active = self.active(code, day, ("full_time", "part_time"))
                if active:
                    course = self.rng.choice(COURSES)
                    hours = self.rng.choice((8, 16, 24, 40, 72))
                    training = c.RecordTraining(code, self.rng.choice(active), course, hours, day)
                    self.add(day, training, f"community:{code}")

    def active(self, code: str, day: date, roles: tuple[str, ...] = tuple(ROLES)) -> list[str]:
        return [s.staff_id for s in self.stints[code]
                if s.role in roles and s.joined <= day and (s.left is None or day <= s.left)]

    # ---- retirees ---------------------------------------------------------------------------

    def retiree(self, index: int, codes: list[str]) -> None:
        rng, add = self.rng, self.add
        home = rng.choice(codes)
        city = self.cities[home]
        sex = "female" if rng.random() < 0.52 else "male"
        born = self.day_between(date(1935, 1, 1), date(1965, 12, 31))
        age = 60 if sex == "male" else rng.choice((50, 50, 55))
        retired = date(born.year + age + born.month // 12, born.month % 12 + 1, 1)
        danwei = rng.choice([d for d in DANWEI if d[2] == city] if rng.random() < 0.85 else DANWEI)
        died = self.death(born, retired)
        # the pension reached at the end (or at death) lies in 1,850-6,450; enrollment is that before the raises
        final = min(6450.0, 1850 + rng.triangular(0, 4600, 900) * SECTOR_PAY[danwei[3]])
        rates = {year: Decimal(f"{min(6.0, max(3.0, self.rates[year] + rng.uniform(-0.3, 0.3))):.2f}")
                 for year in range(max(START.year, retired.year + 1), END.year + 1) if date(year, 1, 1) < died}
        pension = Decimal(final).quantize(Decimal("0.01"))
        for rate in rates.values():
            pension /= 1 + rate / 100
        pension = pension.quantize(Decimal("0.01"))
        agency = f"{CITIES[city][0]}-SIA"
        district = self.districts[home]
        add(retired, c.Enroll(self.name(sex), self.id_number(city, district, born, sex), sex, born, danwei[0],
                              danwei[1], retired, pension, agency, city, district), f"agency:{agency}", index)
        moved = rng.random() < 0.07
        early = self.day_between(date(2008, 3, 1), date(2010, 6, 30))
        transfer = max(early, retired) if retired < START else retired + timedelta(days=rng.randint(0, 730))
        placements: list[tuple[str, date]] = []
        if transfer <= END and transfer < died:
            placements.append((home, transfer))
            flags = rng.random() < 0.95, rng.random() < 0.98, rng.random() < 0.9, rng.random() < 0.3
            officer = f"{agency}/officer-{rng.randint(1, 9):02d}"
            add(transfer, c.TransferToCommunity(NO_RETIREE, danwei[0], home, transfer, officer, *flags),
                f"agency:{agency}", index)
            later = transfer + timedelta(days=180 + rng.randint(0, 3000))
            if moved and later <= END and later < died:
                target = rng.choice([k for k in codes if k != home and (self.cities[k] == city or rng.random() < 0.2)]
                                    or [home])
                if target != home:
                    placements.append((target, later))
                    reason = rng.choice(("moved in with children", "housing resettlement", "bought a new flat"))
                    add(later, c.Relocate(NO_RETIREE, target, later, reason), f"community:{target}", index)
        self.pension_years(index, retired, died, pension, rates, agency)
        self.services(index, born, died, placements)
        if died <= END:
            where = f"community:{placements[-1][0]}" if placements else f"danwei:{danwei[0]}"
            add(died, c.RecordDeath(NO_RETIREE, died, where), f"agency:{agency}", index)

    def death(self, born: date, retired: date) -> date:
        """A death date after ``max(START, retired)`` from a Gompertz-like yearly hazard, or after END."""
        for year in range(max(START.year, retired.year), END.year + 1):
            if self.rng.random() < exp(-10.4 + 0.095 * (year - born.year)):
                day = self.day_between(max(date(year, 1, 2), retired + timedelta(days=1)), date(year, 12, 31))
                return day if day <= END else END + timedelta(days=1)
        return END + timedelta(days=1)

    def id_number(self, city: str, district: str, born: date, sex: str) -> str:
        """18 digits: region code, birth date, sequence (odd for men), ISO 7064 MOD 11-2 check digit."""
        while True:
            home_city = city if self.rng.random() < 0.9 else self.rng.choice(list(CITIES))
            _, prefix, districts = CITIES[home_city]
            suffix = districts[district][1] if home_city == city and self.rng.random() < 0.7 else self.rng.choice(
                sorted(v[1] for v in districts.values()))
            sequence = self.rng.randrange(0, 1000, 2) + (1 if sex == "male" else 0)
            body = f"{prefix}{suffix}{born:%Y%m%d}{min(sequence, 999):03d}"
            total = sum(int(d) * w for d, w in zip(body, (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2),
                                                   strict=True))
            number = body + "10X98765432"[total % 11]
            if number not in self.id_numbers:
                self.id_numbers.add(number)
                return number

    def pension_years(
        self, index: int, retired: date, died: date, pension: Decimal, rates: dict[int, Decimal], agency: str
    ) -> None:
        """January raises by ``rates`` (percent), one certification a year, a suspension when it was missed."""
        rng, who = self.rng, f"agency:{agency}"
        for year in range(max(START.year, retired.year), END.year + 1):
            january, rate = date(year, 1, 1), rates.get(year)
            if rate is not None:
                new = (pension * (1 + rate / 100)).quantize(Decimal("0.01"))
                self.add(january, c.AdjustPension(NO_RETIREE, pension, new, f"{year}-01", "annual_adjustment",
                                                  f"HN-HRSS-{year}-{rng.randint(1, 30):02d}"), who, index)
                pension = new
            first = max(date(year, 3, 1), retired + timedelta(days=30))
            if first.year != year:
                continue
            method = rng.choices(("in_person", "home_visit", "face_recognition", "data_matching"),
                                 weights=(6, 3, 0, 1) if year < 2016 else (2, 2, 4, 3))[0]
            if rng.random() < 0.025 and first.month < 9:
                month = rng.randint(first.month + 1, 9)
                suspended = date(year, month, 1)
                certified = self.day_between(date(year, month + 1, 1), date(year, month + 3, 28))
                if suspended > END or suspended >= died:
                    continue
                self.add(suspended, c.SuspendPension(NO_RETIREE, f"{year}-{month:02d}", "certification missed"),
                         who, index)
                if certified <= END and certified < died:
                    self.add(certified, c.CertifyEligibility(NO_RETIREE, year, method, certified), who, index)
                    back = pension * (certified.month - month)
                    self.add(certified, c.ResumePension(NO_RETIREE, f"{year}-{certified.month:02d}",
                                                        "certification completed", back), who, index)
                continue
            certified = self.day_between(first, date(year, 11, 30))
            if first <= date(year, 11, 30) and certified <= END and certified < died:
                self.add(certified, c.CertifyEligibility(NO_RETIREE, year, method, certified), who, index)

    def services(self, index: int, born: date, died: date, placements: list[tuple[str, date]]) -> None:
        """Services by staff active on the day, a share of them rated, and some yearly overall ratings."""
        if not placements:
            return
        rng, day, last = self.rng, placements[0][1], min(END, died - timedelta(days=1))
        while True:
            rate = 1.0 + (0.5 if day.year - born.year >= 70 else 0) + (1.5 if day.year - born.year >= 80 else 0)
            day += timedelta(days=1 + int(rng.expovariate(rate / 365)))
            if day > last:
                break
            code = next(k for k, since in reversed(placements) if since <= day)
            old = day.year - born.year >= 80
            kinds = list(SERVICES)
            kind = rng.choices(kinds, weights=[SERVICES[k][1 if old else 0] for k in kinds])[0]
            preferred = ("volunteer",) if kind == "cultural_activity" else ("full_time",)
            staff = self.active(code, day, preferred) or self.active(code, day)
            if not staff:
                continue
            service_id = f"SV-{len(self.steps):07d}"
            minutes = rng.randint(SERVICES[kind][2] // 5, SERVICES[kind][3] // 5) * 5
            self.add(day, c.DeliverService(NO_RETIREE, service_id, code, kind, day, rng.choice(staff), minutes),
                     f"community:{code}", index)
            rated = day + timedelta(days=rng.choice((0, 0, 1, 3, 7)))
            if rng.random() < 0.3 and rated <= last:
                score = self.score(code)
                self.add(rated, c.RateSatisfaction(NO_RETIREE, score, rated, rng.choice(CHANNELS), service_id,
                                                   COMMENTS[score] if rng.random() < 0.4 else ""),
                         f"community:{code}", index)
            if rng.random() < 0.04:
                self.add(day, c.RateSatisfaction(NO_RETIREE, self.score(code), day, "survey"), f"community:{code}",
                         index)

    def score(self, code: str) -> int:
        bad = self.quality[code]
        return self.rng.choices(SCORES, weights=(3 + bad, 5 + bad, 14 + bad, 33, 45 - 3 * bad))[0]


def generate(ledger: Ledger, retirees: int = 500, seed: int = 7, progress: Progress | None = None) -> DemoSummary:
    """Plans and appends a demo history of about ``retirees`` people (one community per ~40 of them).

    Every command goes through ``ledger.handle`` with ``Context(today=END)``; a broken rule raises (a bug
    in the generator, never expected). ``progress(done, total)`` counts commands.
    """
    if retirees < 0:
        raise InvalidInputError("the number of retirees cannot be negative")
    planner = _Planner(seed)
    codes = planner.communities(max(3, round(retirees / 40)))
    for index in range(retirees):
        planner.retiree(index, codes)
    plan_capacity(planner, codes, seed)  # agencies, standards, training, facilities, funding (issue 12)
    steps = sorted(planner.steps, key=lambda s: (s.day, s.rank, s.order))
    ids: dict[int, UUID] = {}
    by_type: Counter[str] = Counter()
    replayed = 0
    namespace = uuid5(NAMESPACE, f"demo:{seed}")
    for done, step in enumerate(steps, 1):
        command = step.command
        if step.retiree >= 0 and not isinstance(command, c.Enroll):
            command = replace(command, retiree_id=ids[step.retiree])  # type: ignore[arg-type]
        event_id = uuid5(namespace, str(step.order))
        new_id = uuid5(event_id, "retiree") if isinstance(command, c.Enroll) else None
        context = c.Context(principal=step.principal, event_id=event_id, today=END, new_id=new_id)
        result = ledger.handle(command, context)
        if isinstance(command, c.Enroll):
            ids[step.retiree] = UUID(result.id)
        by_type[c.EVENT_OF_COMMAND[type(command)]] += 1
        replayed += result.replayed
        if progress is not None and (done % 200 == 0 or done == len(steps)):
            progress(done, len(steps))
    return DemoSummary(
        communities=len(codes),
        staff_members=sum(len(s) for s in planner.stints.values()),
        retirees=retirees,
        deaths=by_type["Deceased"],
        events=len(steps),
        by_type=dict(sorted(by_type.items())),
        replayed=replayed,
    )
