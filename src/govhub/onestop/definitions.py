"""The catalog's data format: a public service, its manual, e-form and workflow, as YAML.

A service is defined in one YAML file (see `onestop/data/catalog/` and docs/catalog.md) and
loaded with `govhub catalog load`; adding a license needs no code. The models below are the
whole format: anything they refuse, the loader refuses with the file and the field named.
Texts users read are pairs `{th: ..., en: ...}`; money is integer satang.
"""

from __future__ import annotations

import enum
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from govhub.kit.i18n import N_

CODE = r"^[a-z0-9][a-z0-9-]{1,62}$"
FIELD_NAME = r"^[a-z][a-z0-9_]{0,62}$"
GDX_SERVICE = r"^[A-Z]{2}/[A-Z]{3}/[A-Za-z0-9_-]+/[A-Za-z0-9_-]+/[A-Za-z0-9_-]+$"


class Audience(enum.StrEnum):
    """Who a service is for: the three portals of the plan."""

    CITIZEN = "citizen"
    BUSINESS = "business"
    FOREIGNER = "foreigner"


class BusinessType(enum.StrEnum):
    """Biz Portal's business types that the demo catalog covers (more are added as data grows)."""

    RESTAURANT = "restaurant"
    RETAIL = "retail"
    HOTEL = "hotel"
    FACTORY = "factory"
    IMPORT_EXPORT = "import_export"
    CONSTRUCTION = "construction"
    GENERAL = "general"  # every business: company and VAT registration


class LifeEvent(enum.StrEnum):
    """Life events services are grouped by, as GOV.UK and the plan's citizen portal do."""

    STARTING_A_BUSINESS = "starting_a_business"
    RUNNING_A_BUSINESS = "running_a_business"
    BUILDING = "building"
    HAVING_A_CHILD = "having_a_child"
    MOVING_HOUSE = "moving_house"
    WORKING_IN_THAILAND = "working_in_thailand"
    CLOSING_A_BUSINESS = "closing_a_business"


# What people read for each code of the three groupings (translated in the locale catalogs).
GROUP_LABELS: dict[str, str] = {
    Audience.CITIZEN: N_("Citizens"),
    Audience.BUSINESS: N_("Businesses"),
    Audience.FOREIGNER: N_("Foreigners"),
    BusinessType.RESTAURANT: N_("Restaurants and food shops"),
    BusinessType.RETAIL: N_("Retail shops"),
    BusinessType.HOTEL: N_("Hotels and accommodation"),
    BusinessType.FACTORY: N_("Factories"),
    BusinessType.IMPORT_EXPORT: N_("Import and export"),
    BusinessType.CONSTRUCTION: N_("Construction"),
    BusinessType.GENERAL: N_("Every business"),
    LifeEvent.STARTING_A_BUSINESS: N_("Starting a business"),
    LifeEvent.RUNNING_A_BUSINESS: N_("Running a business"),
    LifeEvent.BUILDING: N_("Building or renovating"),
    LifeEvent.HAVING_A_CHILD: N_("Having a child"),
    LifeEvent.MOVING_HOUSE: N_("Moving house"),
    LifeEvent.WORKING_IN_THAILAND: N_("Working in Thailand"),
    LifeEvent.CLOSING_A_BUSINESS: N_("Closing a business"),
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Strict):
    """A text users read, in Thai (first) and English."""

    th: str = Field(min_length=1, max_length=4000)
    en: str = Field(min_length=1, max_length=4000)


class Step(_Strict):
    """One step of the procedure, with the time the manual promises for it."""

    title: Text
    days: int = Field(ge=0, le=365)
    responsible: Text | None = None


class Fee(_Strict):
    """A fee, in satang (1/100 baht)."""

    label: Text
    # At least one satang; a bill's total must fit a Thai QR amount (9,999,999,999.99 baht).
    amount_satang: int = Field(ge=1, le=10_000_000_000)


class Document(_Strict):
    """A required piece of information: fetched through GDX when the state holds it, else uploaded."""

    code: Annotated[str, Field(pattern=FIELD_NAME)]
    title: Text
    required: bool = True
    # Where govhub reads it (an exchange service); no upload is asked for such a document.
    gdx_service: Annotated[str | None, Field(pattern=GDX_SERVICE)] = None
    accept: list[Literal["pdf", "jpg", "png"]] = Field(default_factory=lambda: ["pdf", "jpg", "png"])
    max_mb: int = Field(default=5, ge=1, le=20)


class Option(_Strict):
    """A choice of a select or radio field."""

    value: str = Field(min_length=1, max_length=100)
    label: Text


class Prefill(_Strict):
    """Fill a field from an exchange service's answer (and mark it verified by that source)."""

    gdx_service: Annotated[str, Field(pattern=GDX_SERVICE)]
    field: Annotated[str, Field(pattern=FIELD_NAME)]
    # Whose record is read: the applicant's own (national ID), their company's (juristic
    # person number), or their company's head office (the VAT registration "<tax id>-00000").
    key: Literal["national_id", "juristic_id", "juristic_head_office"] = "national_id"


class FormField(_Strict):
    """A field of the e-form: its widget, label and optional GDX source."""

    name: Annotated[str, Field(pattern=FIELD_NAME)]
    label: Text
    widget: Literal["text", "textarea", "number", "date", "select", "radio", "checkbox", "email", "tel", "file"]
    help: Text | None = None
    options: list[Option] = Field(default_factory=list)
    prefill: Prefill | None = None
    # For widget "file": the document of the manual the upload answers.
    document: Annotated[str | None, Field(pattern=FIELD_NAME)] = None


class FormPage(_Strict):
    """One page of the e-form."""

    title: Text
    fields: list[FormField] = Field(min_length=1)


class EForm(_Strict):
    """The e-form: a JSON Schema for the data and UI hints (pages, widgets, prefill)."""

    json_schema: dict[str, Any] = Field(alias="schema")
    pages: list[FormPage] = Field(min_length=1)

    @field_validator("json_schema")
    @classmethod
    def _a_working_schema(cls, schema: dict[str, Any]) -> dict[str, Any]:
        # A broken schema would fail every application started under this version, and
        # versions are kept for good: refuse it at load, not at the applicant's first save.
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import SchemaError

        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as error:
            raise ValueError(f"not a valid JSON Schema: {error.message}") from error
        _check_schema_parts(schema)
        list(Draft202012Validator(schema).iter_errors({}))
        return schema

    @model_validator(mode="after")
    def _fields_match_the_schema(self) -> EForm:
        properties = set((self.json_schema.get("properties") or {}).keys())
        named = [field.name for page in self.pages for field in page.fields]
        if len(named) != len(set(named)):
            raise ValueError("a field appears on two pages")
        if set(named) != properties:
            raise ValueError(f"form fields and schema properties differ: {sorted(set(named) ^ properties)}")
        return self


def _check_schema_parts(node: Any) -> None:
    """Every pattern compiles; every $ref stays inside the schema (no fetching from elsewhere)."""
    if isinstance(node, dict):
        pattern = node.get("pattern")
        if isinstance(pattern, str):
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"pattern {pattern!r} is not a valid regular expression: {error}") from error
        reference = node.get("$ref")
        if isinstance(reference, str) and not reference.startswith("#"):
            raise ValueError(f"$ref {reference!r} must point inside the schema (start with '#')")
        for value in node.values():
            _check_schema_parts(value)
    elif isinstance(node, list):
        for value in node:
            _check_schema_parts(value)


class State(_Strict):
    """A state of the workflow, with the time limit an application may stay in it."""

    code: Annotated[str, Field(pattern=FIELD_NAME)]
    label: Text
    days: int | None = Field(default=None, ge=0, le=365)  # None: no limit (final or the applicant's turn)
    final: bool = False
    # Whose turn it is: the applicant's (returned for corrections, fee to pay) or the agency's.
    actor: Literal["agency", "applicant"] = "agency"
    # Entering this state opens a bill for the manual's fees; its "payment" action leaves it.
    bill: bool = False
    # Entering this state issues the service's signed e-document (see IssuedDocument).
    issue: bool = False


class Action(_Strict):
    """A transition: from which states, to which, and the roles that may take it."""

    code: Annotated[str, Field(pattern=FIELD_NAME)]
    label: Text
    from_states: list[str] = Field(alias="from", min_length=1)
    to: str
    roles: list[str] = Field(min_length=1)  # officer roles, or "applicant"
    comment_required: bool = False
    # The Licensing Facilitation Act allows one return for incompleteness per application.
    once: bool = False


# The role govhub itself takes when a case's bill is paid: no person holds it, so only a
# verified payment callback can move a case out of a state that waits for a fee.
PAYMENT_ROLE = "payment"


class Workflow(_Strict):
    """A state machine as data, as DIGIT's business services define theirs."""

    initial: str
    states: list[State] = Field(min_length=2)
    actions: list[Action] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Workflow:
        codes = [state.code for state in self.states]
        if len(codes) != len(set(codes)):
            raise ValueError("two states have the same code")
        known = set(codes)
        if self.initial not in known:
            raise ValueError(f"initial state {self.initial!r} is not a state")
        actions = [action.code for action in self.actions]
        if len(actions) != len(set(actions)):
            raise ValueError("two actions have the same code")
        for action in self.actions:
            unknown = {*action.from_states, action.to} - known
            if unknown:
                raise ValueError(f"action {action.code!r} names unknown states {sorted(unknown)}")
            if any(self.state(code).final for code in action.from_states):
                raise ValueError(f"action {action.code!r} leaves a final state")
        if not any(state.final for state in self.states):
            raise ValueError("the workflow has no final state")
        self._payments_consistent()
        return self

    def _payments_consistent(self) -> None:
        for state in self.states:
            paid = [a for a in self.actions if state.code in a.from_states and PAYMENT_ROLE in a.roles]
            if state.bill and len(paid) != 1:
                raise ValueError(f"state {state.code!r} bills a fee: exactly one action with role 'payment' must leave it")
            if state.bill and state.final:
                raise ValueError(f"state {state.code!r} bills a fee, so it cannot be final")
        for action in self.actions:
            leaves_billing = any(self.state(code).bill for code in action.from_states)
            ends_unissued = self.state(action.to).final and not self.state(action.to).issue
            if leaves_billing and PAYMENT_ROLE not in action.roles and not ends_unissued:
                # Only the payment moves a case on from a fee step; people may only end the case there.
                raise ValueError(f"action {action.code!r} leaves a billing state: only role 'payment' may, "
                                 "or an action that ends the case")
            if PAYMENT_ROLE in action.roles and (
                action.roles != [PAYMENT_ROLE] or not all(self.state(code).bill for code in action.from_states)
            ):
                raise ValueError(f"action {action.code!r}: role 'payment' is alone and only leaves billing states")

    def payment_action(self, state_code: str) -> Action | None:
        """The action a paid bill takes from this state (None if the state bills nothing)."""
        return next((a for a in self.actions if state_code in a.from_states and PAYMENT_ROLE in a.roles), None)

    def state(self, code: str) -> State:
        """The state with this code."""
        return next(state for state in self.states if state.code == code)


class DocumentLine(_Strict):
    """A line of the issued e-document: a label and the e-form field it shows."""

    label: Text
    field: Annotated[str, Field(pattern=FIELD_NAME)]


class IssuedDocument(_Strict):
    """The template of the e-license or e-certificate a service issues."""

    kind: Literal["license", "certificate"] = "license"
    title: Text
    # The holder's name is read from this e-form field (else the applicant's account name).
    holder_field: Annotated[str | None, Field(pattern=FIELD_NAME)] = None
    lines: list[DocumentLine] = Field(default_factory=list, max_length=30)
    valid_days: int | None = Field(default=None, ge=1, le=36500)  # None: no expiry
    note: Text | None = None


class ServiceDefinition(_Strict):
    """A public service and its manual (Licensing Facilitation Act B.E. 2558, section 7)."""

    code: Annotated[str, Field(pattern=CODE)]
    agency: Annotated[str, Field(pattern=r"^[A-Z0-9_-]{2,32}$")]
    title: Text
    summary: Text
    audiences: list[Audience] = Field(min_length=1)
    business_types: list[BusinessType] = Field(default_factory=list)
    life_events: list[LifeEvent] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list, max_length=50)
    legal_basis: list[Text] = Field(min_length=1)
    criteria: list[Text] = Field(default_factory=list)
    steps: list[Step] = Field(min_length=1)
    time_limit_days: int = Field(ge=1, le=365)
    fees: list[Fee] = Field(default_factory=list)
    documents: list[Document] = Field(default_factory=list)
    channels: list[Text] = Field(min_length=1)
    form: EForm
    workflow: Workflow
    document: IssuedDocument | None = None

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, value: list[str]) -> list[str]:
        return [word.strip() for word in value if word.strip()]

    @model_validator(mode="after")
    def _manual_is_coherent(self) -> ServiceDefinition:
        if sum(step.days for step in self.steps) > self.time_limit_days:
            raise ValueError("the steps take longer than the service's time limit")
        documents = {document.code for document in self.documents}
        for page in self.form.pages:
            for field in page.fields:
                if field.widget == "file" and field.document not in documents:
                    raise ValueError(f"file field {field.name!r} must name one of the manual's documents")
        fields = {field.name for page in self.form.pages for field in page.fields}
        if self.document is not None:
            named = [line.field for line in self.document.lines] + [self.document.holder_field or ""]
            unknown = {name for name in named if name and name not in fields}
            if unknown:
                raise ValueError(f"the issued document shows fields the form lacks: {sorted(unknown)}")
        if any(state.bill for state in self.workflow.states) and not self.fees:
            raise ValueError("the workflow bills a fee but the manual lists none")
        return self

    @property
    def fee_total_satang(self) -> int:
        """The sum of the fees."""
        return sum(fee.amount_satang for fee in self.fees)


class AgencyDefinition(_Strict):
    """An agency the catalog refers to (created if the installation does not have it)."""

    code: Annotated[str, Field(pattern=r"^[A-Z0-9_-]{2,32}$")]
    name: Text


class CatalogFile(_Strict):
    """One YAML file: agencies and/or services."""

    agencies: list[AgencyDefinition] = Field(default_factory=list)
    services: list[ServiceDefinition] = Field(default_factory=list)


def slug_ok(code: str) -> bool:
    """True for a valid service code."""
    return re.match(CODE, code) is not None
