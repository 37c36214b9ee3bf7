"""The web gateway's FastAPI application: REST under ``/v1``, SSE at ``/v1/events``, health, OpenAPI.

Every POST that changes something becomes one cluster command (``commands.CommandRunner``); reads are
answered from the core's mirror, personalised (``rfq.gateway.views``). Roles: traders create, counter,
accept and cancel RFQs; dealers quote, withdraw, pass and accept counters; operators add, enable and
disable instruments. Whether a user may act on a given RFQ is the cluster's call (NOT_A_PARTY...), so
the gateway never second-guesses it. Every error is problem+json (``problems``).

The app owns its resources through its lifespan: it opens the directory (SQLite connections belong to
the event loop's thread), starts the core, and stops both on shutdown.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request, Security
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, TypeAdapter
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from rfq import __version__
from rfq.codecs.rfq_sbe import (
    AcceptCounter,
    AcceptQuote,
    AddInstrument,
    BooleanType,
    CancelRfq,
    CounterQuote,
    CreateRfq,
    CreateRfqDealers,
    DealerPassed,
    EnableInstrument,
    InstrumentAdded,
    InstrumentEnabled,
    PassRfq,
    QuoteCountered,
    QuoteSubmitted,
    QuoteWithdrawn,
    RfqCreated,
    RfqEnded,
    RfqTraded,
    Side,
    SubmitQuote,
    WithdrawQuote,
)
from rfq.collector import CollectorPolicy
from rfq.gateway.core import GatewayCore, TransportFactory
from rfq.gateway.idempotency import MAX_KEY_LENGTH, IdempotencyStore
from rfq.gateway.identity import Directory, DirectoryError, Role, User
from rfq.gateway.prices import parse_price
from rfq.gateway.streams import GapError
from rfq.gateway.views import (
    DealerPassedEvent,
    InstrumentView,
    QuoteCounteredEvent,
    QuoteSubmittedEvent,
    QuoteWithdrawnEvent,
    RequesterRfqView,
    RfqEndedEvent,
    RfqTradedEvent,
    RfqView,
    SnapshotEvent,
    UserEvent,
    millis,
)
from rfq.gateway.web.commands import CommandRunner
from rfq.gateway.web.fast_path import Resolver, fast_path_route
from rfq.gateway.web.metrics import GatewayMetrics
from rfq.gateway.web.models import (
    INT32_MAX,
    INT64_MAX,
    DealerInfo,
    Health,
    IssuedToken,
    Me,
    NewCounter,
    NewInstrument,
    NewQuote,
    NewRfq,
    NewToken,
    NewUser,
    Problem,
    Readiness,
    RevokedTokens,
    UserInfo,
)
from rfq.gateway.web.page import install_page
from rfq.gateway.web.problems import (
    CATALOGUE,
    CLUSTER_UNAVAILABLE,
    FORBIDDEN_ROLE,
    HTTP_ERROR,
    INTERNAL,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    UNAUTHORIZED,
    USER_EXISTS,
    VALIDATION,
    ProblemError,
    problem_response,
)


@dataclass(frozen=True)
class WebSettings:
    """How one web gateway runs (the CLI's options)."""

    data_dir: Path
    """Holds ``gateway.sqlite``: the identity directory, the epoch and the idempotency keys."""
    gateway_id: int = 1
    outcome_timeout_s: float = 5.0
    """How long a POST waits for the cluster's outcome before answering 503."""
    heartbeat_s: float = 15.0
    """SSE comment interval: keeps proxies from closing an idle stream."""
    stream_capacity: int = 1_000
    """Events kept per user for resumption."""
    tune_collector: bool = False
    """Run :class:`rfq.collector.CollectorPolicy` (process-wide): for a gateway that is its
    process's only server (``rfq gateway web``), not for one embedded beside a node or in tests."""

    @property
    def directory_path(self) -> Path:
        return self.data_dir / "gateway.sqlite"


@dataclass
class Gateway:
    """What the routes use: the app's live resources."""

    settings: WebSettings
    directory: Directory
    core: GatewayCore
    runner: CommandRunner
    loop: asyncio.AbstractEventLoop
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the server stops: event streams end so that the server can."""


async def _gateway(request: Request) -> Gateway:
    """(async: a plain function dependency would run in a worker thread, a hop per request)"""
    gateway: Gateway = request.app.state.gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(_gateway)]
_bearer = HTTPBearer(auto_error=False, description="An API token (`rfq gateway users add` prints one)")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]


def _authenticate(request: Request, credentials: HTTPAuthorizationCredentials | None) -> User:
    """The user the bearer token belongs to; 401 without one or with one nobody has."""
    if credentials is None:
        raise ProblemError(
            UNAUTHORIZED, "send Authorization: Bearer <token>", headers={"WWW-Authenticate": "Bearer"}
        )
    gateway: Gateway = request.app.state.gateway
    user = gateway.directory.authenticate(credentials.credentials)
    if user is None:
        raise ProblemError(
            UNAUTHORIZED,
            "unknown or revoked token",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return user


async def current_user(request: Request, credentials: Credentials) -> User:
    """Any user with a valid bearer token.

    This and the role checks below depend on the bearer scheme directly, not on one another: FastAPI
    solves each dependency of a request afresh (about 25 µs each here), and the create path is the
    gateway's hottest."""
    return _authenticate(request, credentials)


UserDep = Annotated[User, Depends(current_user)]


UserCheck = Callable[[Request, HTTPAuthorizationCredentials | None], Awaitable[User]]
"""A dependency giving the request's user (or raising 401/403), from its bearer credentials."""


def _role(*roles: Role) -> UserCheck:
    async def check(request: Request, credentials: Credentials) -> User:
        user = _authenticate(request, credentials)
        if user.role not in roles:
            allowed = " or ".join(role.value for role in roles)
            raise ProblemError(FORBIDDEN_ROLE, f"only a {allowed} may do this; you are a {user.role.value}")
        return user

    return check


_trader, _dealer, _operator = _role(Role.TRADER), _role(Role.DEALER), _role(Role.OPERATOR)
TraderDep = Annotated[User, Depends(_trader)]
DealerDep = Annotated[User, Depends(_dealer)]
OperatorDep = Annotated[User, Depends(_operator)]


def _with_bearer(check: UserCheck) -> Resolver:
    """The fast path's way to run ``check``: with the credentials the bearer scheme reads."""

    async def resolve(request: Request) -> User:
        return await check(request, await _bearer(request))

    return resolve


_Route = fast_path_route(
    {
        _gateway: _gateway,
        current_user: _with_bearer(current_user),
        **{check: _with_bearer(check) for check in (_trader, _dealer, _operator)},
    }
)
"""The API's routes: a command's well-formed request reaches its endpoint without FastAPI's
per-request dependency solving (``fast_path``), which knows how to compute these dependencies."""
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        description="Makes the POST safe to retry: the same key and body get the same answer",
    ),
]
RfqId = Annotated[int, PathParam(ge=1, le=INT64_MAX, description="The RFQ's id")]
QuoteId = Annotated[int, PathParam(ge=1, le=INT64_MAX)]
InstrumentId = Annotated[int, PathParam(ge=1, le=INT32_MAX)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {"application/problem+json": {}}, "description": text}
    for status, text in (
        (400, "The body could not be read"),
        (401, "No or an unknown bearer token"),
        (403, "Your role, or your part in the RFQ, does not allow it"),
        (404, "Unknown resource"),
        (409, "No longer possible (not live, traded, expired, passed), or the same key is in flight"),
        (422, "Invalid request, or an Idempotency-Key reused for another request"),
        (503, "The cluster did not answer in time: retry with the same Idempotency-Key"),
    )
}


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: _ERRORS[status] for status in statuses}


_READ_ERRORS = _errors(401, 404, 422)


def create_app(settings: WebSettings, transport_factory: TransportFactory) -> FastAPI:
    """The web gateway for one cluster (``transport_factory`` opens its session)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        directory = Directory(settings.directory_path, background_checkpoints=True)
        core = GatewayCore(
            directory, transport_factory, settings.gateway_id, stream_capacity=settings.stream_capacity
        )
        store = IdempotencyStore(directory.connection)
        store.purge()
        app.state.gateway = Gateway(
            settings,
            directory,
            core,
            CommandRunner(core, store, settings.outcome_timeout_s, metrics=GatewayMetrics(core)),
            asyncio.get_running_loop(),
        )
        collector = CollectorPolicy() if settings.tune_collector else None
        if collector is not None:
            collector.install()
            core.add_sync_listener(collector.state_loaded)
        await core.start()
        try:
            yield
        finally:
            app.state.gateway.closing.set()
            await core.stop()
            store.flush()
            directory.close()
            if collector is not None:
                collector.uninstall()

    app = FastAPI(
        title="RFQ web gateway",
        version=__version__,
        summary="Multi-dealer request for quote on bonds, over a replicated state machine.",
        description=(
            "Commands are POSTs; each answers with the cluster's outcome, or with an RFC 9457 problem. "
            "Send an `Idempotency-Key` with every POST to retry safely. Events stream at `/v1/events` "
            "(server-sent events, resumable with `Last-Event-ID`). Prices are decimal strings, times "
            "RFC 3339 UTC."
        ),
        lifespan=lifespan,
        # FastAPI's native OpenTelemetry: off. The gateway's metrics are its Prometheus registry, no
        # OpenTelemetry provider is ever configured, and asking for one on every request cost ~5% of
        # the event loop's time per create.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    _install_problem_handlers(app)
    app.router.route_class = _Route
    _add_routes(app.router)
    install_page(app)
    _document_events(app)
    return app


def _document_events(app: FastAPI) -> None:
    """Describe each SSE event in the OpenAPI (3.2's ``itemSchema``): its ``data`` is one JSON
    ``UserEvent``. The event models join the components, so clients can generate types for them."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        events = TypeAdapter(UserEvent).json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, definition in events.pop("$defs", {}).items():
            components.setdefault(name, definition)
        item = {
            "type": "object",
            "required": ["data"],
            "properties": {
                "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": events},
                "event": {"type": "string", "description": "The event's type (as `type` in its data)"},
                "id": {
                    "type": "string",
                    "description": "`<gateway epoch>-<sequence>`: send it as Last-Event-ID",
                },
                "retry": {"type": "integer", "minimum": 0},
            },
        }
        content = schema["paths"]["/v1/events"]["get"]["responses"]["200"]["content"]
        content["text/event-stream"] = {"itemSchema": item}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, error: Exception) -> Response:
        assert isinstance(error, ProblemError)
        return problem_response(error, request.url.path)

    async def on_validation(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in error.errors()
        ]
        detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors)
        return problem_response(ProblemError(VALIDATION, detail, errors=errors), request.url.path)

    async def on_http(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        kind = {404: NOT_FOUND, 405: METHOD_NOT_ALLOWED}.get(error.status_code, HTTP_ERROR)
        headers = dict(error.headers or {})
        if error.status_code == 405:  # Starlette names only the first matching route's methods
            headers["Allow"] = ", ".join(_allowed_methods(request))
        problem = ProblemError(kind, str(error.detail), status=error.status_code, headers=headers)
        return problem_response(problem, request.url.path)

    async def on_crash(request: Request, error: Exception) -> Response:
        return problem_response(ProblemError(INTERNAL, type(error).__name__), request.url.path)

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_crash)


def _allowed_methods(request: Request) -> list[str]:
    path = request.url.path
    methods: set[str] = set()
    for route in request.app.routes:
        if isinstance(route, APIRoute) and route.path_regex.match(path):
            methods |= route.methods or set()
    return sorted(methods)


def _created(location: str, model: BaseModel) -> tuple[int, BaseModel, dict[str, str]]:
    return 201, model, {"location": location}


def _expect(outcome: Any, kind: type) -> Any:
    if not isinstance(outcome, kind):
        raise TypeError(f"expected {kind.__name__}, got {type(outcome).__name__}")
    return outcome


def _add_routes(router: APIRouter) -> None:
    """The API's routes, added to the app's own router: an included router (``include_router``) is
    matched twice per request in FastAPI 0.16x, once to pick it and once inside it."""

    # --- health -------------------------------------------------------------------------------
    @router.get("/healthz", tags=["health"], response_model=Health)
    async def healthz() -> Health:
        """The process is up."""
        return Health()

    @router.get(
        "/readyz",
        tags=["health"],
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "Not ready"}},
    )
    async def readyz(gateway: GatewayDep) -> Response:
        """Ready: cluster session up, leader known, directory loaded, cluster state loaded."""
        status = gateway.core.status
        body = Readiness(
            ready=status.ready,
            connected=status.connected,
            leader_member_id=status.leader_member_id,
            state_loaded=status.synced,
            directory_loaded=status.directory_loaded,
            gateway_id=gateway.core.gateway_id,
            epoch=gateway.core.start_epoch,
            pending_commands=gateway.core.pending_count,
            stream_subscribers=gateway.core.streams.subscribers,
        )
        return JSONResponse(body.model_dump(), status_code=200 if status.ready else 503)

    @router.get("/metrics", include_in_schema=False)
    async def metrics(gateway: GatewayDep) -> Response:
        """Prometheus metrics of this gateway."""
        registry = gateway.runner.metrics.registry
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @router.get("/problems/{slug}", tags=["health"], response_model=Problem, responses={404: _ERRORS[404]})
    async def problem_type(slug: str) -> Problem:
        """What a problem ``type`` means."""
        kind = CATALOGUE.get(slug)
        if kind is None:
            raise ProblemError(NOT_FOUND, f"no problem type {slug!r}")
        return Problem(type=kind.uri, title=kind.title, status=kind.status)

    # --- who am I -----------------------------------------------------------------------------
    @router.get("/v1/me", tags=["users"], response_model=Me, responses=_errors(401))
    async def me(user: UserDep) -> Me:
        """The user the token belongs to."""
        return Me(user_id=user.user_id, name=user.name, role=user.role.value)

    @router.get("/v1/dealers", tags=["users"], response_model=list[DealerInfo], responses=_errors(401))
    async def dealers(user: UserDep, gateway: GatewayDep) -> list[DealerInfo]:
        """The dealers an RFQ may ask."""
        return [
            DealerInfo(user_id=d.user_id, name=d.name, default=d.default_dealer)
            for d in gateway.directory.users(Role.DEALER)
        ]

    @router.get("/v1/users", tags=["users"], response_model=list[UserInfo], responses=_errors(401, 403))
    async def users(user: OperatorDep, gateway: GatewayDep) -> list[UserInfo]:
        """Every user of this gateway's directory, by id (operators). Tokens are never listed: the
        directory keeps only their hashes; ``rfq gateway users add`` and ``token`` issue them."""
        return [
            UserInfo(user_id=u.user_id, name=u.name, role=u.role.value, default_dealer=u.default_dealer)
            for u in gateway.directory.users()
        ]

    @router.post(
        "/v1/users",
        tags=["users"],
        status_code=201,
        response_model=UserInfo,
        responses=_errors(400, 401, 403, 409, 422),
    )
    async def add_user(body: NewUser, user: OperatorDep, gateway: GatewayDep) -> UserInfo:
        """Add a user to this gateway's directory (operators); then issue its token with
        ``POST /v1/users/{user_id}/tokens``. Not a cluster command: the cluster knows users only by the
        ids that gateways send, so a user is known to the gateways sharing this directory."""
        directory = gateway.directory
        taken = directory.user_by_name(body.name) or (
            directory.user(body.user_id) if body.user_id is not None else None
        )
        if taken is not None:
            raise ProblemError(USER_EXISTS, f"user {taken.user_id} is {taken.name!r} ({taken.role.value})")
        try:
            added = directory.add_user(body.name, body.role, body.user_id, body.default_dealer)
        except DirectoryError as error:  # another process took the name or id meanwhile
            raise ProblemError(USER_EXISTS, str(error)) from error
        return UserInfo(
            user_id=added.user_id, name=added.name, role=added.role.value, default_dealer=added.default_dealer
        )

    @router.post(
        "/v1/users/{user_id}/tokens",
        tags=["users"],
        status_code=201,
        response_model=IssuedToken,
        responses=_errors(400, 401, 403, 404, 422),
    )
    async def issue_token(
        user_id: Annotated[int, PathParam(ge=1, le=INT32_MAX)],
        user: OperatorDep,
        gateway: GatewayDep,
        body: NewToken | None = None,
    ) -> IssuedToken:
        """Issue an API token for a user (operators): this answer is the only time it is shown."""
        holder = gateway.directory.user(user_id)
        if holder is None:
            raise ProblemError(NOT_FOUND, f"no user {user_id}")
        label = body.label if body is not None else ""
        token = gateway.directory.issue_token(user_id, label)
        return IssuedToken(user_id=user_id, name=holder.name, label=label, token=token)

    @router.delete(
        "/v1/users/{user_id}/tokens",
        tags=["users"],
        response_model=RevokedTokens,
        responses=_errors(401, 403, 404, 422),
    )
    async def revoke_tokens(
        user_id: Annotated[int, PathParam(ge=1, le=INT32_MAX)], user: OperatorDep, gateway: GatewayDep
    ) -> RevokedTokens:
        """Revoke every API token of a user (operators): a leaked token cannot be named, since only
        hashes are kept, so all go; issue a new one with ``POST /v1/users/{user_id}/tokens``. This
        gateway refuses them at once; others sharing the directory file within 0.25 s. Revoking an
        operator's own tokens is allowed (the request that does it still completes)."""
        holder = gateway.directory.user(user_id)
        if holder is None:
            raise ProblemError(NOT_FOUND, f"no user {user_id}")
        revoked = gateway.directory.revoke_tokens(user_id)
        return RevokedTokens(user_id=user_id, name=holder.name, revoked=revoked)

    # --- instruments --------------------------------------------------------------------------
    @router.get(
        "/v1/instruments",
        tags=["instruments"],
        response_model=list[InstrumentView],
        responses=_errors(401),
    )
    async def instruments(user: UserDep, gateway: GatewayDep) -> list[InstrumentView]:
        """Every instrument, as the cluster last said."""
        return gateway.core.personaliser.instruments()

    @router.get(
        "/v1/instruments/{instrument_id}",
        tags=["instruments"],
        response_model=InstrumentView,
        responses=_READ_ERRORS,
    )
    async def instrument(instrument_id: InstrumentId, user: UserDep, gateway: GatewayDep) -> InstrumentView:
        known = gateway.core.mirror.instruments.get(instrument_id)
        if known is None:
            raise ProblemError(NOT_FOUND, f"no instrument {instrument_id}")
        return gateway.core.personaliser.instrument(known)

    @router.post(
        "/v1/instruments",
        tags=["instruments"],
        status_code=201,
        response_model=InstrumentView,
        responses={k: v for k, v in _ERRORS.items() if k != 404},
    )
    async def add_instrument(
        body: NewInstrument,
        user: OperatorDep,
        gateway: GatewayDep,
        request: Request,
        key: IdempotencyKey = None,
    ) -> Response:
        """Add an instrument (operators). The cluster assigns its id."""
        if body.description:
            gateway.core.describe(body.cusip, body.description)

        def build(correlation_id: int) -> AddInstrument:
            return AddInstrument(
                correlation_id=correlation_id,
                user_id=user.user_id,
                min_quantity=body.min_quantity,
                enabled=BooleanType.TRUE if body.enabled else BooleanType.FALSE,
                cusip=body.cusip,
            )

        def render(outcome: Any) -> tuple[int, BaseModel, dict[str, str]]:
            added: InstrumentAdded = _expect(outcome, InstrumentAdded)
            view = InstrumentView(
                instrument_id=added.instrument_id,
                cusip=added.cusip,
                min_quantity=added.min_quantity,
                enabled=added.enabled is BooleanType.TRUE,
                description=gateway.core.descriptions().get(added.cusip, ""),
            )
            return _created(f"/v1/instruments/{added.instrument_id}", view)

        return await gateway.runner.run(
            user, request.url.path, key, body.model_dump(mode="json"), build, render
        )

    async def _enable(
        instrument_id: int, enabled: bool, user: User, gateway: Gateway, request: Request, key: str | None
    ) -> Response:
        def build(correlation_id: int) -> EnableInstrument:
            return EnableInstrument(
                correlation_id=correlation_id,
                user_id=user.user_id,
                instrument_id=instrument_id,
                enabled=BooleanType.TRUE if enabled else BooleanType.FALSE,
            )

        def render(outcome: Any) -> tuple[int, BaseModel, dict[str, str]]:
            changed: InstrumentEnabled = _expect(outcome, InstrumentEnabled)
            known = gateway.core.mirror.instruments[changed.instrument_id]
            return 200, gateway.core.personaliser.instrument(known), {}

        return await gateway.runner.run(user, request.url.path, key, {}, build, render)

    @router.post(
        "/v1/instruments/{instrument_id}/enable",
        tags=["instruments"],
        response_model=InstrumentView,
        responses=_ERRORS,
    )
    async def enable_instrument(
        instrument_id: InstrumentId,
        user: OperatorDep,
        gateway: GatewayDep,
        request: Request,
        key: IdempotencyKey = None,
    ) -> Response:
        """Enable an instrument (operators)."""
        return await _enable(instrument_id, True, user, gateway, request, key)

    @router.post(
        "/v1/instruments/{instrument_id}/disable",
        tags=["instruments"],
        response_model=InstrumentView,
        responses=_ERRORS,
    )
    async def disable_instrument(
        instrument_id: InstrumentId,
        user: OperatorDep,
        gateway: GatewayDep,
        request: Request,
        key: IdempotencyKey = None,
    ) -> Response:
        """Disable an instrument (operators): its active RFQs are cancelled."""
        return await _enable(instrument_id, False, user, gateway, request, key)

    # --- RFQs ---------------------------------------------------------------------------------
    @router.get(
        "/v1/rfqs",
        tags=["rfqs"],
        response_model=list[RfqView],
        responses=_errors(401, 422),
    )
    async def my_rfqs(
        user: UserDep,
        gateway: GatewayDep,
        status: Annotated[Literal["live", "all"], Query(description="live: active only")] = "all",
    ) -> list[Any]:
        """The RFQs you asked for or were invited to (those this gateway knows), as you see them.
        Operators get every RFQ, without prices but the trade's (``OperatorRfqView``)."""
        personaliser = gateway.core.personaliser
        if user.role is Role.OPERATOR:
            return personaliser.operator_views(include_ended=status == "all")
        return personaliser.rfq_views(user.user_id, include_ended=status == "all")

    @router.get("/v1/rfqs/{rfq_id}", tags=["rfqs"], response_model=RfqView, responses=_READ_ERRORS)
    async def get_rfq(rfq_id: RfqId, user: UserDep, gateway: GatewayDep) -> Any:
        """One RFQ as you see it (404 unless you are its requester, an invited dealer or an operator)."""
        rfq = gateway.core.mirror.rfq(rfq_id)
        personaliser = gateway.core.personaliser
        if rfq is not None and user.role is Role.OPERATOR:
            return personaliser.operator_view(rfq)
        view = None if rfq is None else personaliser.rfq_view(rfq, user.user_id)
        if view is None:
            raise ProblemError(NOT_FOUND, f"no RFQ {rfq_id} of yours")
        return view

    @router.post(
        "/v1/rfqs", tags=["rfqs"], status_code=201, response_model=RequesterRfqView, responses=_ERRORS
    )
    async def create_rfq(
        body: NewRfq, user: TraderDep, gateway: GatewayDep, request: Request, key: IdempotencyKey = None
    ) -> Response:
        """Ask dealers for a price (traders)."""
        core = gateway.core
        instrument_id = body.instrument_id
        if body.cusip is not None:
            instrument_id = core.mirror.by_cusip.get(body.cusip)
            if instrument_id is None and not core.status.synced:
                # a gateway that has just (re)started does not know the instruments yet: not the
                # client's mistake, and a retry with the same Idempotency-Key will do
                detail = "the gateway is still loading the cluster's state"
                raise ProblemError(CLUSTER_UNAVAILABLE, detail, headers={"Retry-After": "1"})
            if instrument_id is None:
                raise ProblemError(VALIDATION, f"no instrument with CUSIP {body.cusip}")
        assert instrument_id is not None
        if body.dealers is None:
            dealer_ids = [d.user_id for d in gateway.directory.default_dealers()]
        else:
            known = gateway.directory.users_by_names(body.dealers)
            dealer_ids = []
            for name in body.dealers:
                dealer = known.get(name)
                if dealer is None or dealer.role is not Role.DEALER:
                    raise ProblemError(VALIDATION, f"{name!r} is not a dealer")
                dealer_ids.append(dealer.user_id)
        if body.deadline is not None:
            expire_ms = millis(body.deadline)
        else:
            assert body.ttl_seconds is not None
            expire_ms = int(time.time() * 1000) + body.ttl_seconds * 1000
        if not 0 < expire_ms <= INT64_MAX:
            raise ProblemError(VALIDATION, "the deadline is out of range")

        def build(correlation_id: int) -> CreateRfq:
            return CreateRfq(
                correlation_id=correlation_id,
                user_id=user.user_id,
                instrument_id=instrument_id,
                side=Side.BUY if body.side == "buy" else Side.SELL,
                quantity=body.quantity,
                expire_time_ms=expire_ms,
                cl_ord_id=body.client_order_id,
                dealers=[CreateRfqDealers(dealer_user_id=d) for d in dealer_ids],
            )

        def render(outcome: Any) -> tuple[int, BaseModel, dict[str, str]]:
            created: RfqCreated = _expect(outcome, RfqCreated)
            return _created(f"/v1/rfqs/{created.rfq_id}", core.personaliser.created(created))

        return await gateway.runner.run(
            user, request.url.path, key, body.model_dump(mode="json"), build, render
        )

    def _event_render(
        kind: type, status: int, user: User, gateway: Gateway
    ) -> Callable[[Any], tuple[int, BaseModel, dict[str, str]]]:
        def render(outcome: Any) -> tuple[int, BaseModel, dict[str, str]]:
            view = gateway.core.personaliser.event(_expect(outcome, kind), user.user_id)
            assert view is not None
            return status, view, {}

        return render

    @router.post(
        "/v1/rfqs/{rfq_id}/quotes",
        tags=["dealers"],
        status_code=201,
        response_model=QuoteSubmittedEvent,
        responses=_ERRORS,
    )
    async def quote(
        rfq_id: RfqId,
        body: NewQuote,
        user: DealerDep,
        gateway: GatewayDep,
        request: Request,
        key: IdempotencyKey = None,
    ) -> Response:
        """Quote a firm price, or quote again (the new quote replaces your live one)."""
        price = parse_price(body.price)
        valid_until = None if body.valid_until is None else millis(body.valid_until)
        if valid_until is not None and not 0 < valid_until <= INT64_MAX:
            raise ProblemError(VALIDATION, "valid_until is out of range")

        def build(correlation_id: int) -> SubmitQuote:
            return SubmitQuote(
                correlation_id=correlation_id,
                user_id=user.user_id,
                rfq_id=rfq_id,
                price=price,
                valid_until_ms=valid_until,
            )

        render = _event_render(QuoteSubmitted, 201, user, gateway)
        return await gateway.runner.run(
            user, request.url.path, key, body.model_dump(mode="json"), build, render
        )

    @router.post(
        "/v1/rfqs/{rfq_id}/quote/withdraw",
        tags=["dealers"],
        response_model=QuoteWithdrawnEvent,
        responses=_ERRORS,
    )
    async def withdraw(
        rfq_id: RfqId, user: DealerDep, gateway: GatewayDep, request: Request, key: IdempotencyKey = None
    ) -> Response:
        """Withdraw your live quote."""

        def build(correlation_id: int) -> WithdrawQuote:
            return WithdrawQuote(correlation_id=correlation_id, user_id=user.user_id, rfq_id=rfq_id)

        return await gateway.runner.run(
            user, request.url.path, key, {}, build, _event_render(QuoteWithdrawn, 200, user, gateway)
        )

    @router.post(
        "/v1/rfqs/{rfq_id}/pass", tags=["dealers"], response_model=DealerPassedEvent, responses=_ERRORS
    )
    async def pass_rfq(
        rfq_id: RfqId, user: DealerDep, gateway: GatewayDep, request: Request, key: IdempotencyKey = None
    ) -> Response:
        """Decline to quote (final for you in this RFQ)."""

        def build(correlation_id: int) -> PassRfq:
            return PassRfq(correlation_id=correlation_id, user_id=user.user_id, rfq_id=rfq_id)

        return await gateway.runner.run(
            user, request.url.path, key, {}, build, _event_render(DealerPassed, 200, user, gateway)
        )

    @router.post(
        "/v1/rfqs/{rfq_id}/quotes/{quote_id}/counter",
        tags=["requesters"],
        status_code=201,
        response_model=QuoteCounteredEvent,
        responses=_ERRORS,
    )
    async def counter(
        rfq_id: RfqId,
        quote_id: QuoteId,
        body: NewCounter,
        user: TraderDep,
        gateway: GatewayDep,
        request: Request,
        key: IdempotencyKey = None,
    ) -> Response:
        """Answer one dealer's live quote with your price (to that dealer only)."""
        price = parse_price(body.price)

        def build(correlation_id: int) -> CounterQuote:
            return CounterQuote(
                correlation_id=correlation_id,
                user_id=user.user_id,
                rfq_id=rfq_id,
                quote_id=quote_id,
                price=price,
            )

        render = _event_render(QuoteCountered, 201, user, gateway)
        return await gateway.runner.run(
            user, request.url.path, key, body.model_dump(mode="json"), build, render
        )

    @router.post(
        "/v1/rfqs/{rfq_id}/quotes/{quote_id}/accept",
        tags=["requesters"],
        response_model=RfqTradedEvent,
        responses=_ERRORS,
    )
    async def accept_quote(
        rfq_id: RfqId,
        quote_id: QuoteId,
        user: TraderDep,
        gateway: GatewayDep,
        request: Request,
        key: IdempotencyKey = None,
    ) -> Response:
        """Hit a live quote: the trade."""

        def build(correlation_id: int) -> AcceptQuote:
            return AcceptQuote(
                correlation_id=correlation_id, user_id=user.user_id, rfq_id=rfq_id, quote_id=quote_id
            )

        return await gateway.runner.run(
            user, request.url.path, key, {}, build, _event_render(RfqTraded, 200, user, gateway)
        )

    @router.post(
        "/v1/rfqs/{rfq_id}/counters/{counter_id}/accept",
        tags=["dealers"],
        response_model=RfqTradedEvent,
        responses=_ERRORS,
    )
    async def accept_counter(
        rfq_id: RfqId,
        counter_id: QuoteId,
        user: DealerDep,
        gateway: GatewayDep,
        request: Request,
        key: IdempotencyKey = None,
    ) -> Response:
        """Accept the requester's live counter to your quote: the trade."""

        def build(correlation_id: int) -> AcceptCounter:
            return AcceptCounter(
                correlation_id=correlation_id, user_id=user.user_id, rfq_id=rfq_id, counter_id=counter_id
            )

        return await gateway.runner.run(
            user, request.url.path, key, {}, build, _event_render(RfqTraded, 200, user, gateway)
        )

    @router.post(
        "/v1/rfqs/{rfq_id}/cancel", tags=["requesters"], response_model=RfqEndedEvent, responses=_ERRORS
    )
    async def cancel(
        rfq_id: RfqId, user: TraderDep, gateway: GatewayDep, request: Request, key: IdempotencyKey = None
    ) -> Response:
        """Withdraw your RFQ."""

        def build(correlation_id: int) -> CancelRfq:
            return CancelRfq(correlation_id=correlation_id, user_id=user.user_id, rfq_id=rfq_id)

        return await gateway.runner.run(
            user, request.url.path, key, {}, build, _event_render(RfqEnded, 200, user, gateway)
        )

    # --- events -------------------------------------------------------------------------------
    @router.get(
        "/v1/events",
        tags=["events"],
        response_class=EventSourceResponse,
        responses={
            200: {
                "description": "Server-sent events: each `data` is one JSON event (see the `UserEvent` "
                "schemas); `id` resumes with `Last-Event-ID`. The stream opens with a `snapshot`.",
                "content": {"text/event-stream": {}},
            },
            **_errors(401, 422),
        },
    )
    async def events(
        user: UserDep,
        gateway: GatewayDep,
        last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=64)] = None,
        max_seconds: Annotated[
            float | None,
            Query(gt=0, le=86_400, description="Close the stream after this long (tests, polling)"),
        ] = None,
    ) -> EventSourceResponse:
        """Your events, personalised: a snapshot first (or the events you missed), then live events."""
        return EventSourceResponse(
            event_stream(gateway, user.user_id, last_event_id, max_seconds),
            ping=gateway.settings.heartbeat_s,
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )


async def event_stream(
    gateway: Gateway, user_id: int, last_event_id: str | None, max_seconds: float | None = None
) -> AsyncIterator[ServerSentEvent]:
    """The SSE stream of one user: resume after ``last_event_id`` or send a snapshot; never a gap.

    A snapshot is sent when the stream is new (no id), when the id is not this gateway life's or is
    older than what the log still holds, and when the gateway resynchronised with the cluster; its id
    is the log position it reflects, so resuming from it misses nothing either.
    """
    core, streams = gateway.core, gateway.core.streams
    cursor = streams.cursor(last_event_id)
    reason = "new_stream" if not last_event_id else "resume_gap"
    waiter = streams.subscribe(user_id)
    closing = asyncio.ensure_future(gateway.closing.wait())
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    try:
        if not core.synced.is_set():
            await core.synced.wait()
        while not gateway.closing.is_set():
            waiter.clear()
            if cursor is None:
                cursor = streams.seq
                snapshot: SnapshotEvent = core.personaliser.snapshot(user_id, reason)
                yield ServerSentEvent(
                    snapshot.model_dump_json(), event="snapshot", id=streams.event_id(cursor)
                )
            else:
                try:
                    entries = streams.read(user_id, cursor)
                except GapError as gap:
                    cursor, reason = None, gap.reason
                    continue
                for entry in entries:
                    yield ServerSentEvent(entry.data, event=entry.event, id=streams.event_id(entry.seq))
                    cursor = entry.seq
                if entries:
                    continue
            timeout = None if deadline is None else deadline - time.monotonic()
            if timeout is not None and timeout <= 0:
                return
            wake = asyncio.ensure_future(waiter.wait())
            try:  # a client that goes away cancels us here: the waiting task must not outlive us
                await asyncio.wait({wake, closing}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            finally:
                wake.cancel()
    finally:
        closing.cancel()
        streams.unsubscribe(user_id, waiter)


__all__ = ["UserEvent", "WebSettings", "create_app", "event_stream"]
