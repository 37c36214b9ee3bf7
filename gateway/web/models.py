"""Request bodies of the web API, and the small response models that are not views of the cluster.

Strict on purpose: quantities are JSON integers (``"5"`` and ``5.0`` are refused), prices are decimal
strings (a float would round), times are RFC 3339 with a zone. Unknown fields are refused, so that a
misspelt optional field is an error rather than silently ignored.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, StrictInt, model_validator

from rfq.cluster.domain import MAX_DEALERS
from rfq.gateway.prices import PRICE_PATTERN

INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1
CUSIP_PATTERN = r"^[0-9A-Z*@#]{9}$"
CL_ORD_ID_PATTERN = r"^[!-~]([ -~]{0,18}[!-~])?$"
"""1 to 20 printable ASCII characters, no leading or trailing space (the wire pads with NULs)."""
MAX_TTL_S = 7 * 24 * 3600

Price = Annotated[str, Field(pattern=PRICE_PATTERN, examples=["99.515625"], description="Exact decimal, > 0")]
Quantity = Annotated[StrictInt, Field(gt=0, le=INT64_MAX, examples=[5_000_000])]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NewInstrument(_Body):
    """An instrument to add (operators)."""

    cusip: str = Field(
        pattern=CUSIP_PATTERN, examples=["912828YK0"], description="9 characters, check digit included"
    )
    min_quantity: StrictInt = Field(ge=0, le=INT64_MAX, examples=[1_000_000])
    enabled: StrictBool = True
    description: str = Field(default="", max_length=200, examples=["US Treasury note"])


class NewRfq(_Body):
    """An RFQ to create: the instrument by id or CUSIP, a deadline or a time to live."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "cusip": "912828YK0",
                    "side": "buy",
                    "quantity": 5_000_000,
                    "ttl_seconds": 120,
                    "client_order_id": "alice-0001",
                    "dealers": ["dealer-a", "dealer-b", "dealer-c"],
                }
            ]
        },
    )

    instrument_id: StrictInt | None = Field(default=None, ge=1, le=INT32_MAX)
    cusip: str | None = Field(default=None, pattern=CUSIP_PATTERN)
    side: Literal["buy", "sell"] = Field(
        description="Your side: buy means you buy from the dealer you trade with"
    )
    quantity: Quantity
    deadline: AwareDatetime | None = Field(default=None, description="When the RFQ expires")
    ttl_seconds: StrictInt | None = Field(
        default=None, ge=1, le=MAX_TTL_S, description="Or: expires this long from now"
    )
    client_order_id: str = Field(default="", pattern=r"^$|" + CL_ORD_ID_PATTERN, examples=["alice-0001"])
    dealers: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_DEALERS,
        description="Dealer names to ask; omitted: the directory's default dealers",
    )

    @model_validator(mode="after")
    def _one_of_each(self) -> NewRfq:
        if (self.instrument_id is None) == (self.cusip is None):
            raise ValueError("give exactly one of instrument_id and cusip")
        if (self.deadline is None) == (self.ttl_seconds is None):
            raise ValueError("give exactly one of deadline and ttl_seconds")
        return self


class NewQuote(_Body):
    """A dealer's firm price (a new quote replaces its live one)."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_extra={"examples": [{"price": "99.515625"}]}
    )

    price: Price
    valid_until: AwareDatetime | None = Field(
        default=None, description="Omitted: valid until the RFQ's deadline"
    )


class NewCounter(_Body):
    """The requester's price in answer to one dealer's quote."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_extra={"examples": [{"price": "99.40"}]}
    )

    price: Price


class NewUser(_Body):
    """A user to add to the gateway's directory (operators)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"examples": [{"name": "carol", "role": "trader"}]},
    )

    name: str = Field(min_length=1, max_length=64, pattern=r"^[!-~]+$", description="Printable, no spaces")
    role: Literal["trader", "dealer", "operator"]
    user_id: StrictInt | None = Field(
        default=None, ge=1, le=INT32_MAX, description="The id the cluster sees; omitted: the next free one"
    )
    default_dealer: StrictBool = Field(default=False, description="Dealers only: asked by RFQs naming none")

    @model_validator(mode="after")
    def _default_dealers_are_dealers(self) -> NewUser:
        if self.default_dealer and self.role != "dealer":
            raise ValueError("only a dealer can be a default dealer")
        return self


class NewToken(_Body):
    """An API token to issue (operators)."""

    label: str = Field(default="", max_length=200, description="What the token is for")


class RevokedTokens(BaseModel):
    """What ``DELETE /v1/users/{user_id}/tokens`` did."""

    user_id: int = Field(examples=[101])
    name: str = Field(examples=["alice"])
    revoked: int = Field(description="How many tokens the user had; none of them works now", examples=[2])


class IssuedToken(BaseModel):
    """A new API token: shown in this answer only (the directory keeps its hash)."""

    user_id: int = Field(examples=[101])
    name: str = Field(examples=["alice"])
    label: str = ""
    token: str = Field(description="Send as Authorization: Bearer <token>")


class Me(BaseModel):
    user_id: int = Field(examples=[101])
    name: str = Field(examples=["alice"])
    role: Literal["trader", "dealer", "operator"]


class DealerInfo(BaseModel):
    user_id: int = Field(examples=[201])
    name: str = Field(examples=["dealer-a"])
    default: bool = Field(description="Asked when an RFQ names no dealers")


class UserInfo(BaseModel):
    """A user of the gateway's directory, as operators see it."""

    user_id: int = Field(examples=[201], description="The id the cluster knows the user by")
    name: str = Field(examples=["dealer-a"])
    role: Literal["trader", "dealer", "operator"]
    default_dealer: bool = Field(description="Asked when an RFQ names no dealers (dealers only)")


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    ready: bool
    connected: bool
    leader_member_id: int
    state_loaded: bool
    directory_loaded: bool
    gateway_id: int
    epoch: int
    pending_commands: int
    stream_subscribers: int


class Problem(BaseModel):
    """RFC 9457 problem details (``application/problem+json``)."""

    type: str = Field(examples=["/problems/not-a-party"])
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    reason: str | None = Field(default=None, description="The cluster's RejectReason, when it refused")
