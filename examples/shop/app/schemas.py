"""Request and response bodies; FastAPI answers 422 to a request that breaks these rules."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

#: Good enough for a shop: something@domain.tld, no spaces (pydantic's EmailStr needs an extra).
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
    AfterValidator(str.lower),  # one account per address, whatever its case
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Sku = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2,8}-[0-9]{1,6}$")]


class UserIn(BaseModel):
    email: Email
    name: Name


class UserPatch(BaseModel):
    email: Email | None = None
    name: Name | None = None


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str


class OrderIn(BaseModel):
    sku: Sku
    quantity: int = Field(ge=1, le=10)


class OrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    sku: str
    quantity: int
    amount_cents: int
    status: str
    payment_id: str | None
