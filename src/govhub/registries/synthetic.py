"""Seeded generator of synthetic but realistic Thai registry data for the demo registries.

Three registries, as hosted on govhub by their agencies (issue 3):

* the civil registration of DOPA: persons (`generate_persons`);
* the juristic persons of DBD: companies and partnerships (`generate_companies`);
* the VAT registrations of the Revenue Department (`generate_vat`).

Everything is drawn from ``random.Random`` streams seeded from the caller's seed, so the same
seed gives identical records, and every record is dated as of `REFERENCE_DATE`, never today.
The generators are iterators: 100,000 persons are never held in memory at once (only their
IDs, to keep them unique, and a small pool of adults for directors).

Number formats (check digits use the public mod-11 rule of `govhub.kit.thai_ids` unless noted):

National ID, 13 digits ``C LLLL GGGGG SS K``
    ``C`` the category: 1 for Thais born from 1 January 1984 and registered in time, 2 for
    those registered late; 3 for people already in a house registration on 31 May 1984, 4 and
    5 for those added later. ``LLLL`` the location code of the registration office (province
    code + district number), the person's home district for most people and another
    district for those registered elsewhere (born or first registered away from home).
    ``GGGGG SS`` the birth-certificate book group and order (random here, unique across the
    set). ``K`` the mod-11 check digit.

House-registration number (รหัสประจำบ้าน), 11 digits ``LLLL NNNNNN K``
    ``LLLL`` the location code of the registration office (the district of the address),
    ``NNNNNN`` a running number of the house within that office, ``K`` a check digit.
    DOPA does not publish its check-digit rule, so govhub uses the same mod-11 rule as the
    national ID over the first ten digits with weights 11..2: ``K = (11 - sum % 11) % 10``
    (`house_registration_check_digit`). Every member of a household shares the number.

Laser code (printed on the back of the smart ID card), 2 letters + 10 digits ``AB NNNNNNNNN K``
    Shown on the card as ``AB1-2345678-90``; stored without dashes (``AB1234567890``).
    The real rule is not public; govhub's synthetic one: the first letter is the production
    series of the card's issue year (`LASER_SERIES`, one letter per year), the second a batch
    letter, ``NNNNNNNNN`` a unique serial and ``K`` a Luhn check digit over the serial. A
    validator of real cards must check only the format (`LASER_CODE_PATTERN`). Children
    under 7 hold no card: their laser code and card dates are null. Cards issued at 70 or
    older are valid for life (no expiry date).

Juristic-person registration number (DBD), 13 digits ``0 OO T YYY NNNNN K``
    ``0`` juristic person; ``OO`` the registration office: 10 for the Central Office in
    Bangkok, otherwise the province code of the provincial office; ``T`` the type
    (2 registered ordinary partnership, 3 limited partnership, 5 limited company,
    7 public limited company); ``YYY`` the last three digits of the Buddhist-era year of
    registration (2548 -> 548); ``NNNNN`` the running number of that office, type and year;
    ``K`` the mod-11 check digit. For a juristic person the tax ID equals this number.

Primary keys: persons by ``national_id``; companies by ``registration_number``; VAT
registrations by ``vat_registration_id``, which is ``tax_id`` + "-" + ``branch_number``
(the natural key is the pair, `VAT_NATURAL_KEY`). The JSON Schemas carry the key as the
annotation ``x-primary-key`` and the personal-data fields as ``x-personal-data``.

Money is integer satang (``registered_capital_satang``), as everywhere in govhub.

Run ``python -m govhub.registries.synthetic`` to time the demo volumes, or with ``--out DIR``
to write them as JSON Lines.
"""

from __future__ import annotations

import argparse
import bisect
import json
import random
import re
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Generic, TypeVar

from govhub.kit.thai_ids import with_check_digit

__all__ = [
    "COMPANY_PERSONAL_FIELDS",
    "COMPANY_PRIMARY_KEY",
    "COMPANY_SCHEMA",
    "LASER_CODE_PATTERN",
    "PERSON_PERSONAL_FIELDS",
    "PERSON_PRIMARY_KEY",
    "PERSON_SCHEMA",
    "REFERENCE_DATE",
    "VAT_NATURAL_KEY",
    "VAT_PERSONAL_FIELDS",
    "VAT_PRIMARY_KEY",
    "VAT_SCHEMA",
    "age_on",
    "generate_companies",
    "generate_persons",
    "generate_vat",
    "house_registration_check_digit",
    "is_valid_house_registration_number",
    "is_valid_laser_code",
    "provinces",
]

# Every date is as of this day, so that a seed gives the same data whenever it is run.
REFERENCE_DATE = date(2026, 1, 1)
ADULT_AGE = 20  # the age of majority in Thailand (Civil and Commercial Code, section 19)
CARD_AGE = 7  # Thais hold an ID card from the age of 7
CHILD_TITLE_AGE = 15  # เด็กชาย / เด็กหญิง below 15

T = TypeVar("T")

# --------------------------------------------------------------------------- reference data


@dataclass(frozen=True, slots=True)
class Province:
    code: str
    name_th: str
    name_en: str
    region: str
    population_k: int


@dataclass(frozen=True, slots=True)
class District:
    code: str
    name_th: str
    name_en: str
    postcode: str
    province: Province
    roads: tuple[tuple[str, str], ...]  # (Thai, English) road names, without ถนน / Road

    @property
    def is_bangkok(self) -> bool:
        return self.province.code == "10"

    @property
    def is_mueang(self) -> bool:
        return self.code.endswith("01")


@dataclass(frozen=True, slots=True)
class _Name:
    th: str
    en: str


class _Weighted(Generic[T]):
    """Weighted choice by bisection on cumulative weights (fast, and stable across Pythons)."""

    __slots__ = ("cum", "items", "total")

    def __init__(self, pairs: Iterable[tuple[T, float]]) -> None:
        self.items: list[T] = []
        self.cum: list[float] = []
        total = 0.0
        for item, weight in pairs:
            if weight > 0:
                total += weight
                self.items.append(item)
                self.cum.append(total)
        if not self.items:
            raise ValueError("nothing to choose from")
        self.total = total

    def pick(self, rng: random.Random) -> T:
        return self.items[bisect.bisect_right(self.cum, rng.random() * self.total)]


def _read_tsv(name: str) -> list[dict[str, str]]:
    text = resources.files(__package__).joinpath("data", name).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    header = lines[0].split("\t")
    rows = []
    for line in lines[1:]:
        cells = line.split("\t")
        cells += [""] * (len(header) - len(cells))
        rows.append({key: cell.strip() for key, cell in zip(header, cells)})
    return rows


@dataclass(frozen=True, slots=True)
class _Data:
    provinces: dict[str, Province]
    districts: dict[str, District]
    districts_by_province: dict[str, tuple[District, ...]]
    region_roads: dict[str, tuple[tuple[str, str], ...]]
    generic_roads: tuple[tuple[str, str], ...]
    given: dict[tuple[str, str], tuple[_Name, ...]]  # (sex, era or "malay") -> names
    surnames: dict[str, tuple[_Name, ...]]  # group -> names
    surname_first: tuple[_Name, ...]
    surname_last: tuple[_Name, ...]
    sections: dict[str, tuple[str, str, float]]  # TSIC code -> (Thai, English, weight)
    brands: tuple[_Name, ...]
    business_words: dict[str, tuple[tuple[_Name, bool], ...]]  # TSIC code -> (word, prefix?)


@lru_cache(maxsize=1)
def _data() -> _Data:
    provinces = {
        row["code"]: Province(
            row["code"], row["name_th"], row["name_en"], row["region"], int(row["population_k"])
        )
        for row in _read_tsv("provinces.tsv")
    }
    district_roads: dict[str, list[tuple[str, str]]] = {}
    region_roads: dict[str, list[tuple[str, str]]] = {}
    generic_roads: list[tuple[str, str]] = []
    for row in _read_tsv("roads.tsv"):
        road = (row["name_th"], row["name_en"])
        scope = row["scope"]
        if scope == "*":
            generic_roads.append(road)
        elif scope.isdigit():
            district_roads.setdefault(scope, []).append(road)
        else:
            region_roads.setdefault(scope, []).append(road)
    districts: dict[str, District] = {}
    by_province: dict[str, list[District]] = {}
    for row in _read_tsv("districts.tsv"):
        code = row["code"]
        province = provinces[code[:2]]
        district = District(
            code,
            row["name_th"],
            row["name_en"],
            row["postcode"],
            province,
            tuple(district_roads.get(code, ())),
        )
        districts[code] = district
        by_province.setdefault(province.code, []).append(district)
    given: dict[tuple[str, str], list[_Name]] = {}
    for row in _read_tsv("given_names.tsv"):
        key = (row["sex"], "malay" if row["group"] == "malay" else row["era"])
        given.setdefault(key, []).append(_Name(row["name_th"], row["name_en"]))
    surnames: dict[str, list[_Name]] = {}
    for row in _read_tsv("surnames.tsv"):
        surnames.setdefault(row["group"], []).append(_Name(row["name_th"], row["name_en"]))
    first: list[_Name] = []
    last: list[_Name] = []
    for row in _read_tsv("surname_parts.tsv"):
        (first if row["position"] == "first" else last).append(
            _Name(row["part_th"], row["part_en"])
        )
    sections = {
        row["code"]: (row["name_th"], row["name_en"], float(row["weight"]))
        for row in _read_tsv("business_sections.tsv")
    }
    brands: list[_Name] = []
    business: dict[str, list[tuple[_Name, bool]]] = {}
    for row in _read_tsv("company_words.tsv"):
        word = _Name(row["word_th"], row["word_en"])
        if row["kind"] == "brand":
            brands.append(word)
        else:
            business.setdefault(row["kind"], []).append((word, row["placement"] == "prefix"))
    return _Data(
        provinces=provinces,
        districts=districts,
        districts_by_province={code: tuple(items) for code, items in by_province.items()},
        region_roads={region: tuple(roads) for region, roads in region_roads.items()},
        generic_roads=tuple(generic_roads),
        given={key: tuple(names) for key, names in given.items()},
        surnames={key: tuple(names) for key, names in surnames.items()},
        surname_first=tuple(first),
        surname_last=tuple(last),
        sections=sections,
        brands=tuple(brands),
        business_words={key: tuple(words) for key, words in business.items()},
    )


def provinces() -> list[Province]:
    """The 77 provinces (76 changwat and Bangkok), in code order."""
    return sorted(_data().provinces.values(), key=lambda province: province.code)


def districts_of(province_code: str) -> list[District]:
    """The districts of a province that the reference data holds, in code order."""
    return list(_data().districts_by_province.get(province_code, ()))


# --------------------------------------------------------------------------- check digits

LASER_CODE_PATTERN = re.compile(r"^[A-Z]{2}[0-9]{10}$")
# One production-series letter per issue year, from 2005 on (I, O and Q are never used).
LASER_SERIES = "ABCDEFGHJKLMNPRSTUVWXYZ"


def house_registration_check_digit(first_ten: str) -> str:
    """govhub's check digit of a house-registration number: mod 11, weights 11..2."""
    total = sum(int(digit) * weight for digit, weight in zip(first_ten, range(11, 1, -1)))
    return str((11 - total % 11) % 10)


def is_valid_house_registration_number(value: str) -> bool:
    """11 digits whose last is `house_registration_check_digit` of the first ten."""
    return (
        len(value) == 11
        and value.isdigit()
        and house_registration_check_digit(value[:10]) == value[10]
    )


def _luhn_digit(digits: str) -> str:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def is_valid_laser_code(value: str) -> bool:
    """A laser code of govhub's synthetic scheme: the format and the Luhn digit of the serial.

    Real cards' laser codes must only be checked against `LASER_CODE_PATTERN`.
    """
    return bool(LASER_CODE_PATTERN.match(value)) and _luhn_digit(value[2:11]) == value[11]


def age_on(birth_date: str | date, on: date = REFERENCE_DATE) -> int:
    """Age in whole years on a day (birth_date as an ISO string or a date)."""
    born = date.fromisoformat(birth_date) if isinstance(birth_date, str) else birth_date
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _birthday_in(born: date, year: int) -> date:
    try:
        return born.replace(year=year)
    except ValueError:
        return date(year, 2, 28)


# --------------------------------------------------------------------------- distributions

# Thailand's population by five-year age group (share in per mille, rounded), 0-4 .. 85+.
AGE_PYRAMID = (
    45, 53, 60, 60, 63, 68, 70, 72, 74, 76, 76, 73, 65, 52, 38, 25, 16, 14,
)  # fmt: skip
# Heads of household by five-year age group from 20 (tuned so that the household members'
# ages together follow AGE_PYRAMID).
_HEAD_AGES = _Weighted(
    (20 + 5 * index, weight)
    for index, weight in enumerate((16, 44, 66, 76, 82, 84, 84, 80, 72, 58, 40, 26, 16, 10, 5, 2))
)
_HOUSEHOLD_SIZES = _Weighted([(1, 21), (2, 26), (3, 23), (4, 17), (5, 8), (6, 5)])
_MOO = _Weighted((number, 1.0 / (1 + number / 6)) for number in range(1, 21))


def _area_weights(data: _Data, business: bool) -> _Weighted[District]:
    """Districts weighted by population (or, for companies, by where businesses register)."""
    business_factor = {"10": 7.0, "11": 2.0, "12": 1.6, "13": 1.6, "20": 2.2, "21": 2.0,
                       "74": 1.6, "83": 2.5, "50": 1.5, "90": 1.3, "84": 1.2, "40": 1.1}  # fmt: skip
    pairs = []
    for code, districts in data.districts_by_province.items():
        province = data.provinces[code]
        weight = province.population_k * (business_factor.get(code, 0.7) if business else 1.0)
        # The provincial seat (Mueang district) holds more people, and most of the businesses.
        seat = 6.0 if business else 3.0
        shares = [
            seat if district.is_mueang and not district.is_bangkok else 1.0
            for district in districts
        ]
        total = sum(shares)
        pairs.extend(
            (district, weight * share / total) for district, share in zip(districts, shares)
        )
    return _Weighted(pairs)


# --------------------------------------------------------------------------- addresses


def _roads_for(data: _Data, district: District, rng: random.Random) -> tuple[str, str]:
    if district.roads and (district.is_bangkok or rng.random() < 0.7):
        return district.roads[int(rng.random() * len(district.roads))]
    pool = data.region_roads.get(district.province.region, ()) + data.generic_roads
    return pool[int(rng.random() * len(pool))]


def _make_address(
    data: _Data, rng: random.Random, district: District, urban: bool | None = None
) -> dict[str, Any]:
    province = district.province
    if urban is None:
        if district.is_bangkok:
            urban = True
        elif district.is_mueang or province.code in ("11", "12", "13", "74"):
            urban = rng.random() < 0.65
        else:
            urban = rng.random() < 0.25
    moo: int | None = None
    soi_th = soi_en = road_th = road_en = None
    if urban:
        house = str(1 + int(rng.random() * 999))
        if rng.random() < 0.45:
            house += f"/{1 + int(rng.random() * 300)}"
        road = _roads_for(data, district, rng)
        road_th, road_en = f"ถนน{road[0]}", f"{road[1]} Road"
        if rng.random() < 0.55:
            number = 1 + int(rng.random() * (120 if district.is_bangkok else 30))
            if road[0][-1].isdigit():
                soi_th, soi_en = f"ซอย {number}", f"Soi {number}"
            else:
                soi_th, soi_en = f"ซอย{road[0]} {number}", f"Soi {road[1]} {number}"
            if rng.random() < 0.1:
                branch = 1 + int(rng.random() * 12)
                soi_th += f" แยก {branch}"
                soi_en += f" Yaek {branch}"
        if not district.is_bangkok and rng.random() < 0.35:
            moo = _MOO.pick(rng)
    else:
        house = str(1 + int(rng.random() * 400))
        if rng.random() < 0.15:
            house += f"/{1 + int(rng.random() * 20)}"
        moo = _MOO.pick(rng)
        if rng.random() < 0.15:
            road = _roads_for(data, district, rng)
            road_th, road_en = f"ถนน{road[0]}", f"{road[1]} Road"
    # Thai: 12/3 หมู่ 4 ซอย... ถนน... ; English: "12/3 Moo 4, Soi ..., ... Road" or "12/3 Soi ...".
    parts_th = [house]
    parts_en = [house]
    if moo is not None:
        parts_th.append(f"หมู่ {moo}")
        parts_en[0] += f" Moo {moo}"
    joined = moo is not None
    for part_th, part_en in ((soi_th, soi_en), (road_th, road_en)):
        if part_th:
            parts_th.append(part_th)
            if joined:
                parts_en.append(part_en)
            else:
                parts_en[0] += f" {part_en}"
                joined = True
    if district.is_bangkok:
        parts_th += [f"เขต{district.name_th}", province.name_th]
    else:
        parts_th += [f"อำเภอ{district.name_th}", f"จังหวัด{province.name_th}"]
    parts_en += [f"{district.name_en} District", province.name_en]
    return {
        "house_number": house,
        "moo": moo,
        "soi_th": soi_th,
        "soi_en": soi_en,
        "road_th": road_th,
        "road_en": road_en,
        "district_code": district.code,
        "district_th": district.name_th,
        "district_en": district.name_en,
        "province_code": province.code,
        "province_th": province.name_th,
        "province_en": province.name_en,
        "postcode": district.postcode,
        "line_th": " ".join(parts_th) + f" {district.postcode}",
        "line_en": ", ".join(parts_en) + f" {district.postcode}",
    }


# --------------------------------------------------------------------------- persons

_TITLES = {
    "boy": ("เด็กชาย", "Master"),
    "girl": ("เด็กหญิง", "Miss"),
    "mr": ("นาย", "Mr."),
    "mrs": ("นาง", "Mrs."),
    "miss": ("นางสาว", "Miss"),
}
_MALAY_SHARE = {"94": 0.8, "95": 0.7, "96": 0.82, "91": 0.6, "90": 0.2}
_CHINESE_SHARE = {"10": 0.22, "11": 0.12, "12": 0.12, "13": 0.1, "20": 0.1, "83": 0.15,
                  "60": 0.1, "74": 0.1, "90": 0.08}  # fmt: skip
_ERAS = ("old", "mid", "young")


def _era(birth_year: int, rng: random.Random) -> str:
    index = 0 if birth_year < 1965 else 1 if birth_year < 1995 else 2
    if rng.random() < 0.15:  # some parents choose names of another generation
        index = min(2, max(0, index + (1 if rng.random() < 0.5 else -1)))
    return _ERAS[index]


def _surname(data: _Data, rng: random.Random, group: str) -> _Name:
    if group == "thai" and rng.random() < 0.4:
        first = data.surname_first[int(rng.random() * len(data.surname_first))]
        last = data.surname_last[int(rng.random() * len(data.surname_last))]
        if first.th != last.th:
            return _Name(first.th + last.th, first.en + last.en)
    names = data.surnames[group]
    return names[int(rng.random() * len(names))]


def _given(data: _Data, rng: random.Random, sex: str, birth_year: int, malay: bool) -> _Name:
    names = data.given[(sex, "malay" if malay else _era(birth_year, rng))]
    return names[int(rng.random() * len(names))]


@dataclass(slots=True)
class _Member:
    sex: str
    age: float
    role: str  # head, spouse, child, parent, relative


def _household(rng: random.Random, size: int) -> list[_Member]:
    head_age = _HEAD_AGES.pick(rng) + rng.random() * 5
    head_sex = "m" if rng.random() < 0.62 else "f"
    members = [_Member(head_sex, head_age, "head")]
    if size >= 2 and rng.random() < 0.82:
        shift = rng.uniform(-6, 3) if head_sex == "m" else rng.uniform(-3, 6)
        members.append(
            _Member(
                "f" if head_sex == "m" else "m", min(99.0, max(18.0, head_age + shift)), "spouse"
            )
        )
    while len(members) < size:
        sex = "m" if rng.random() < 0.51 else "f"
        draw = rng.random()
        if head_age < 45 and draw < 0.1:
            members.append(_Member(sex, min(99.5, head_age + rng.uniform(20, 35)), "parent"))
        elif head_age >= 58 and draw < 0.45:
            low = max(0.0, head_age - 70)
            members.append(_Member(sex, rng.uniform(low, max(low, head_age - 40)), "grandchild"))
        elif draw < 0.93 or head_age < 22:
            low = max(0.0, head_age - 42)
            members.append(_Member(sex, rng.uniform(low, max(low, head_age - 19)), "child"))
        else:
            members.append(_Member(sex, rng.uniform(15, 80), "relative"))
    return members


class _Numbers:
    """Unique national IDs, house-registration numbers and laser codes for one generation run."""

    def __init__(self, rng: random.Random, area: _Weighted[District]) -> None:
        self.rng = rng
        self.area = area
        self.national_ids: set[str] = set()
        self.houses: set[str] = set()
        self.serials: set[int] = set()

    def national_id(self, born: date, home: District) -> str:
        rng = self.rng
        draw = rng.random()
        if born >= date(1984, 1, 1):
            category = "1" if draw < 0.97 else "2"
            stays = 0.78
        else:
            category = "3" if draw < 0.95 else "4" if draw < 0.98 else "5"
            stays = 0.6
        location = home.code if rng.random() < stays else self.area.pick(rng).code
        while True:
            number = with_check_digit(f"{category}{location}{int(rng.random() * 10**7):07d}")
            if number not in self.national_ids:
                self.national_ids.add(number)
                return number

    def house(self, district: District) -> str:
        while True:
            first_ten = f"{district.code}{int(self.rng.random() * 10**6):06d}"
            number = first_ten + house_registration_check_digit(first_ten)
            if number not in self.houses:
                self.houses.add(number)
                return number

    def laser_code(self, issued: date) -> str:
        rng = self.rng
        series = LASER_SERIES[(issued.year - 2005) % len(LASER_SERIES)]
        batch = LASER_SERIES[int(rng.random() * len(LASER_SERIES))]
        while True:
            serial = int(rng.random() * 10**9)
            if serial not in self.serials:
                self.serials.add(serial)
                digits = f"{serial:09d}"
                return f"{series}{batch}{digits}{_luhn_digit(digits)}"


def _card(
    numbers: _Numbers, rng: random.Random, born: date
) -> tuple[str | None, str | None, str | None]:
    """(laser code, issue date, expiry date) of the person's current ID card, if they hold one."""
    seventh = _birthday_in(born, born.year + CARD_AGE)
    if seventh >= REFERENCE_DATE:
        return None, None, None
    # The current card was issued in the last eight years, not before the 7th birthday.
    earliest = max(seventh, REFERENCE_DATE - timedelta(days=8 * 365))
    span = (REFERENCE_DATE - earliest).days
    issued = earliest + timedelta(days=int(rng.random() * max(1, span)))
    if issued >= REFERENCE_DATE:
        issued = REFERENCE_DATE - timedelta(days=1)
    # Valid for eight years, to the holder's birthday; for life if issued at 70 or older.
    expiry = None if age_on(born, issued) >= 70 else _birthday_in(born, issued.year + 8)
    return (
        numbers.laser_code(issued),
        issued.isoformat(),
        expiry.isoformat() if expiry else None,
    )


def _title(sex: str, age: int, married: bool, rng: random.Random) -> tuple[str, str]:
    if age < CHILD_TITLE_AGE:
        return _TITLES["boy" if sex == "m" else "girl"]
    if sex == "m":
        return _TITLES["mr"]
    if married:
        return _TITLES["mrs" if rng.random() < 0.85 else "miss"]
    if age >= 35 and rng.random() < 0.45:  # widowed or divorced
        return _TITLES["mrs"]
    return _TITLES["miss"]


def generate_persons(count: int, seed: int | str) -> Iterator[dict[str, Any]]:
    """Yield `count` persons of DOPA's civil registration, in households, deterministically.

    The first n persons of a larger count are the same as those of count n.
    """
    if count < 0:
        raise ValueError("count must not be negative")
    data = _data()
    rng = random.Random(f"govhub-synthetic-persons:{seed}")
    area = _area_weights(data, business=False)
    numbers = _Numbers(rng, area)
    reference_ordinal = REFERENCE_DATE.toordinal()
    produced = 0
    while produced < count:
        district = area.pick(rng)
        code = district.province.code
        address = _make_address(data, rng, district)
        house = numbers.house(district)
        draw = rng.random()
        if draw < _MALAY_SHARE.get(code, 0.0):
            group = "malay"
        elif rng.random() < _CHINESE_SHARE.get(code, 0.04):
            group = "chinese"
        else:
            group = "thai"
        family = _surname(data, rng, group)
        members = _household(rng, _HOUSEHOLD_SIZES.pick(rng))
        has_couple = len(members) > 1 and members[1].role == "spouse"
        for member in members:
            if produced >= count:
                return
            born = date.fromordinal(reference_ordinal - 1 - int(member.age * 365.2425))
            age = age_on(born)
            married = has_couple and member.role in ("head", "spouse")
            if member.role in ("head", "spouse") and member.sex == "f" and has_couple:
                surname = family if rng.random() < 0.75 else _surname(data, rng, group)
            elif member.role == "relative" or (member.role == "parent" and rng.random() < 0.3):
                surname = _surname(data, rng, group)
            else:
                surname = family
            malay = group == "malay" and rng.random() < 0.92
            given = _given(data, rng, member.sex, born.year, malay)
            title_th, title_en = _title(member.sex, age, married, rng)
            laser, issued, expires = _card(numbers, rng, born)
            national_id = numbers.national_id(born, district)
            produced += 1
            yield {
                "national_id": national_id,
                "title_th": title_th,
                "title_en": title_en,
                "given_name_th": given.th,
                "surname_th": surname.th,
                "given_name_en": given.en,
                "surname_en": surname.en,
                "full_name_th": f"{title_th}{given.th} {surname.th}",
                "full_name_en": f"{title_en} {given.en} {surname.en}",
                "sex": "male" if member.sex == "m" else "female",
                "birth_date": born.isoformat(),
                "address": address,
                "house_registration_number": house,
                "laser_code": laser,
                "card_issue_date": issued,
                "card_expiry_date": expires,
            }


# --------------------------------------------------------------------------- companies

_COMPANY_TYPES = {
    # type: (type digit, Thai type, name prefix, name suffix, English suffix, weight)
    "company_limited": ("5", "บริษัทจำกัด", "บริษัท ", " จำกัด", "Company Limited", 75.0),
    "limited_partnership": ("3", "ห้างหุ้นส่วนจำกัด", "ห้างหุ้นส่วนจำกัด ", "",
                            "Limited Partnership", 22.0),
    "registered_ordinary_partnership": ("2", "ห้างหุ้นส่วนสามัญนิติบุคคล",
                                        "ห้างหุ้นส่วนสามัญนิติบุคคล ", "",
                                        "Registered Ordinary Partnership", 2.7),
    "public_company_limited": ("7", "บริษัทมหาชนจำกัด", "บริษัท ", " จำกัด (มหาชน)",
                               "Public Company Limited", 0.3),
}  # fmt: skip
_TYPE_PICK = _Weighted((name, spec[5]) for name, spec in _COMPANY_TYPES.items())
_COMPANY_STATUSES = {
    "active": "ยังดำเนินกิจการอยู่",
    "dissolved": "เลิก",
    "liquidated": "เสร็จการชำระบัญชี",
    "deregistered": "ร้าง",
    "bankrupt": "ล้มละลาย",
}
_CLOSED_STATUS = _Weighted([("dissolved", 25), ("liquidated", 45), ("deregistered", 25),
                            ("bankrupt", 5)])  # fmt: skip
_CAPITAL_BAHT = {
    "company_limited": _Weighted([(100_000, 5), (500_000, 8), (1_000_000, 45), (2_000_000, 10),
                                  (3_000_000, 5), (5_000_000, 12), (10_000_000, 8),
                                  (20_000_000, 3), (50_000_000, 2), (100_000_000, 1.5),
                                  (500_000_000, 0.5)]),
    "limited_partnership": _Weighted([(100_000, 20), (200_000, 10), (500_000, 20),
                                      (1_000_000, 30), (2_000_000, 10), (5_000_000, 10)]),
    "registered_ordinary_partnership": _Weighted([(50_000, 20), (100_000, 35), (300_000, 20),
                                                  (500_000, 15), (1_000_000, 10)]),
}  # fmt: skip
_DIRECTOR_COUNTS = _Weighted([(1, 35), (2, 30), (3, 20), (4, 8), (5, 7)])
_PARTNER_COUNTS = _Weighted([(1, 55), (2, 35), (3, 10)])
_FIRST_YEAR, _LAST_YEAR = 1975, REFERENCE_DATE.year - 1
_REGISTRATION_YEARS = _Weighted(
    (year, 1.07 ** (year - _FIRST_YEAR)) for year in range(_FIRST_YEAR, _LAST_YEAR + 1)
)


class _DirectorPool:
    """Adults of the civil registry, sorted by birth date, overall and per province."""

    def __init__(self, persons: Iterable[Any]) -> None:
        cutoff = _years_before(REFERENCE_DATE, ADULT_AGE).isoformat()
        everyone: list[tuple[str, str]] = []
        by_province: dict[str, list[tuple[str, str]]] = {}
        for person in persons:
            national_id, birth, province = _person_key(person)
            if birth <= cutoff:
                everyone.append((birth, national_id))
                if province:
                    by_province.setdefault(province, []).append((birth, national_id))
        if not everyone:
            raise ValueError("the persons given include no adult to be a director")
        everyone.sort()
        self.everyone = everyone
        self.by_province = {code: sorted(items) for code, items in by_province.items()}

    def pick(self, rng: random.Random, province: str, born_by: str) -> str:
        """An adult, preferably of the province and already adult on `born_by`'s date."""
        local = self.by_province.get(province)
        for pool in ((local,) if local and rng.random() < 0.65 else ()) + (self.everyone,):
            eligible = bisect.bisect_right(pool, (born_by, "\uffff"))
            if eligible:
                return pool[int(rng.random() * eligible)][1]
        return self.everyone[int(rng.random() * len(self.everyone))][1]


def _person_key(person: Any) -> tuple[str, str, str | None]:
    if isinstance(person, Mapping):
        address = person.get("address") or {}
        return person["national_id"], person["birth_date"], address.get("province_code")
    if isinstance(person, Sequence) and not isinstance(person, str) and len(person) >= 2:
        return str(person[0]), str(person[1]), (str(person[2]) if len(person) > 2 else None)
    raise TypeError(
        "persons must be person records or (national_id, birth_date[, province_code]) tuples"
    )


def _company_name(
    data: _Data, rng: random.Random, section: str, people_names: Sequence[_Name]
) -> tuple[str, str]:
    """(Thai, English) name core: a brand and a business word of the section."""
    words = data.business_words[section]
    word, prefix = words[int(rng.random() * len(words))]
    draw = rng.random()
    brands = data.brands
    if prefix or draw < 0.18:  # a given name: ครัวสุดา / Krua Suda, สุดา เทรดดิ้ง / Suda Trading
        person = people_names[int(rng.random() * len(people_names))]
        if prefix:
            return f"{word.th}{person.th}", f"{word.en} {person.en}"
        return f"{person.th} {word.th}", f"{person.en} {word.en}"
    if draw < 0.28:  # a family name: ศรีสุข ก่อสร้าง / Sisuk Construction
        family = _surname(data, rng, "chinese" if rng.random() < 0.3 else "thai")
        return f"{family.th} {word.th}", f"{family.en} {word.en}"
    first = brands[int(rng.random() * len(brands))]
    if draw < 0.75:
        second = brands[int(rng.random() * len(brands))]
        if second.th != first.th:
            return f"{first.th}{second.th} {word.th}", f"{first.en} {second.en} {word.en}"
    return f"{first.th} {word.th}", f"{first.en} {word.en}"


def generate_companies(
    count: int, seed: int | str, persons: Iterable[Any]
) -> Iterator[dict[str, Any]]:
    """Yield `count` juristic persons of DBD whose directors are adults among `persons`.

    `persons` are person records (as from `generate_persons`) or
    (national_id, birth_date[, province_code]) tuples; they are read once, at the start,
    and only adults' IDs are kept. Directors were adults on the registration date where
    the registry has such people, and live in the company's province more often than not.
    For partnerships, ``directors`` are the managing partners.
    """
    if count < 0:
        raise ValueError("count must not be negative")
    data = _data()
    pool = _DirectorPool(persons)
    rng = random.Random(f"govhub-synthetic-companies:{seed}")
    area = _area_weights(data, business=True)
    section_pick = _Weighted((code, spec[2]) for code, spec in data.sections.items())
    given_names = [name for key, names in data.given.items() if key[1] != "malay" for name in names]
    running: dict[tuple[str, str, str], int] = {}
    names_taken: set[str] = set()
    reference_ordinal = REFERENCE_DATE.toordinal()
    for _ in range(count):
        kind = _TYPE_PICK.pick(rng)
        type_digit, type_th, prefix_th, suffix_th, suffix_en, _weight = _COMPANY_TYPES[kind]
        district = area.pick(rng)
        office = district.province.code
        # Registration date and number; the running number is per office, type and year.
        while True:
            year = _REGISTRATION_YEARS.pick(rng)
            start = date(year, 1, 1).toordinal()
            end = min(date(year, 12, 31).toordinal(), reference_ordinal - 1)
            registered = date.fromordinal(start + int(rng.random() * (end - start + 1)))
            be_year = f"{year + 543}"[-3:]
            key = (office, type_digit, be_year)
            previous = running.get(key)
            number = (
                (1 + int(rng.random() * 400))
                if previous is None
                else previous + 1 + int(rng.random() * 25)
            )
            if number <= 99_999:
                running[key] = number
                break
        registration_number = with_check_digit(f"0{office}{type_digit}{be_year}{number:05d}")
        section = section_pick.pick(rng)
        section_th, section_en, _section_weight = data.sections[section]
        core_th, core_en = _company_name(data, rng, section, given_names)
        if core_th in names_taken:
            core_th, core_en = f"{core_th} (ไทยแลนด์)", f"{core_en} (Thailand)"
            while core_th in names_taken:
                suffix = 1 + int(rng.random() * 99)
                core_th, core_en = f"{core_th} {suffix}", f"{core_en} {suffix}"
        names_taken.add(core_th)
        # Capital in satang.
        if kind == "public_company_limited":
            baht = int(10 ** rng.uniform(8, 10.5) / 1_000_000) * 1_000_000
        else:
            baht = _CAPITAL_BAHT[kind].pick(rng)
            if rng.random() < 0.15:  # an odd amount, rounded to 10,000 baht
                baht = max(50_000, int(baht * rng.uniform(0.5, 2.5) / 10_000) * 10_000)
        # Status: older companies are more often closed.
        years_open = (REFERENCE_DATE - registered).days / 365.2425
        status, status_date = "active", None
        if kind != "public_company_limited" and rng.random() < min(0.6, 0.02 + 0.012 * years_open):
            status = _CLOSED_STATUS.pick(rng)
            first = registered.toordinal() + 180
            if first < reference_ordinal:
                status_date = date.fromordinal(
                    first + int(rng.random() * (reference_ordinal - first))
                ).isoformat()
            else:
                status = "active"
        # Directors (managing partners of a partnership), adults on the registration date.
        if kind == "public_company_limited":
            wanted = 5
        elif kind == "company_limited":
            wanted = _DIRECTOR_COUNTS.pick(rng)
        else:
            wanted = _PARTNER_COUNTS.pick(rng)
        born_by = _years_before(registered, ADULT_AGE).isoformat()
        directors: list[str] = []
        for _attempt in range(wanted * 6):
            if len(directors) == wanted:
                break
            candidate = pool.pick(rng, office, born_by)
            if candidate not in directors:
                directors.append(candidate)
        yield {
            "registration_number": registration_number,
            "name_th": f"{prefix_th}{core_th}{suffix_th}",
            "name_en": f"{core_en} {suffix_en}",
            "type": kind,
            "type_th": type_th,
            "registered_capital_satang": baht * 100,
            "registration_date": registered.isoformat(),
            "status": status,
            "status_th": _COMPANY_STATUSES[status],
            "status_date": status_date,
            "objective_code": section,
            "objective_th": section_th,
            "objective_en": section_en,
            "address": _make_address(data, rng, district, urban=True),
            "directors": directors,
        }


# --------------------------------------------------------------------------- VAT

_VAT_STATUSES = {
    "active": "ยังประกอบกิจการ",
    "ceased": "เลิกประกอบกิจการ",
    "revoked": "ถูกเพิกถอนทะเบียน",
}
_BRANCH_COUNTS = _Weighted([(0, 85), (1, 9), (2, 3), (3, 1.5), (5, 1), (8, 0.3), (12, 0.2)])


def _vat_share(company: Mapping[str, Any]) -> float:
    kind = company["type"]
    if kind == "public_company_limited":
        return 1.0
    capital = company["registered_capital_satang"] // 100
    if kind == "company_limited":
        return 0.9 if capital >= 5_000_000 else 0.66 if capital >= 1_000_000 else 0.45
    return 0.45 if kind == "limited_partnership" else 0.3


def generate_vat(
    companies: Iterable[Mapping[str, Any]], seed: int | str
) -> Iterator[dict[str, Any]]:
    """Yield the VAT registrations (head office and branches) of about 60% of `companies`.

    The tax ID of a juristic person is its registration number; branch "00000" is the head
    office. Registration follows the company's; a closed company's VAT registration ceased.
    """
    data = _data()
    rng = random.Random(f"govhub-synthetic-vat:{seed}")
    area = _area_weights(data, business=True)
    reference_ordinal = REFERENCE_DATE.toordinal()
    for company in companies:
        if rng.random() >= _vat_share(company):
            continue
        registered = date.fromisoformat(company["registration_date"]).toordinal()
        closed_on = (
            date.fromisoformat(company["status_date"]).toordinal()
            if company["status"] != "active" and company.get("status_date")
            else None
        )
        # VAT registrations fall on days after the company's registration and before `horizon`.
        horizon = closed_on if closed_on is not None else reference_ordinal
        if horizon - registered < 3:
            continue
        # Most register for VAT in the first year; some when turnover later passes 1.8 M baht.
        delay = int(rng.expovariate(1 / 200)) if rng.random() < 0.8 else int(rng.random() * 3650)
        if registered + 1 + delay >= horizon:
            delay = int(rng.random() * (horizon - registered - 1))
        vat_from = registered + 1 + delay
        branches = _BRANCH_COUNTS.pick(rng)
        if company["type"] == "public_company_limited":
            branches *= 2
        tax_id = company["registration_number"]
        for branch in range(branches + 1):
            if branch == 0:
                since = vat_from
                address = company["address"]
                branch_th, branch_en = "สำนักงานใหญ่", "Head office"
            else:
                since = vat_from + int(rng.random() * (horizon - vat_from))
                address = _make_address(data, rng, area.pick(rng), urban=True)
                branch_th, branch_en = f"สาขาที่ {branch:05d}", f"Branch {branch:05d}"
            ended: int | None
            if closed_on is not None:  # the VAT registration ended with the company
                status = "revoked" if company["status"] == "deregistered" else "ceased"
                ended = max(since + 1, closed_on - int(rng.random() * 90))
            elif since < reference_ordinal - 2 and rng.random() < (0.04 if branch == 0 else 0.1):
                status = "ceased" if rng.random() < 0.7 else "revoked"
                ended = since + 1 + int(rng.random() * (reference_ordinal - 2 - since))
            else:
                status, ended = "active", None
            branch_number = f"{branch:05d}"
            yield {
                "vat_registration_id": f"{tax_id}-{branch_number}",
                "tax_id": tax_id,
                "branch_number": branch_number,
                "branch_type": "head_office" if branch == 0 else "branch",
                "branch_name_th": branch_th,
                "branch_name_en": branch_en,
                "taxpayer_name_th": company["name_th"],
                "taxpayer_name_en": company["name_en"],
                "vat_registration_date": date.fromordinal(since).isoformat(),
                "status": status,
                "status_th": _VAT_STATUSES[status],
                "status_date": date.fromordinal(ended).isoformat() if ended is not None else None,
                "address": address,
            }


# --------------------------------------------------------------------------- JSON Schemas

_DATE = {"type": "string", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "format": "date"}
_NULLABLE_DATE = {**_DATE, "type": ["string", "null"]}
_THAI_WORD = {"type": "string", "pattern": "^[\u0e00-\u0e7f]+$"}
_HAS_THAI = {"type": "string", "pattern": "[\u0e00-\u0e7f]", "minLength": 1}
_ROMAN_NAME = {"type": "string", "pattern": r"^[A-Z][A-Za-z' .-]*$"}
_NULLABLE_TEXT = {"type": ["string", "null"]}
_ADDRESS = {
    "type": "object",
    "description": "A Thai address; the subdistrict (tambon/khwaeng) is not generated.",
    "additionalProperties": False,
    "required": [
        "house_number", "moo", "soi_th", "soi_en", "road_th", "road_en", "district_code",
        "district_th", "district_en", "province_code", "province_th", "province_en",
        "postcode", "line_th", "line_en",
    ],
    "properties": {
        "house_number": {"type": "string", "pattern": r"^[0-9]+(/[0-9]+)?$"},
        "moo": {"type": ["integer", "null"], "minimum": 1, "maximum": 30},
        "soi_th": _NULLABLE_TEXT,
        "soi_en": _NULLABLE_TEXT,
        "road_th": _NULLABLE_TEXT,
        "road_en": _NULLABLE_TEXT,
        "district_code": {"type": "string", "pattern": r"^[1-9][0-9]{3}$"},
        "district_th": _HAS_THAI,
        "district_en": {"type": "string", "minLength": 1},
        "province_code": {"type": "string", "pattern": r"^[1-9][0-9]$"},
        "province_th": _HAS_THAI,
        "province_en": {"type": "string", "minLength": 1},
        "postcode": {"type": "string", "pattern": r"^[1-9][0-9]{4}$"},
        "line_th": _HAS_THAI,
        "line_en": {"type": "string", "pattern": r"^[\x20-\x7e]+$"},
    },
}  # fmt: skip

PERSON_PRIMARY_KEY = "national_id"
PERSON_PERSONAL_FIELDS: tuple[str, ...] = (
    "national_id", "title_th", "title_en", "given_name_th", "surname_th", "given_name_en",
    "surname_en", "full_name_th", "full_name_en", "sex", "birth_date", "address",
    "house_registration_number", "laser_code", "card_issue_date", "card_expiry_date",
)  # fmt: skip
PERSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "urn:govhub:registry:dopa:civil-registration:1",
    "title": "Person (DOPA civil registration)",
    "type": "object",
    "x-primary-key": PERSON_PRIMARY_KEY,
    "x-personal-data": list(PERSON_PERSONAL_FIELDS),
    "additionalProperties": False,
    "required": list(PERSON_PERSONAL_FIELDS),
    "properties": {
        "national_id": {
            "type": "string",
            "pattern": r"^[1-8][0-9]{12}$",
            "description": "13 digits, mod-11 check digit (govhub.kit.thai_ids)",
        },
        "title_th": {"enum": ["นาย", "นาง", "นางสาว", "เด็กชาย", "เด็กหญิง"]},
        "title_en": {"enum": ["Mr.", "Mrs.", "Miss", "Master"]},
        "given_name_th": _THAI_WORD,
        "surname_th": _THAI_WORD,
        "given_name_en": _ROMAN_NAME,
        "surname_en": _ROMAN_NAME,
        "full_name_th": _HAS_THAI,
        "full_name_en": {"type": "string", "pattern": r"^[\x20-\x7e]+$"},
        "sex": {"enum": ["male", "female"]},
        "birth_date": _DATE,
        "address": {"$ref": "#/$defs/address"},
        "house_registration_number": {
            "type": "string",
            "pattern": r"^[1-9][0-9]{10}$",
            "description": "4-digit office location code + 6-digit house number + check digit",
        },
        "laser_code": {
            "type": ["string", "null"],
            "pattern": LASER_CODE_PATTERN.pattern,
            "description": "2 letters + 10 digits, null for children under 7 (no card)",
        },
        "card_issue_date": _NULLABLE_DATE,
        "card_expiry_date": {**_NULLABLE_DATE, "description": "null: no card, or a lifelong card"},
    },
    "$defs": {"address": _ADDRESS},
}

COMPANY_PRIMARY_KEY = "registration_number"
COMPANY_PERSONAL_FIELDS: tuple[str, ...] = ("directors",)
COMPANY_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "urn:govhub:registry:dbd:juristic-persons:1",
    "title": "Juristic person (DBD)",
    "type": "object",
    "x-primary-key": COMPANY_PRIMARY_KEY,
    "x-personal-data": list(COMPANY_PERSONAL_FIELDS),
    "additionalProperties": False,
    "required": [
        "registration_number", "name_th", "name_en", "type", "type_th",
        "registered_capital_satang", "registration_date", "status", "status_th", "status_date",
        "objective_code", "objective_th", "objective_en", "address", "directors",
    ],
    "properties": {
        "registration_number": {
            "type": "string",
            "pattern": r"^0[0-9]{2}[2357][0-9]{9}$",
            "description": "0 + office + type + Buddhist-era year (3 digits) + running number "
            "(5 digits) + mod-11 check digit; also the tax ID",
        },
        "name_th": _HAS_THAI,
        "name_en": {"type": "string", "pattern": r"^[\x20-\x7e]+$"},
        "type": {"enum": list(_COMPANY_TYPES)},
        "type_th": {"enum": [spec[1] for spec in _COMPANY_TYPES.values()]},
        "registered_capital_satang": {"type": "integer", "minimum": 0},
        "registration_date": _DATE,
        "status": {"enum": list(_COMPANY_STATUSES)},
        "status_th": {"enum": list(_COMPANY_STATUSES.values())},
        "status_date": _NULLABLE_DATE,
        "objective_code": {"type": "string", "pattern": "^[A-U]$", "description": "TSIC section"},
        "objective_th": _HAS_THAI,
        "objective_en": {"type": "string", "minLength": 1},
        "address": {"$ref": "#/$defs/address"},
        "directors": {
            "type": "array",
            "minItems": 1,
            "maxItems": 5,
            "uniqueItems": True,
            "items": {"type": "string", "pattern": r"^[1-8][0-9]{12}$"},
            "description": "national IDs of the directors (managing partners of a partnership)",
        },
    },
    "$defs": {"address": _ADDRESS},
}  # fmt: skip

VAT_PRIMARY_KEY = "vat_registration_id"
VAT_NATURAL_KEY = ("tax_id", "branch_number")
VAT_PERSONAL_FIELDS: tuple[str, ...] = ()  # the taxpayers are juristic persons
VAT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "urn:govhub:registry:rd:vat-registrations:1",
    "title": "VAT registration (Revenue Department)",
    "type": "object",
    "x-primary-key": VAT_PRIMARY_KEY,
    "x-personal-data": list(VAT_PERSONAL_FIELDS),
    "additionalProperties": False,
    "required": [
        "vat_registration_id", "tax_id", "branch_number", "branch_type", "branch_name_th",
        "branch_name_en", "taxpayer_name_th", "taxpayer_name_en", "vat_registration_date",
        "status", "status_th", "status_date", "address",
    ],
    "properties": {
        "vat_registration_id": {
            "type": "string",
            "pattern": r"^[0-9]{13}-[0-9]{5}$",
            "description": "tax_id-branch_number",
        },
        "tax_id": {"type": "string", "pattern": r"^[0-9]{13}$"},
        "branch_number": {"type": "string", "pattern": r"^[0-9]{5}$",
                          "description": "00000 is the head office"},
        "branch_type": {"enum": ["head_office", "branch"]},
        "branch_name_th": _HAS_THAI,
        "branch_name_en": {"type": "string", "minLength": 1},
        "taxpayer_name_th": _HAS_THAI,
        "taxpayer_name_en": {"type": "string", "pattern": r"^[\x20-\x7e]+$"},
        "vat_registration_date": _DATE,
        "status": {"enum": list(_VAT_STATUSES)},
        "status_th": {"enum": list(_VAT_STATUSES.values())},
        "status_date": _NULLABLE_DATE,
        "address": {"$ref": "#/$defs/address"},
    },
    "$defs": {"address": _ADDRESS},
}  # fmt: skip


# --------------------------------------------------------------------------- command line


def _main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--companies", type=int, default=20_000)
    parser.add_argument("--seed", default="2026")
    parser.add_argument("--out", type=Path, help="write persons/companies/vat .jsonl here")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    counts = {}
    director_keys: list[tuple[str, str, str]] = []
    sinks = {}
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        sinks = {name: (args.out / f"{name}.jsonl").open("w", encoding="utf-8")
                 for name in ("persons", "companies", "vat")}  # fmt: skip

    def emit(name: str, record: dict[str, Any]) -> None:
        counts[name] = counts.get(name, 0) + 1
        if sinks:
            sinks[name].write(json.dumps(record, ensure_ascii=False) + "\n")

    for person in generate_persons(args.persons, args.seed):
        director_keys.append(
            (person["national_id"], person["birth_date"], person["address"]["province_code"])
        )
        emit("persons", person)
    persons_done = time.perf_counter()
    companies = []
    for company in generate_companies(args.companies, args.seed, director_keys):
        companies.append(company)
        emit("companies", company)
    companies_done = time.perf_counter()
    for registration in generate_vat(companies, args.seed):
        emit("vat", registration)
    finished = time.perf_counter()
    for sink in sinks.values():
        sink.close()
    print(
        f"persons {counts.get('persons', 0)} in {persons_done - started:.2f} s, "
        f"companies {counts.get('companies', 0)} in {companies_done - persons_done:.2f} s, "
        f"VAT registrations {counts.get('vat', 0)} in {finished - companies_done:.2f} s; "
        f"total {finished - started:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(_main())
