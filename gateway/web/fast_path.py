"""A route that binds a well-formed request to its endpoint directly, and leaves the rest to FastAPI.

Why: the cluster commands (``POST /v1/rfqs`` and the like) are the gateway's hot path, and its event
loop is its bottleneck. FastAPI solves each request's dependencies afresh (sub-dependencies, cache
keys, OAuth scopes), parses the content type with the ``email`` package and wraps the body in its own
error handling: with the ASGI app called directly, a create took 2.1 ms of event-loop CPU with it
and 1.3 ms without (docs/gateway.md has the deployed figures). A command endpoint needs none of that
to receive what it asks for.

Contract of :class:`FastPathRoute` (FastAPI's documented extension point, ``route_class``):
- the declaration stays the one source of truth: OpenAPI, parameters, their validation and every
  error come from the FastAPI route as written;
- a route qualifies when its endpoint answers with a :class:`~starlette.responses.Response` (so there
  is no response model to serialise) and each of its parameters is a path, query or header parameter,
  one JSON body model, the ``Request``, or a dependency named in ``resolvers`` (which computes what
  that dependency would, from the request alone, raising what it would raise);
- for a qualifying route, a request whose every parameter is present and valid (each parameter's
  own FastAPI field validates it, as in FastAPI's handler) gets exactly the arguments FastAPI would
  pass; any other request (no or an unusual content type, an empty or malformed body, a parameter
  that fails validation, dependency overrides in place) is handed to FastAPI's own handler, which
  answers it as it always would, with the same ``Request`` (its body already read). A request is
  never half handled: before the endpoint is called, the fast path has only read the body and run
  the resolvers, which a deferred request runs again.
"""

from __future__ import annotations

import inspect
import json
import typing
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import params
from fastapi._compat import ModelField
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

Resolver = Callable[[Request], Awaitable[Any]]
"""Computes one dependency's value from the request (or raises the error the dependency raises)."""
Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class FastPathRoute(APIRoute):
    """An :class:`APIRoute` with a direct path for well-formed requests (module docstring).

    Subclass it with :func:`fast_path_route` to name the dependencies it may resolve itself."""

    resolvers: Mapping[Callable[..., Any], Resolver] = {}

    def get_route_handler(self) -> Handler:
        standard = super().get_route_handler()
        binder = _Binder.of(self)
        if binder is None:
            return standard
        endpoint: Callable[..., Awaitable[Response]] = self.endpoint

        async def handler(request: Request) -> Response:
            arguments = await binder.bind(request)
            if arguments is None:
                return await standard(request)
            return await endpoint(**arguments)

        return handler

    @property
    def fast(self) -> bool:
        """Whether this route has the direct path (its endpoint and parameters qualify)."""
        return _Binder.of(self) is not None


def fast_path_route(resolvers: Mapping[Callable[..., Any], Resolver]) -> type[FastPathRoute]:
    """A :class:`FastPathRoute` class that resolves the dependencies in ``resolvers`` itself."""
    return type("FastPathRoute", (FastPathRoute,), {"resolvers": dict(resolvers)})


class _Binder:
    """The arguments of one route's endpoint, from a request, or None to defer to FastAPI."""

    def __init__(
        self,
        route: FastPathRoute,
        resolvers: dict[str, Resolver],
        bound: list[_Param],
        body: ModelField | None,
    ) -> None:
        self._overrides = route.dependency_overrides_provider
        self._resolvers = resolvers
        self._params = bound
        self._body = body
        self._request_name = route.dependant.request_param_name

    @classmethod
    def of(cls, route: FastPathRoute) -> _Binder | None:
        dependant = route.dependant
        if not _answers_with_response(route.endpoint):
            return None
        unsupported = (
            dependant.cookie_params,
            dependant.http_connection_param_name,
            dependant.websocket_param_name,
            dependant.background_tasks_param_name,
            dependant.response_param_name,
            dependant.security_scopes_param_name,
        )
        if any(unsupported) or len(dependant.body_params) > 1:
            return None
        if dependant.body_params and (
            route._embed_body_fields
            or not isinstance(dependant.body_params[0].field_info, params.Body)
            or isinstance(dependant.body_params[0].field_info, params.Form)
        ):
            return None
        resolvers: dict[str, Resolver] = {}
        for sub in dependant.dependencies:
            resolver = route.resolvers.get(sub.call) if sub.call is not None else None
            if resolver is None or sub.name is None:
                return None
            resolvers[sub.name] = resolver
        bound = [
            _Param.of(field, source)
            for fields, source in (
                (dependant.path_params, "path"),
                (dependant.query_params, "query"),
                (dependant.header_params, "header"),
            )
            for field in fields
        ]
        if None in bound:
            return None
        body = dependant.body_params[0] if dependant.body_params else None
        return cls(route, resolvers, [param for param in bound if param is not None], body)

    async def bind(self, request: Request) -> dict[str, Any] | None:
        if self._overrides is not None and getattr(self._overrides, "dependency_overrides", None):
            return None
        # FastAPI's order, which decides which error a request gets: the body is read first, then
        # the dependencies run (401, 403), then the parameters and the body are validated (422)
        body: Any = None
        if self._body is not None:
            body = await _json_body(request)
            if body is None:
                return None
        values: dict[str, Any] = {}
        for name, resolve in self._resolvers.items():
            values[name] = await resolve(request)
        for param in self._params:
            found = param.bind(request)
            if found is _INVALID:
                return None
            values[param.name] = found
        if self._body is not None:
            value, errors = self._body.validate(body, {}, loc=("body",))
            if errors:
                return None
            values[self._body.name] = value
        if self._request_name:
            values[self._request_name] = request
        return values


_INVALID = object()
"""A parameter that is missing or fails validation: FastAPI's handler answers the request."""


@dataclass(frozen=True)
class _Param:
    """One scalar path, query or header parameter, validated as FastAPI validates it."""

    field: ModelField
    source: str
    key: str

    @property
    def name(self) -> str:
        return self.field.name

    @classmethod
    def of(cls, field: ModelField, source: str) -> _Param | None:
        info = field.field_info
        if not isinstance(info.validation_alias, str | None) or _is_sequence(info.annotation):
            return None  # AliasChoices, AliasPath, lists: FastAPI's handler binds them
        if not info.is_required() and not isinstance(field.default, str | int | float | bool | None):
            return None  # a mutable default FastAPI would copy
        key = info.validation_alias or field.alias
        if source == "header" and key == field.name:
            return None  # a header named after its parameter: FastAPI converts the name; left to it
        return cls(field, source, key)

    def bind(self, request: Request) -> Any:
        received: Mapping[str, Any]
        if self.source == "path":
            received = request.path_params
        elif self.source == "header":
            received = request.headers
        else:
            received = request.query_params
        value = received.get(self.key)
        if value is None:
            if self.field.field_info.is_required():
                return _INVALID
            if not self.field.field_info.validate_default:
                return self.field.default
            value = self.field.default
        checked, errors = self.field.validate(value, {}, loc=(self.source, self.key))
        return _INVALID if errors else checked


def _is_sequence(annotation: Any) -> bool:
    return any(
        isinstance(kind, type) and issubclass(kind, list | tuple | set | frozenset)
        for kind in (typing.get_origin(annotation), *map(typing.get_origin, typing.get_args(annotation)))
    )


async def _json_body(request: Request) -> Any:
    """The request's JSON body, or None when it has no JSON content type, is empty or is not JSON
    (FastAPI's handler then answers it, as it would have)."""
    content_type = request.headers.get("content-type", "")
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type != "application/json" and not (
        media_type.startswith("application/") and media_type.endswith("+json")
    ):
        return None
    raw = await request.body()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _answers_with_response(endpoint: Callable[..., Any]) -> bool:
    if not inspect.iscoroutinefunction(endpoint):
        return False
    try:
        answer = typing.get_type_hints(endpoint).get("return")
    except (NameError, TypeError):
        return False
    return isinstance(answer, type) and issubclass(answer, Response)
