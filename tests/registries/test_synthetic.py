"""The seeded generator of the demo registries: DOPA persons, DBD juristic persons, RD VAT."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import date
from itertools import islice

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from govhub.kit.thai_ids import is_valid_juristic_id, is_valid_national_id
from govhub.registries import synthetic
from govhub.registries.synthetic import (
    COMPANY_PERSONAL_FIELDS,
    COMPANY_PRIMARY_KEY,
    COMPANY_SCHEMA,
    PERSON_PERSONAL_FIELDS,
    PERSON_PRIMARY_KEY,
    PERSON_SCHEMA,
    REFERENCE_DATE,
    VAT_PRIMARY_KEY,
    VAT_SCHEMA,
    age_on,
    generate_companies,
    generate_persons,
    generate_vat,
    house_registration_check_digit,
    is_valid_house_registration_number,
    is_valid_laser_code,
    provinces,
)

SEED = 20260101
PERSONS = 20_000
COMPANIES = 2_000

THAI_WORD = re.compile(r"^[\u0e00-\u0e7f]+$")
THAI_TEXT = re.compile(r"^[\u0e00-\u0e7f0-9 /().-]+$")
HAS_THAI = re.compile(r"[\u0e01-\u0e5b]")
ROMAN_NAME = re.compile(r"^[A-Z][A-Za-z' -]*$")
TYPE_DIGITS = {
    "registered_ordinary_partnership": "2",
    "limited_partnership": "3",
    "company_limited": "5",
    "public_company_limited": "7",
}


@pytest.fixture(scope="module")
def persons() -> list[dict]:
    return list(generate_persons(PERSONS, SEED))


@pytest.fixture(scope="module")
def companies(persons) -> list[dict]:
    return list(generate_companies(COMPANIES, SEED, persons))


@pytest.fixture(scope="module")
def vat(companies) -> list[dict]:
    return list(generate_vat(companies, SEED))


@pytest.fixture(scope="module")
def people_by_id(persons) -> dict[str, dict]:
    return {person["national_id"]: person for person in persons}


# ------------------------------------------------------------------------ reference data


def test_reference_data_has_the_77_provinces_with_districts():
    items = provinces()
    assert len(items) == 77
    assert len({province.code for province in items}) == 77
    assert len({province.name_th for province in items}) == 77
    assert {province.region for province in items} == {
        "north", "northeast", "central", "east", "west", "south",
    }  # fmt: skip
    data = synthetic._data()
    for province in items:
        assert THAI_WORD.match(province.name_th), province
        assert province.name_en.isascii()
        districts = data.districts_by_province[province.code]
        assert len(districts) >= 3, province.name_en
        for district in districts:
            assert district.code[:2] == province.code
            assert re.fullmatch(r"[1-9][0-9]{4}", district.postcode)
            assert THAI_TEXT.match(district.name_th) and district.name_en.isascii()
    assert len(data.districts_by_province["10"]) == 50  # every khet of Bangkok


# ------------------------------------------------------------------------ determinism


def test_the_same_seed_gives_identical_output():
    first = list(generate_persons(1_500, SEED))
    again = list(generate_persons(1_500, SEED))
    assert first == again
    companies = list(generate_companies(300, SEED, first))
    assert companies == list(generate_companies(300, SEED, again))
    assert list(generate_vat(companies, SEED)) == list(generate_vat(companies, SEED))


def test_output_does_not_depend_on_the_process():
    """String hashing is randomised per process; the generator must not depend on it."""
    script = (
        "import hashlib, json; from govhub.registries.synthetic import *; "
        f"p = list(generate_persons(400, {SEED})); c = list(generate_companies(60, {SEED}, p)); "
        f"v = list(generate_vat(c, {SEED})); "
        "print(hashlib.sha256(json.dumps([p, c, v], ensure_ascii=False).encode()).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for hash_seed in ("1", "2")
    }
    assert len(digests) == 1


def test_another_seed_gives_other_data_and_a_prefix_stays_the_same():
    first = list(generate_persons(500, SEED))
    assert [p["national_id"] for p in first] != [
        p["national_id"] for p in generate_persons(500, SEED + 1)
    ]
    assert list(generate_persons(200, SEED)) == first[:200]
    assert list(islice(generate_persons(10**6, SEED), 500)) == first  # an iterator, not a list


def test_zero_and_negative_counts():
    assert list(generate_persons(0, SEED)) == []
    with pytest.raises(ValueError):
        list(generate_persons(-1, SEED))


# ------------------------------------------------------------------------ persons


def test_persons_ids_are_unique_with_valid_check_digits(persons):
    ids = [person["national_id"] for person in persons]
    assert len(set(ids)) == len(ids) == PERSONS
    assert all(is_valid_national_id(number) for number in ids)
    lasers = [person["laser_code"] for person in persons if person["laser_code"]]
    assert len(set(lasers)) == len(lasers)
    assert all(is_valid_laser_code(code) for code in lasers)


def test_national_id_category_and_location_code(persons):
    districts = synthetic._data().districts
    at_home = 0
    for person in persons:
        number = person["national_id"]
        born = date.fromisoformat(person["birth_date"])
        if born >= date(1984, 1, 1):
            assert number[0] in "12", person
        else:
            assert number[0] in "345", person
        assert number[1:5] in districts  # a real registration office
        at_home += number[1:5] == person["address"]["district_code"]
    assert at_home / len(persons) > 0.55
    categories = Counter(person["national_id"][0] for person in persons)
    assert categories["1"] > 10 * categories["2"] and categories["3"] > 10 * categories["4"]


def test_house_registration_numbers(persons):
    households = defaultdict(list)
    for person in persons:
        number = person["house_registration_number"]
        assert is_valid_house_registration_number(number)
        assert number[:4] == person["address"]["district_code"]
        households[number].append(person)
    for members in households.values():  # a household shares one address
        assert len({m["address"]["line_th"] for m in members}) == 1
    sizes = Counter(len(members) for members in households.values())
    assert sizes[1] and sizes[2] and sizes[4] and max(sizes) <= 6
    # 1*11 + 0*10 + 3*9 + 8*8 + 0*7 + 1*6 + 2*5 + 3*4 + 4*3 + 5*2 = 152; (11 - 152 % 11) % 10 = 2
    assert house_registration_check_digit("1038012345") == "2"
    assert is_valid_house_registration_number("10380123452")
    assert not is_valid_house_registration_number("10380123453")
    assert not is_valid_house_registration_number("1038012345")


def test_titles_follow_sex_and_age(persons):
    for person in persons:
        age = age_on(person["birth_date"])
        title = person["title_th"]
        if age < 15:
            assert title == ("เด็กชาย" if person["sex"] == "male" else "เด็กหญิง")
        elif person["sex"] == "male":
            assert title == "นาย"
        else:
            assert title in ("นาง", "นางสาว")
        assert person["full_name_th"] == f"{title}{person['given_name_th']} {person['surname_th']}"
        assert person["full_name_en"] == (
            f"{person['title_en']} {person['given_name_en']} {person['surname_en']}"
        )


def test_age_distribution_is_population_like(persons):
    ages = [age_on(person["birth_date"]) for person in persons]
    assert min(ages) >= 0 and max(ages) <= 101
    children = sum(age < 15 for age in ages) / len(ages)
    elderly = sum(age >= 60 for age in ages) / len(ages)
    assert 0.1 < children < 0.22 and 0.14 < elderly < 0.28
    assert 33 <= sorted(ages)[len(ages) // 2] <= 46
    sexes = Counter(person["sex"] for person in persons)
    assert 0.45 < sexes["male"] / len(persons) < 0.55


def test_id_cards(persons):
    for person in persons:
        age = age_on(person["birth_date"])
        if age < 7:
            assert person["laser_code"] is None and person["card_issue_date"] is None
            continue
        if person["laser_code"] is None:  # turned 7 a few days ago at most
            assert age == 7
            continue
        issued = date.fromisoformat(person["card_issue_date"])
        assert issued < REFERENCE_DATE
        assert age_on(person["birth_date"], issued) >= 7
        if person["card_expiry_date"] is None:
            assert age_on(person["birth_date"], issued) >= 70
        else:
            assert date.fromisoformat(person["card_expiry_date"]) > issued
        assert re.fullmatch(r"[A-Z]{2}[0-9]{10}", person["laser_code"])


def test_all_77_provinces_are_present_and_bangkok_is_largest(persons):
    counts = Counter(person["address"]["province_code"] for person in persons)
    assert set(counts) == {province.code for province in provinces()}
    assert counts.most_common(1)[0][0] == "10"
    assert len({person["address"]["district_code"] for person in persons}) > 300


def test_thai_text_is_thai_script_and_romanisation_is_ascii(persons):
    for person in persons:
        assert THAI_WORD.match(person["given_name_th"]), person["given_name_th"]
        assert THAI_WORD.match(person["surname_th"]), person["surname_th"]
        assert ROMAN_NAME.match(person["given_name_en"]), person["given_name_en"]
        assert ROMAN_NAME.match(person["surname_en"]), person["surname_en"]
        assert person["full_name_en"].isascii()
        address = person["address"]
        assert THAI_TEXT.match(address["line_th"]) and HAS_THAI.search(address["line_th"])
        assert address["line_en"].isascii() and not HAS_THAI.search(address["line_en"])
        assert address["line_th"].endswith(address["postcode"])
        assert address["line_en"].endswith(f"{address['province_en']} {address['postcode']}")
    surnames = {person["surname_th"] for person in persons}
    assert len(surnames) > 800  # lists and joined parts give variety
    south = [p for p in persons if p["address"]["province_code"] in ("94", "95", "96")]
    malay = {name.th for name in synthetic._data().surnames["malay"]}
    assert sum(p["surname_th"] in malay for p in south) > len(south) / 2


# ------------------------------------------------------------------------ companies


def test_juristic_numbers(companies):
    numbers = [company["registration_number"] for company in companies]
    assert len(set(numbers)) == len(numbers) == COMPANIES
    for company in companies:
        number = company["registration_number"]
        assert is_valid_juristic_id(number)
        assert number[1:3] == company["address"]["province_code"]  # the registration office
        assert number[3] == TYPE_DIGITS[company["type"]]
        registered = date.fromisoformat(company["registration_date"])
        assert number[4:7] == str(registered.year + 543)[-3:]
        assert registered < REFERENCE_DATE


def test_company_names_types_capital_and_status(companies):
    types = Counter(company["type"] for company in companies)
    assert set(types) == set(TYPE_DIGITS) or types["public_company_limited"] == 0
    assert types["company_limited"] > types["limited_partnership"] > 0
    for company in companies:
        name_th, name_en = company["name_th"], company["name_en"]
        assert HAS_THAI.search(name_th) and name_en.isascii()
        if company["type"] == "company_limited":
            assert name_th.startswith("บริษัท ") and name_th.endswith(" จำกัด")
            assert name_en.endswith(" Company Limited")
        elif company["type"] == "public_company_limited":
            assert name_th.endswith(" จำกัด (มหาชน)")
            assert name_en.endswith(" Public Company Limited")
        elif company["type"] == "limited_partnership":
            assert name_th.startswith("ห้างหุ้นส่วนจำกัด ")
            assert name_en.endswith(" Limited Partnership")
        else:
            assert name_th.startswith("ห้างหุ้นส่วนสามัญนิติบุคคล ")
        capital = company["registered_capital_satang"]
        assert type(capital) is int and capital > 0 and capital % 100 == 0
        if company["status"] == "active":
            assert company["status_date"] is None
        else:
            assert company["registration_date"] < company["status_date"] < "2026-01-01"
    assert len({company["name_th"] for company in companies}) == COMPANIES
    statuses = Counter(company["status"] for company in companies)
    assert 0.7 < statuses["active"] / COMPANIES < 0.95
    assert statuses["deregistered"] and statuses["liquidated"]


def test_companies_cover_the_country_with_bangkok_first(companies):
    counts = Counter(company["address"]["province_code"] for company in companies)
    assert counts.most_common(1)[0][0] == "10"
    assert 0.25 < counts["10"] / COMPANIES < 0.55
    assert len(counts) > 60


def test_directors_are_adults_of_the_civil_registry(companies, people_by_id):
    for company in companies:
        directors = company["directors"]
        assert 1 <= len(directors) <= 5 and len(set(directors)) == len(directors)
        if company["type"] == "public_company_limited":
            assert len(directors) == 5
        registered = date.fromisoformat(company["registration_date"])
        for national_id in directors:
            person = people_by_id[national_id]
            assert age_on(person["birth_date"]) >= 20
            assert age_on(person["birth_date"], registered) >= 20
    same_province = sum(
        people_by_id[national_id]["address"]["province_code"] == company["address"]["province_code"]
        for company in companies
        for national_id in company["directors"]
    )
    assert same_province / sum(len(c["directors"]) for c in companies) > 0.4


def test_companies_accept_id_tuples_and_need_adults(persons):
    pairs = [(p["national_id"], p["birth_date"]) for p in persons]
    companies = list(generate_companies(50, SEED, pairs))
    adults = {nid for nid, born in pairs if age_on(born) >= 20}
    assert all(set(company["directors"]) <= adults for company in companies)
    children = [p for p in persons if age_on(p["birth_date"]) < 10][:20]
    with pytest.raises(ValueError):
        list(generate_companies(5, SEED, children))
    with pytest.raises(TypeError):
        list(generate_companies(5, SEED, ["1101700230708"]))


# ------------------------------------------------------------------------ VAT


def test_vat_registrations(companies, vat):
    by_number = {company["registration_number"]: company for company in companies}
    keys = [registration["vat_registration_id"] for registration in vat]
    assert len(set(keys)) == len(keys)
    taxpayers = {registration["tax_id"] for registration in vat}
    assert 0.5 < len(taxpayers) / len(companies) < 0.7
    head_offices = {r["tax_id"]: r for r in vat if r["branch_number"] == "00000"}
    assert set(head_offices) == taxpayers
    assert any(r["branch_number"] != "00000" for r in vat)
    for registration in vat:
        company = by_number[registration["tax_id"]]  # the tax ID is the registration number
        assert is_valid_juristic_id(registration["tax_id"])
        assert registration["vat_registration_id"] == (
            f"{registration['tax_id']}-{registration['branch_number']}"
        )
        assert registration["branch_type"] == (
            "head_office" if registration["branch_number"] == "00000" else "branch"
        )
        assert registration["taxpayer_name_th"] == company["name_th"]
        since = registration["vat_registration_date"]
        assert since > company["registration_date"]
        assert since >= head_offices[registration["tax_id"]]["vat_registration_date"]
        if registration["status"] == "active":
            assert registration["status_date"] is None
        else:
            assert since < registration["status_date"] < "2026-01-01"
        if company["status"] != "active":
            assert registration["status"] != "active"
            assert registration["status_date"] <= company["status_date"]
    statuses = Counter(registration["status"] for registration in vat)
    assert statuses["active"] > statuses["ceased"] > 0


# ------------------------------------------------------------------------ schemas


@pytest.mark.parametrize("schema", [PERSON_SCHEMA, COMPANY_SCHEMA, VAT_SCHEMA])
def test_schemas_are_valid_draft_2020_12(schema):
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["x-primary-key"] in schema["required"]
    assert set(schema["x-personal-data"]) <= set(schema["properties"])


def test_primary_keys_and_personal_fields():
    assert PERSON_PRIMARY_KEY == "national_id" and COMPANY_PRIMARY_KEY == "registration_number"
    assert VAT_PRIMARY_KEY == "vat_registration_id"
    assert {"national_id", "birth_date", "address", "laser_code"} <= set(PERSON_PERSONAL_FIELDS)
    assert COMPANY_PERSONAL_FIELDS == ("directors",)


def test_records_validate_against_their_schemas(persons, companies, vat):
    for schema, records in (
        (PERSON_SCHEMA, persons[:2_000]),
        (COMPANY_SCHEMA, companies[:2_000]),
        (VAT_SCHEMA, vat[:2_000]),
    ):
        validator = Draft202012Validator(schema, format_checker=FormatChecker())
        for record in records:
            errors = list(validator.iter_errors(record))
            assert not errors, (record, [error.message for error in errors[:3]])
    broken = dict(persons[0], national_id="12345")
    assert list(Draft202012Validator(PERSON_SCHEMA).iter_errors(broken))


def test_command_line_times_the_generation(capsys, tmp_path):
    assert synthetic._main(["--persons", "800", "--companies", "100", "--out", str(tmp_path)]) == 0
    output = capsys.readouterr().out
    assert re.search(r"persons 800 in [0-9.]+ s, companies 100 in .* total [0-9.]+ s", output)
    assert len((tmp_path / "persons.jsonl").read_text(encoding="utf-8").splitlines()) == 800
