"""QuickBooks Online entities as pydantic models.

Fields are snake_case with QBO's PascalCase names as aliases, money is ``Decimal`` and
times carry their offset. Unknown fields are kept (``extra="allow"``) so a body QBO adds
fields to still parses and round-trips.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_pascal

ZERO = Decimal("0.00")


class QBModel(BaseModel):
    """Base for QBO objects: PascalCase aliases, unknown fields tolerated."""

    model_config = ConfigDict(
        alias_generator=to_pascal,
        populate_by_name=True,
        extra="allow",
        serialize_by_alias=True,
    )

    def to_qbo(self) -> dict[str, Any]:
        """The body QBO expects: aliases, no unset or ``None`` fields, ``Decimal`` kept."""
        return self.model_dump(by_alias=True, exclude_none=True)


class Ref(QBModel):
    """A reference to another object (``{"value": "58", "name": "Northwind"}``)."""

    value: str = Field(alias="value")
    name: str | None = Field(default=None, alias="name")


class MetaData(QBModel):
    create_time: datetime | None = None
    last_updated_time: datetime | None = None


class LinkedTxn(QBModel):
    txn_id: str
    txn_type: str
    txn_line_id: str | None = None


class Entity(QBModel):
    """Fields every QBO transaction or list object shares."""

    entity_name: ClassVar[str] = ""

    id: str | None = None
    sync_token: str | None = None
    meta_data: MetaData | None = None
    # CDC reports a deletion as {"status": "Deleted", "Id": .., "MetaData": ..}.
    status: str | None = Field(default=None, alias="status")

    @property
    def is_deleted(self) -> bool:
        return (self.status or "").lower() == "deleted"

    @property
    def created_at(self) -> datetime | None:
        return self.meta_data.create_time if self.meta_data else None

    @property
    def updated_at(self) -> datetime | None:
        return self.meta_data.last_updated_time if self.meta_data else None


class Invoice(Entity):
    entity_name: ClassVar[str] = "Invoice"

    doc_number: str | None = None
    txn_date: date | None = None
    due_date: date | None = None
    total_amt: Decimal = ZERO
    balance: Decimal = ZERO
    customer_ref: Ref | None = None
    linked_txn: list[LinkedTxn] = Field(default_factory=list)
    private_note: str | None = None

    @property
    def is_voided(self) -> bool:
        """QBO keeps a voided invoice readable with zero totals and the note "Voided"."""
        note = (self.private_note or "").strip().lower()
        return self.total_amt == 0 and self.balance == 0 and note.startswith("voided")


class PaymentLine(QBModel):
    amount: Decimal = ZERO
    linked_txn: list[LinkedTxn] = Field(default_factory=list)


class Payment(Entity):
    entity_name: ClassVar[str] = "Payment"

    txn_date: date | None = None
    total_amt: Decimal = ZERO
    unapplied_amt: Decimal | None = None
    customer_ref: Ref | None = None
    payment_ref_num: str | None = None
    deposit_to_account_ref: Ref | None = None
    private_note: str | None = None
    line: list[PaymentLine] = Field(default_factory=list)
    currency_ref: Ref | None = None  # multi-currency companies: the customer's currency
    exchange_rate: Decimal | None = None  # home currency per unit of ``currency_ref``

    def linked_ids(self, txn_type: str) -> list[str]:
        """Ids of the transactions of one type (``Invoice``, ``CreditMemo``) its lines link."""
        return [lt.txn_id for ln in self.line for lt in ln.linked_txn if lt.txn_type == txn_type]


class CreditMemo(Entity):
    entity_name: ClassVar[str] = "CreditMemo"

    doc_number: str | None = None
    txn_date: date | None = None
    total_amt: Decimal = ZERO
    balance: Decimal = ZERO
    remaining_credit: Decimal | None = None
    customer_ref: Ref | None = None
    private_note: str | None = None


class Customer(Entity):
    entity_name: ClassVar[str] = "Customer"

    display_name: str | None = None
    active: bool = True
    balance: Decimal = ZERO
    currency_ref: Ref | None = None  # the customer's currency, in a multi-currency company


class Account(Entity):
    entity_name: ClassVar[str] = "Account"

    name: str | None = None
    fully_qualified_name: str | None = None
    account_type: str | None = None
    account_sub_type: str | None = None
    active: bool = True


class SalesFormsPrefs(QBModel):
    auto_apply_credit: bool | None = None
    auto_apply_payments: bool | None = Field(
        default=None, validation_alias=AliasChoices("AutoApplyPayments", "auto_apply_payments")
    )


class CurrencyPrefs(QBModel):
    multi_currency_enabled: bool | None = None
    home_currency: Ref | None = None


class Preferences(Entity):
    entity_name: ClassVar[str] = "Preferences"

    sales_forms_prefs: SalesFormsPrefs = Field(default_factory=SalesFormsPrefs)
    currency_prefs: CurrencyPrefs = Field(default_factory=CurrencyPrefs)


class ExchangeRate(Entity):
    """QuickBooks' rate of one currency against the home currency on a day (multi-currency)."""

    entity_name: ClassVar[str] = "ExchangeRate"

    source_currency_code: str | None = None
    target_currency_code: str | None = None
    rate: Decimal | None = None
    as_of_date: date | None = None


class CompanyInfo(Entity):
    entity_name: ClassVar[str] = "CompanyInfo"

    company_name: str | None = None
    legal_name: str | None = None
    country: str | None = None


ENTITY_TYPES: dict[str, type[Entity]] = {
    cls.entity_name: cls
    for cls in (
        Invoice,
        Payment,
        CreditMemo,
        Customer,
        Account,
        Preferences,
        CompanyInfo,
        ExchangeRate,
    )
}
