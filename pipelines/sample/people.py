"""The sample world's people: users of the service and the patients they prescribe for."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

import iptocc
from faker import Faker

from deidentify.checksums import dea_check_digit, luhn_check_digit, npi_with_check_digit
from pipelines.sample import vocab


@dataclass
class Device:
    """A browser or app install a user works from, with the address it connects from."""

    user_agent: str
    ip: str


@dataclass
class User:
    """A registered user: identity, profile, plan and the schedule of their one-off events."""

    user_id: str
    org_id: str
    first: str
    last: str
    email: str
    phone: str
    title: str
    company: str
    specialty: str
    practice_size: int
    state: str
    zip: str
    birth_year: int
    gender: str
    npi: str
    dea: str | None
    ssn: str
    card_number: str
    card_brand: str
    billing_address: str
    plan: str
    utc_offset: str
    devices: list[Device]
    weight: float
    signup_day: int | None
    delete_day: int | None
    consent_day: int | None
    shares_with_partners: bool
    plan_change_day: int | None
    bill_day: int
    pending: list[str] = field(default_factory=list)
    appeared: bool = False
    deleted: bool = False

    @property
    def name(self) -> str:
        """Display name as users type it."""
        return f"{self.first} {self.last}"


@dataclass(frozen=True)
class Patient:
    """A patient who appears in prescriptions, searches and support tickets."""

    name: str
    dob: str
    mrn: str


def make_ssn(rng: random.Random) -> str:
    """A well-formed SSN: area not 000, 666 or 9xx, group not 00, serial not 0000."""
    area = rng.choice([a for a in range(1, 900) if a != 666])
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def make_card(rng: random.Random) -> tuple[str, str]:
    """A Luhn-valid card number with its brand."""
    brand = rng.choice(vocab.CARD_BRANDS)
    prefix, length = {
        "visa": ("4", 16),
        "mastercard": (str(rng.randint(51, 55)), 16),
        "amex": (rng.choice(("34", "37")), 15),
        "discover": ("6011", 16),
    }[brand]
    body = prefix + "".join(str(rng.randint(0, 9)) for _ in range(length - len(prefix) - 1))
    return body + luhn_check_digit(body), brand


def make_npi(rng: random.Random) -> str:
    """A valid 10-digit NPI (Luhn over the 80840 prefix)."""
    return npi_with_check_digit(str(rng.randint(1, 2)) + f"{rng.randint(0, 99_999_999):08d}")


def make_dea(rng: random.Random, last_name: str) -> str:
    """A DEA number with a valid check digit and the registrant's last initial."""
    six = f"{rng.randint(0, 999_999):06d}"
    initial = last_name[0].upper() if last_name[:1].isalpha() else "X"
    return rng.choice("ABFGM") + initial + six + dea_check_digit(six)


def make_phone(rng: random.Random) -> str:
    """A US phone number in one of the formats people type."""
    area, exchange, line = rng.choice(vocab.AREA_CODES), rng.randint(201, 989), rng.randint(0, 9999)
    style = rng.randrange(4)
    if style == 0:
        return f"({area}) {exchange}-{line:04d}"
    if style == 1:
        return f"{area}-{exchange}-{line:04d}"
    if style == 2:
        return f"+1 {area} {exchange} {line:04d}"
    return f"{area}.{exchange}.{line:04d}"


@dataclass(frozen=True)
class NamePools:
    """Faker's realistic parts, drawn once: Faker is slow, picking from a pool is not.

    With a thousand first and last names the pools give a million distinct full names, so
    generating a million events costs the same Faker time as generating a hundred.
    """

    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    companies: tuple[str, ...]
    streets: tuple[str, ...]
    cities: tuple[str, ...]
    zips_by_state: dict[str, tuple[str, ...]]

    @classmethod
    def draw(cls, fake: Faker, size: int = 1000) -> NamePools:
        """Draw every pool from a seeded Faker."""
        return cls(
            first_names=tuple(fake.first_name() for _ in range(size)),
            last_names=tuple(fake.last_name() for _ in range(size)),
            companies=tuple(fake.company() for _ in range(size // 4)),
            streets=tuple(fake.street_address() for _ in range(size // 2)),
            cities=tuple(fake.city() for _ in range(size // 4)),
            zips_by_state={
                state: tuple(fake.zipcode_in_state(state) for _ in range(25))
                for state in vocab.STATES
            },
        )

    def full_name(self, rng: random.Random) -> str:
        """A first and last name."""
        return f"{rng.choice(self.first_names)} {rng.choice(self.last_names)}"


def public_ipv4(rng: random.Random) -> str:
    """A random address outside private, loopback, link-local and multicast ranges."""
    while True:
        first = rng.randint(1, 223)
        second = rng.randint(0, 255)
        if first in (10, 127) or (first, second) in ((169, 254), (192, 168)):
            continue
        if first == 172 and 16 <= second <= 31:
            continue
        return f"{first}.{second}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def us_ipv4(rng: random.Random) -> str:
    """A public address that iptocc's registry data places in the United States."""
    for _ in range(200):
        address = public_ipv4(rng)
        if iptocc.country_code(address) == "US":
            return address
    return address


@dataclass(frozen=True)
class Population:
    """Who the users are: which states and specialties, and an optional deliberately rare group."""

    states: tuple[str, ...] = vocab.STATES
    state_weights: tuple[float, ...] = vocab.STATE_WEIGHTS
    specialties: tuple[str, ...] = vocab.SPECIALTIES
    rare_group: tuple[str, str, int] | None = None
    us_share: float = 0.92
    plan_weights: tuple[float, ...] = vocab.PLAN_WEIGHTS


def make_users(
    count: int,
    days: int,
    rng: random.Random,
    pools: NamePools,
    population: Population | None = None,
) -> list[User]:
    """`count` users with realistic, seeded identities and schedules over `days` days.

    With a `rare_group` (state, specialty, n), exactly n users have that state and specialty.
    """
    population = population or Population()
    users = []
    org_count = max(1, count // 4)
    orgs = [
        (f"org_{rng.getrandbits(40):010x}", rng.choice(pools.companies)) for _ in range(org_count)
    ]
    for _ in range(count):
        first, last = rng.choice(pools.first_names), rng.choice(pools.last_names)
        org_id, company = rng.choice(orgs)
        state = rng.choices(population.states, population.state_weights)[0]
        if state in vocab.SPARSE_ZIP3 and rng.random() < 0.5:
            zip_code = vocab.SPARSE_ZIP3[state] + f"{rng.randint(0, 99):02d}"
        else:
            zip_code = rng.choice(pools.zips_by_state[state])
        title = rng.choice(vocab.TITLES)
        card, brand = make_card(rng)
        handle = rng.choice(
            (f"{first}.{last}", f"{first[0]}{last}", f"dr.{last}", f"{first}{last}")
        )
        domain = rng.choice((*vocab.EMAIL_DOMAINS, company.split()[0].strip(",").lower() + ".com"))
        devices = [
            Device(
                rng.choice(vocab.USER_AGENTS),
                us_ipv4(rng) if rng.random() < population.us_share else public_ipv4(rng),
            )
            for _ in range(rng.randint(1, 3))
        ]
        signup = rng.randrange(max(1, int(days * 0.8))) if rng.random() < 0.3 else None
        users.append(
            User(
                user_id=f"usr_{rng.getrandbits(48):012x}",
                org_id=org_id,
                first=first,
                last=last,
                email=f"{handle}@{domain}".lower().replace(" ", ""),
                phone=make_phone(rng),
                title=title,
                company=company,
                specialty=rng.choice(population.specialties),
                practice_size=int(rng.paretovariate(1.2)) + rng.randint(0, 4),
                state=state,
                zip=zip_code,
                birth_year=rng.randint(1950, 1998),
                gender=rng.choice(vocab.GENDERS),
                npi=make_npi(rng),
                dea=make_dea(rng, last) if title in vocab.PRESCRIBER_TITLES else None,
                ssn=make_ssn(rng),
                card_number=card,
                card_brand=brand,
                billing_address=(
                    f"{rng.choice(pools.streets)}, {rng.choice(pools.cities)}, {state} {zip_code}"
                ),
                plan=rng.choices(vocab.PLANS, population.plan_weights)[0],
                utc_offset=rng.choices(vocab.TIMEZONE_OFFSETS, vocab.TIMEZONE_WEIGHTS)[0],
                devices=devices,
                weight=rng.paretovariate(1.5),
                signup_day=signup,
                delete_day=rng.randrange(days) if rng.random() < 0.01 else None,
                consent_day=rng.randrange(days) if rng.random() < 0.3 else None,
                shares_with_partners=rng.random() > 0.5,
                plan_change_day=rng.randrange(days) if rng.random() < 0.05 else None,
                bill_day=rng.randrange(30),
            )
        )
    if population.rare_group is not None:
        _place_rare_group(users, population, rng, pools)
    return users


def _place_rare_group(
    users: list[User], population: Population, rng: random.Random, pools: NamePools
) -> None:
    state, specialty, size = population.rare_group  # type: ignore[misc]
    others = [s for s in population.specialties if s != specialty] or list(vocab.SPECIALTIES)
    for user in users:
        if user.state == state and user.specialty == specialty:
            user.specialty = rng.choice(others)
    chosen = rng.sample(users, size)
    for user in chosen:
        user.state, user.specialty = state, specialty
        user.zip = rng.choice(pools.zips_by_state[state])
        user.plan = "pro"
        user.delete_day = None
        user.plan_change_day = None
        user.shares_with_partners = True
        user.signup_day = None
        user.bill_day = 5
        user.weight = 50.0


def make_patients(count: int, rng: random.Random, pools: NamePools) -> list[Patient]:
    """`count` patients with names, dates of birth and medical record numbers."""
    patients = []
    for _ in range(count):
        dob = date(1930, 1, 1) + timedelta(days=rng.randrange(95 * 365))
        style = rng.randrange(3)
        dob_text = (
            dob.isoformat()
            if style == 0
            else dob.strftime("%m/%d/%Y")
            if style == 1
            else dob.strftime("%B %-d, %Y")
        )
        patients.append(
            Patient(pools.full_name(rng), dob_text, f"{rng.randint(100000, 99999999):08d}")
        )
    return patients
