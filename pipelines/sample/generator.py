"""Generate deterministic, realistic usage logs in the input contract, plus their ground truth.

The output folder gets `events/` (JSON Lines) and `access/` (Combined Log Format), rotated
at the server's local midnight so that files straddle UTC dates as real ones do, and
`ground_truth/` with every identifier planted (`identifiers.csv.gz`: kind, value, placement),
every line deliberately broken (`malformed.csv`) and a `summary.json` of counts.
"""

from __future__ import annotations

import bisect
import csv
import gzip
import io
import itertools
import random
import shutil
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, quote_plus

import orjson
from faker import Faker

from pipelines.sample import vocab
from pipelines.sample.people import (
    Device,
    NamePools,
    Patient,
    Population,
    User,
    make_patients,
    make_users,
    public_ipv4,
)
from pipelines.sample.writers import RotatingLogWriter

DEFAULT_START = date(2026, 10, 1)
EVENTS_PER_USER_DAY = 3
_HOUR_WEIGHTS = (1, 1, 1, 1, 1, 2, 4, 8, 12, 14, 14, 12, 10, 12, 13, 12, 10, 8, 5, 4, 3, 2, 2, 1)
_SESSION_EVENTS = (
    "page_view", "search", "prescription_sent", "file_upload", "file_share",
    "survey_response", "support_ticket", "contact_import", "profile_update",
    "feature_flag_evaluated",
)  # fmt: skip
_SESSION_WEIGHTS = (40, 14, 12, 4, 3, 1, 1.2, 0.4, 0.6, 1.5)
_WEB_EVENTS = frozenset({"login", "signup", "page_view", "search", "file_upload", "file_share"})


@dataclass(frozen=True)
class GeneratorConfig:
    """What to generate. `events` defaults to three events per user and day."""

    out: Path
    days: int = 31
    users: int = 2000
    seed: int = 7
    start: date = DEFAULT_START
    events: int | None = None
    malformed_rate: float = 0.0005
    population: Population = field(default_factory=Population)
    # Write the shipper's marker for every generated UTC day (`<folder>/_closed/YYYY-MM-DD`),
    # as a log shipper does once it has delivered every line of a closed day.
    shipper_markers: bool = True

    def __post_init__(self) -> None:
        if self.days < 1 or self.users < 1:
            raise ValueError("--days and --users must be at least 1")
        if self.events is not None and self.events < 1:
            raise ValueError("--events must be at least 1")
        if not 0 <= self.malformed_rate < 0.5:
            raise ValueError("malformed_rate must be in [0, 0.5)")

    @property
    def total_events(self) -> int:
        """How many events (valid or deliberately malformed) will be written."""
        return self.events or self.users * self.days * EVENTS_PER_USER_DAY


@dataclass
class GenerationSummary:
    """Counts of what was written, for the command line and the tests."""

    events: int
    access_lines: int
    malformed: int
    identifiers: int
    files: list[str]
    event_types: dict[str, int]


class _World:
    def __init__(self, config: GeneratorConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        fake = Faker("en_US")
        fake.seed_instance(config.seed)
        self.pools = NamePools.draw(fake)
        self.users = make_users(config.users, config.days, self.rng, self.pools, config.population)
        self.patients = make_patients(max(50, config.users * 3), self.rng, self.pools)
        self.planted: set[tuple[str, str, str]] = set()
        self.malformed: list[tuple[str, str, int, str]] = []
        self.event_types: Counter[str] = Counter()
        server = timedelta(hours=vocab.SERVER_UTC_OFFSET_HOURS)
        self.server_offset = server
        last_day = config.start + timedelta(days=config.days - 1)
        plain = last_day.isoformat()
        self.events_out = RotatingLogWriter(config.out / "events", "events", ".jsonl", plain)
        self.access_out = RotatingLogWriter(config.out / "access", "access", ".log", plain)

    def plant(self, kind: str, value: str, placement: str) -> str:
        self.planted.add((kind, value, placement))
        return value

    def event_id(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    # --- free text -------------------------------------------------------------------
    def patient(self) -> Patient:
        return self.rng.choice(self.patients)

    def ticket_body(self, user: User, where: str) -> str:
        rng, p = self.rng, self.patient()
        choice = rng.randrange(8)
        if choice == 0:
            return (
                f"Hi, this is {self.plant('person_name', user.name, where)} "
                f"({self.plant('email', user.email, where)}). I can't send a prescription for "
                f"{self.plant('patient_name', p.name, where)}, DOB "
                f"{self.plant('date_of_birth', p.dob, where)}. Please call me at "
                f"{self.plant('phone', user.phone, where)}."
            )
        if choice == 1:
            card = user.card_number
            shown = (
                " ".join(card[i : i + 4] for i in range(0, len(card), 4))
                if rng.random() < 0.5
                else card
            )
            return (
                f"My card {self.plant('credit_card', shown, where)} was charged twice this month. "
                f"Billing address {self.plant('street_address', user.billing_address, where)}."
            )
        if choice == 2 and user.dea:
            return (
                f"Please update my DEA number to {self.plant('dea', user.dea, where)} "
                f"and NPI {self.plant('npi', user.npi, where)}. Thanks, "
                f"{self.plant('person_name', user.name, where)}"
            )
        if choice == 3:
            ssn = user.ssn if rng.random() < 0.7 else user.ssn.replace("-", " ")
            return (
                f"For the tax form my SSN is {self.plant('ssn', ssn, where)}, please update "
                "the billing profile."
            )
        if choice == 4:
            return (
                f"Patient {self.plant('patient_name', p.name, where)} (MRN "
                f"{self.plant('mrn', p.mrn, where)}) shows the wrong pharmacy on the chart."
            )
        if choice == 5:
            return (
                f"Chart #{self.plant('mrn', p.mrn, where)} for "
                f"{self.plant('patient_name', p.name, where)} will not load. You can reach our "
                f"office manager at {self.plant('phone', user.phone, where)}."
            )
        return rng.choice(
            (
                "The dashboard is slow since the last update.",
                "EPCS token keeps asking for a new code.",
                "How do I export my prescription history?",
            )
        )

    def survey_comment(self, user: User, where: str) -> str:
        roll = self.rng.random()
        if roll < 0.08:
            return f"Contact me at {self.plant('email', user.email, where)} about this survey."
        if roll < 0.15:
            other = self.rng.choice(self.users)
            return f"{self.plant('person_name', other.name, where)} from our office loves it."
        return self.rng.choice(vocab.SURVEY_COMMENTS)

    def search_query(self, user: User) -> str:
        rng, p, where = self.rng, self.patient(), "free_text:search.query"
        roll = rng.random()
        if roll < 0.15:
            return self.plant("patient_name", p.name, where)
        if roll < 0.2:
            return f"MRN {self.plant('mrn', p.mrn, where)}"
        if roll < 0.24:
            name = self.plant("patient_name", p.name, where)
            return f"{name} {self.plant('date_of_birth', p.dob, where)}"
        if roll < 0.27:
            return f"npi {self.plant('npi', user.npi, where)}"
        if roll < 0.55:
            return rng.choice(vocab.DRUGS)
        return rng.choice(vocab.SEARCH_TOPICS)

    # --- urls ------------------------------------------------------------------------
    def page_path(self, user: User) -> str:
        rng = self.rng
        roll = rng.randrange(12)
        if roll == 0:
            email = quote(user.email, safe="")
            self.plant("email", email, "url_path")
            self.plant("email", user.email, "url_path")
            return f"/users/{email}/profile"
        if roll == 1:
            email = quote(user.email, safe="")
            self.plant("email", user.email, "url_query")
            return f"/invite?email={email}&role={rng.choice(vocab.ROLES)}"
        if roll == 2:
            p = self.patient()
            self.plant("patient_name", p.name, "url_query")
            return f"/contacts?filter={quote_plus(p.name)}&page={rng.randint(1, 4)}"
        if roll == 3:
            self.plant("email", user.email, "url_query")
            return (
                f"/account/reset-password?email={quote(user.email, safe='')}"
                f"&token={rng.getrandbits(64):016x}"
            )
        if roll == 4:
            return f"/patients/{rng.randint(10000, 999999)}/prescriptions/new"
        if roll == 5:
            return f"/prescriptions/rx-{rng.getrandbits(32):08x}"
        if roll == 6:
            return f"/messages/{rng.randint(1000, 99999)}"
        if roll == 7:
            return f"/files/{rng.getrandbits(40):010x}/preview"
        if roll == 8:
            return "/settings/billing"
        if roll == 9:
            tab = rng.choice(("meds", "allergies", "notes"))
            return f"/patients/{rng.randint(10000, 999999)}/chart?tab={tab}"
        return rng.choice(("/dashboard", "/dashboard", "/inbox", "/pharmacies", "/help"))

    def referrer(self, previous_url: str | None) -> str | None:
        roll = self.rng.random()
        if previous_url and roll < 0.6:
            return previous_url
        if roll < 0.72:
            terms = self.rng.choice(vocab.WEB_SEARCH_TERMS)
            if self.rng.random() < 0.15:
                p = self.patient()
                terms = f"{p.name} pharmacy"
                self.plant("patient_name", p.name, "referrer")
            engine = self.rng.choice(
                ("https://www.google.com/search?q=", "https://www.bing.com/search?q=")
            )
            return engine + quote_plus(terms)
        return None

    # --- events ----------------------------------------------------------------------
    def properties(self, kind: str, user: User) -> dict:
        rng = self.rng
        if kind in ("signup", "profile_update"):
            where = f"structured:{kind}"
            props = {
                "name": self.plant("person_name", user.name, where),
                "email": self.plant("email", user.email, where),
                "phone": self.plant("phone", user.phone, where),
                "title": user.title,
                "company": user.company,
                "specialty": user.specialty,
                "practice_size": user.practice_size,
                "state": user.state,
                "zip": self.plant("zip", user.zip, where),
                "birth_year": user.birth_year,
                "gender": user.gender,
            }
            if kind == "profile_update" and rng.random() < 0.3:
                props["npi"] = self.plant("npi", user.npi, where)
            return props
        if kind == "search":
            return {"query": self.search_query(user)}
        if kind == "file_upload":
            ext = rng.choice(vocab.FILE_KINDS)
            p = self.patient()
            name = rng.choice(
                (
                    f"{p.name.replace(' ', '_')}_labs_2026.{ext}",
                    f"insurance_card_{p.name.split()[-1]}.{ext}",
                    f"referral letter.{ext}",
                    f"IMG_{rng.randint(1000, 9999)}.{ext}",
                )
            )
            if p.name.split()[-1] in name:
                self.plant("patient_name", p.name.split()[-1], "file_name")
            return {"file_name": name, "size_bytes": rng.randint(2_000, 25_000_000)}
        if kind == "file_share":
            recipients = [
                self.plant("email", rng.choice(self.users).email, "structured:file_share")
            ]
            if rng.random() < 0.4:
                stranger = self.pools.full_name(rng).lower().replace(" ", ".")
                email = f"{stranger}@{rng.choice(vocab.EMAIL_DOMAINS)}"
                recipients.append(self.plant("email", email, "structured:file_share"))
            return {"recipient_emails": recipients, "role": rng.choice(vocab.ROLES)}
        if kind == "contact_import":
            contacts = []
            for _ in range(rng.randint(2, 8)):
                name = self.pools.full_name(rng)
                email = name.lower().replace(" ", ".") + "@" + rng.choice(vocab.EMAIL_DOMAINS)
                contacts.append(
                    {
                        "name": self.plant("person_name", name, "structured:contact_import"),
                        "email": self.plant("email", email, "structured:contact_import"),
                    }
                )
            return {"contacts": contacts}
        if kind == "survey_response":
            return {
                "survey_id": f"nps-2026-q{rng.randint(3, 4)}",
                "rating": rng.randint(0, 10),
                "comment": self.survey_comment(user, "free_text:survey_response.comment"),
            }
        if kind == "support_ticket":
            return {
                "subject": rng.choice(vocab.TICKET_SUBJECTS),
                "body": self.ticket_body(user, "free_text:support_ticket.body"),
            }
        if kind == "prescription_sent":
            p = self.patient()
            return {
                "drug": rng.choice(vocab.DRUGS),
                "quantity": rng.choice((10, 14, 20, 30, 60, 90)),
                "patient_name": self.plant("patient_name", p.name, "structured:prescription_sent"),
                "patient_dob": self.plant("date_of_birth", p.dob, "structured:prescription_sent"),
            }
        if kind == "payment":
            where = "structured:payment"
            return {
                "amount_cents": vocab.PLAN_PRICE_CENTS[user.plan],
                "currency": "USD",
                "plan": user.plan,
                "card_brand": user.card_brand,
                "card_last4": user.card_number[-4:],
                "billing_zip": self.plant("zip", user.zip, where),
                "billing_address": self.plant("street_address", user.billing_address, where),
            }
        if kind == "subscription_change":
            old = user.plan
            user.plan = rng.choice([p for p in vocab.PLANS if p != old])
            return {"plan_from": old, "plan_to": user.plan}
        if kind == "consent_update":
            return {
                "share_with_partners": user.shares_with_partners,
                "marketing": rng.random() < 0.4,
            }
        if kind == "feature_flag_evaluated":
            return {"flag": rng.choice(("new-dashboard", "epcs-v2")), "variant": rng.choice("AB")}
        return {}

    def event(
        self,
        kind: str,
        user: User,
        when: datetime,
        session: str | None,
        device: Device | None,
        url: str | None,
        referrer: str | None,
    ) -> dict:
        offset = user.utc_offset
        if offset in ("Z", "+00:00"):
            local = when
        else:
            sign = -1 if offset[0] == "-" else 1
            local = when + timedelta(hours=sign * int(offset[1:3]), minutes=sign * int(offset[4:6]))
        record = {
            "event_id": self.event_id(),
            "ts": local.replace(tzinfo=None).isoformat(timespec="milliseconds") + offset,
            "event": kind,
            "user_id": self.plant("user_id", user.user_id, "structured:user_id"),
            "org_id": user.org_id,
            "session_id": session,
            "ip": self.plant("ip_address", device.ip, "structured:ip") if device else None,
            "user_agent": device.user_agent if device else None,
            "url": url,
            "referrer": referrer,
            "properties": self.properties(kind, user),
        }
        roll = self.rng.random()
        if roll < 0.03:
            record["app_version"] = f"5.{self.rng.randint(10, 14)}.{self.rng.randint(0, 9)}"
        elif roll < 0.04:
            record["trace_id"] = f"{self.rng.getrandbits(64):016x}"
        self.event_types[kind] += 1
        return record

    def server_date(self, when: datetime) -> str:
        return (when + self.server_offset).date().isoformat()

    def emit_event(self, record: dict, when: datetime) -> None:
        line = orjson.dumps(record)
        date_key = self.server_date(when)
        if self.rng.random() < self.config.malformed_rate:
            line, kind = self.break_event(record, line)
            name, number = self.events_out.write(date_key, line)
            self.malformed.append(("app_events", name, number, kind))
            self.event_types[record["event"]] -= 1
            return
        self.events_out.write(date_key, line)

    def break_event(self, record: dict, line: bytes) -> tuple[bytes, str]:
        kind = self.rng.choice(
            (
                "truncated",
                "missing_ts",
                "bad_ts",
                "naive_ts",
                "wrong_type",
                "not_object",
                "invalid_utf8",
                "missing_event_id",
            )
        )
        broken = dict(record)
        if kind == "truncated":
            return line[: len(line) // 2], kind
        if kind == "missing_ts":
            del broken["ts"]
        elif kind == "bad_ts":
            broken["ts"] = "yesterday at noon"
        elif kind == "naive_ts":
            broken["ts"] = record["ts"][:23]
        elif kind == "wrong_type":
            broken["user_id"] = self.rng.randint(1, 10**9)
        elif kind == "missing_event_id":
            del broken["event_id"]
        elif kind == "not_object":
            return orjson.dumps([record["event"], record["ts"]]), kind
        elif kind == "invalid_utf8":
            return line.replace(b'"event":"', b'"event":"\xff\xfe', 1), kind
        return orjson.dumps(broken), kind

    def emit_access(
        self,
        user: User | None,
        device: Device,
        when: datetime,
        path: str,
        referrer: str | None,
        status: int = 200,
    ) -> None:
        local = when + self.server_offset
        stamp = local.strftime("%d/%b/%Y:%H:%M:%S") + f" {vocab.SERVER_UTC_OFFSET_HOURS:+03d}00"
        remote_user = "-"
        if user is not None and self.rng.random() < 0.1:
            remote_user = self.plant("email", user.email, "access_remote_user")
        if device is not None and user is not None:
            self.plant("ip_address", device.ip, "access_remote_host")
        method = "POST" if path.startswith(("/invite", "/account")) else "GET"
        line = (
            f'{device.ip} - {remote_user} [{stamp}] "{method} {path} HTTP/1.1" {status} '
            f'{self.rng.randint(200, 90_000)} "{referrer or "-"}" "{device.user_agent}"'
        ).encode()
        date_key = self.server_date(when)
        if self.rng.random() < self.config.malformed_rate:
            kind = self.rng.choice(("truncated", "garbage"))
            line = (
                line[: len(line) - 20]
                if kind == "truncated"
                else b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"
            )
            name, number = self.access_out.write(date_key, line)
            self.malformed.append(("access_log", name, number, kind))
            return
        self.access_out.write(date_key, line)

    # --- sessions --------------------------------------------------------------------
    def session(self, user: User, day: int, start: datetime, budget: int) -> int:
        rng = self.rng
        device = rng.choice(user.devices)
        session_id = f"s_{rng.getrandbits(64):016x}"
        kinds: list[str] = []
        if not user.appeared:
            kinds.append("signup" if user.signup_day is not None else "profile_update")
            user.appeared = True
        else:
            kinds.append("login")
        if user.consent_day is not None and day >= user.consent_day:
            kinds.append("consent_update")
            user.consent_day = None
        if user.plan_change_day is not None and day >= user.plan_change_day:
            kinds.append("subscription_change")
            user.plan_change_day = None
        kinds.extend(rng.choices(_SESSION_EVENTS, _SESSION_WEIGHTS, k=rng.randint(2, 14)))
        if user.delete_day is not None and day >= user.delete_day:
            kinds.append("account_deleted")
            user.deleted = True
        kinds = kinds[:budget]
        when, previous = start, None
        for kind in kinds:
            url = referrer = None
            if kind in _WEB_EVENTS:
                path = self.page_path(user) if kind == "page_view" else {
                    "login": "/login", "signup": "/signup", "search": "/search",
                    "file_upload": "/files/upload", "file_share": "/files/share",
                }[kind]  # fmt: skip
                url = f"https://{vocab.APP_HOST}{path}"
                referrer = self.referrer(previous)
                self.emit_access(
                    user, device, when, path, referrer, 302 if kind == "login" else 200
                )
                previous = url
            self.emit_event(self.event(kind, user, when, session_id, device, url, referrer), when)
            when += timedelta(seconds=rng.randint(3, 240), milliseconds=rng.randrange(1000))
        return len(kinds)

    def bots(self, day_start: datetime, count: int) -> None:
        for _ in range(count):
            agent = self.rng.choice(vocab.BOT_AGENTS)
            device = Device(agent, public_ipv4(self.rng))
            when = day_start + timedelta(seconds=self.rng.randrange(86_400))
            self.emit_access(None, device, when, self.rng.choice(vocab.BOT_PATHS), None, 200)

    def payments(self, day: int, day_start: datetime, budget: int) -> int:
        written = 0
        for user in self.users:
            if written >= budget:
                break
            if (
                user.plan != "free"
                and user.appeared
                and not user.deleted
                and day % 30 == user.bill_day
            ):
                when = day_start + timedelta(hours=6, seconds=self.rng.randrange(3600))
                self.emit_event(self.event("payment", user, when, None, None, None, None), when)
                written += 1
        return written

    def day(self, day: int, quota: int) -> None:
        rng = self.rng
        day_start = datetime.combine(
            self.config.start + timedelta(days=day), datetime.min.time(), UTC
        )
        written = self.payments(day, day_start, quota)
        eligible = [
            u for u in self.users
            if not u.deleted and (u.signup_day is None or u.signup_day <= day)
        ]  # fmt: skip
        cumulative = list(itertools.accumulate(u.weight for u in eligible))
        while written < quota and eligible:
            user = eligible[bisect.bisect(cumulative, rng.random() * cumulative[-1])]
            hour = rng.choices(range(24), _HOUR_WEIGHTS)[0]
            offset = user.utc_offset
            shift = 0 if offset in ("Z", "+00:00") else int(offset[:3])
            start = day_start + timedelta(hours=hour - shift, seconds=rng.randrange(3600))
            n = self.session(user, day, start, quota - written)
            written += n
            if user.deleted:
                eligible.remove(user)
                cumulative = list(itertools.accumulate(u.weight for u in eligible))
        self.bots(day_start, max(1, quota // 25))
        self.events_out.close_before(self.server_date(day_start - timedelta(days=1)))
        self.access_out.close_before(self.server_date(day_start - timedelta(days=1)))


def generate(config: GeneratorConfig) -> GenerationSummary:
    """Write a fresh sample into `config.out` (replacing events/, access/ and ground_truth/)."""
    for folder in ("events", "access", "ground_truth"):
        shutil.rmtree(config.out / folder, ignore_errors=True)
    world = _World(config)
    total = config.total_events
    per_day, extra = divmod(total, config.days)
    for day in range(config.days):
        world.day(day, per_day + (1 if day < extra else 0))
    world.events_out.close()
    world.access_out.close()
    if config.shipper_markers:
        _write_shipper_markers(config)
    summary = GenerationSummary(
        events=sum(world.events_out.lines_per_file.values()),
        access_lines=sum(world.access_out.lines_per_file.values()),
        malformed=len(world.malformed),
        identifiers=len(world.planted),
        files=sorted([*world.events_out.lines_per_file, *world.access_out.lines_per_file]),
        event_types=dict(sorted((k, v) for k, v in world.event_types.items() if v)),
    )
    _write_ground_truth(config, world, summary)
    return summary


def _write_shipper_markers(config: GeneratorConfig) -> None:
    """Mark every generated UTC day closed in both sources (docs/input-formats.md)."""
    for folder in ("events", "access"):
        markers = config.out / folder / "_closed"
        markers.mkdir(parents=True, exist_ok=True)
        for day in range(config.days):
            marked = (config.start + timedelta(days=day)).isoformat()
            (markers / marked).write_text("closed by the sample generator\n", encoding="utf-8")


def _write_ground_truth(config: GeneratorConfig, world: _World, summary: GenerationSummary) -> None:
    folder = config.out / "ground_truth"
    folder.mkdir(parents=True, exist_ok=True)
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(("kind", "value", "placement"))
    writer.writerows(sorted(world.planted))
    compressed = gzip.compress(text.getvalue().encode("utf-8"), compresslevel=6, mtime=0)
    (folder / "identifiers.csv.gz").write_bytes(compressed)
    with open(folder / "malformed.csv", "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(("source", "file", "line", "kind"))
        writer.writerows(world.malformed)
    lines_per_file = {**world.events_out.lines_per_file, **world.access_out.lines_per_file}
    payload = {
        "seed": config.seed,
        "start": config.start.isoformat(),
        "days": config.days,
        "users": config.users,
        "events": summary.events,
        "access_lines": summary.access_lines,
        "malformed": summary.malformed,
        "identifiers": summary.identifiers,
        "event_types": summary.event_types,
        "lines_per_file": dict(sorted(lines_per_file.items())),
    }
    (folder / "summary.json").write_bytes(orjson.dumps(payload, option=orjson.OPT_INDENT_2))
