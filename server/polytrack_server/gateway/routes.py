"""The REST route table, derived from the `google.api.http` bindings of the bound RPCs.

One endpoint per binding. Paths without variables (all of MLflow's tracking API) are found with
one dict lookup; templated paths are tried in declaration order after that. Bindings must follow
MLflow's dialect, checked at start-up: GET takes no body (fields come from the query string),
every other method takes the whole request as its JSON body (`body: "*"`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from polytrack_server.gateway.codec import FieldSetter, JsonCodecs, MessageCodec
from polytrack_server.gateway.http_rule import PathTemplate, TemplateSyntaxError
from polytrack_server.rpc import HttpBinding, RpcMethod


class RouteConfigurationError(ValueError):
    """The HTTP bindings of the RPCs cannot be served as REST routes."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One HTTP method on one path template, calling one RPC."""

    rpc: RpcMethod
    http_method: str
    template: PathTemplate
    request_codec: MessageCodec
    response_codec: MessageCodec
    # (field path, setter) for each variable of the template.
    path_fields: tuple[tuple[str, FieldSetter], ...]

    @property
    def reads_query_string(self) -> bool:
        return self.http_method == "GET"


@dataclass(frozen=True, slots=True)
class RouteMatch:
    """The endpoint found for a request with its path variables, or (endpoint None) the allowed methods."""

    endpoint: Endpoint | None
    variables: dict[str, str]
    allowed_methods: tuple[str, ...]


class RouteTable:
    """Finds the endpoints serving a request path."""

    def __init__(self, endpoints: Iterable[Endpoint]) -> None:
        self._literal: dict[str, dict[str, Endpoint]] = {}
        self._templated: dict[str, tuple[PathTemplate, dict[str, Endpoint]]] = {}
        for endpoint in endpoints:
            template = endpoint.template
            if template.is_literal:
                by_method = self._literal.setdefault(str(template), {})
            else:
                by_method = self._templated.setdefault(str(template), (template, {}))[1]
            clash = by_method.get(endpoint.http_method)
            if clash is not None:
                raise RouteConfigurationError(
                    f"{endpoint.http_method} {template} is bound by both {clash.rpc.full_name} "
                    f"and {endpoint.rpc.full_name}"
                )
            by_method[endpoint.http_method] = endpoint

    def lookup(self, path: str, method: str) -> RouteMatch | None:
        """The endpoint serving `method` on `path`, or the methods `path` allows; None for unknown paths.

        Several templates may match one path (`/v1/{name=**}` and `/v1/{name}:publish`): the first,
        in declaration order, with an endpoint for `method` wins.
        """
        allowed: set[str] = set()
        by_method = self._literal.get(path)
        if by_method is not None:
            endpoint = by_method.get(method)
            if endpoint is not None:
                return RouteMatch(endpoint, {}, ())
            allowed.update(by_method)
        for template, by_method in self._templated.values():
            variables = template.match(path)
            if variables is None:
                continue
            endpoint = by_method.get(method)
            if endpoint is not None:
                return RouteMatch(endpoint, variables, ())
            allowed.update(by_method)
        return RouteMatch(None, {}, tuple(sorted(allowed))) if allowed else None

    def endpoints(self) -> list[Endpoint]:
        groups = [*self._literal.values(), *(group for _, group in self._templated.values())]
        return [endpoint for group in groups for endpoint in group.values()]


def build_route_table(methods: Iterable[RpcMethod], codecs: JsonCodecs) -> RouteTable:
    """Routes for every binding of every unary RPC in `methods`.

    Streaming RPCs are left out: their REST forms (such as raw artifact uploads) are not JSON
    transcodings and are served by routes of their own.
    """
    endpoints = []
    for rpc in methods:
        if not rpc.is_unary:
            continue
        request_codec = codecs.codec(rpc.request_class)
        response_codec = codecs.codec(rpc.response_class)
        for binding in rpc.http_bindings:
            template = _parse_template(rpc, binding)
            _check_body_rule(rpc, binding)
            try:
                path_fields = tuple(
                    (v.field_path, request_codec.field_setter(v.field_path)) for v in template.variables
                )
            except ValueError as error:
                raise RouteConfigurationError(f"{rpc.full_name}: {binding.path}: {error}") from None
            endpoints.append(
                Endpoint(rpc, binding.method, template, request_codec, response_codec, path_fields)
            )
    return RouteTable(endpoints)


def _parse_template(rpc: RpcMethod, binding: HttpBinding) -> PathTemplate:
    try:
        return PathTemplate.parse(binding.path)
    except TemplateSyntaxError as error:
        raise RouteConfigurationError(f"{rpc.full_name}: {error}") from None


def _check_body_rule(rpc: RpcMethod, binding: HttpBinding) -> None:
    if binding.method == "GET" and binding.body:
        raise RouteConfigurationError(f"{rpc.full_name}: GET {binding.path} must not declare a body")
    if binding.method != "GET" and binding.body != "*":
        raise RouteConfigurationError(
            f'{rpc.full_name}: {binding.method} {binding.path} must declare body: "*" '
            f"(got {binding.body!r}); the gateway reads the whole request from the JSON body"
        )
