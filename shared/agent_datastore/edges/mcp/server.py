"""The MCP server (the SDK's low-level `Server`): tools, namespace resources, tool errors.

The low-level server because the schemas are ours, exactly as the request
and response models generate them, and so are the results: structured
content that is the operation's 200 body, or a tool error (`is_error`)
carrying the contract's error object. Nothing here knows the transport; a
`Credential` says which token the current request acts with.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import mcp.types as types
from mcp import MCPError
from mcp.server import Server, ServerRequestContext

from agent_datastore import __version__
from agent_datastore.core import errors
from agent_datastore.edges.mcp import tools
from agent_datastore.edges.mcp.backends import Backend
from agent_datastore_sdk import DataStoreError as SdkError

logger = logging.getLogger("agent_datastore.mcp")

Credential = Callable[[ServerRequestContext[Any]], str | None]
Failure = (errors.DataStoreError, SdkError)


def _tool(spec: tools.ToolSpec) -> types.Tool:
    annotations = types.ToolAnnotations(
        read_only_hint=not spec.writes,
        destructive_hint=spec.name in ("clear", "delete", "set", "set_many"),
        idempotent_hint=spec.name not in ("increment",),
        open_world_hint=False,
    )
    return types.Tool(
        name=spec.name,
        description=spec.description,
        input_schema=spec.input_schema,
        output_schema=spec.output_schema,
        annotations=annotations,
    )


def build_server(backend: Backend, credential: Credential) -> Server[Any]:
    listed = [_tool(spec) for spec in tools.tool_specs()]

    async def list_tools(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None) -> Any:
        return types.ListToolsResult(tools=listed)

    async def call_tool(ctx: ServerRequestContext[Any], params: types.CallToolRequestParams) -> Any:
        try:
            transport = backend.transport(credential(ctx))
            body = await tools.call_tool(transport, params.name, params.arguments)
        except Failure as exc:
            failed = tools.error_body(exc)
            logger.info("tool %s failed: %s", params.name, exc.code)
            return types.CallToolResult(
                content=[types.TextContent(text=tools.as_text(failed))],
                structured_content=failed,
                is_error=True,
            )
        return types.CallToolResult(content=[types.TextContent(text=tools.as_text(body))], structured_content=body)

    async def list_resources(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None) -> Any:
        transport = _transport(backend, credential, ctx)
        answer = await _protocol(transport.call(tools.make_call("list_namespaces", {})))
        return types.ListResourcesResult(
            resources=[
                types.Resource(
                    uri=tools.namespace_uri(name),
                    name=name,
                    description=f"the keys of namespace {name!r} (JSON: keys, next_cursor)",
                    mime_type="application/json",
                )
                for name in answer["namespaces"]
            ]
        )

    async def list_templates(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None) -> Any:
        template = types.ResourceTemplate(
            uri_template=tools.RESOURCE_TEMPLATE,
            name="namespace",
            description="the keys of one namespace (percent-encoded in the URI)",
            mime_type="application/json",
        )
        return types.ListResourceTemplatesResult(resource_templates=[template])

    async def read_resource(ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams) -> Any:
        transport = _transport(backend, credential, ctx)
        try:
            namespace = tools.namespace_of(str(params.uri))
        except errors.DataStoreError as exc:
            raise MCPError(types.INVALID_PARAMS, exc.message, tools.error_body(exc)) from None
        listing = await _protocol(tools.namespace_listing(transport, namespace))
        text = tools.as_text(listing)
        return types.ReadResourceResult(
            contents=[types.TextResourceContents(uri=params.uri, mime_type="application/json", text=text)]
        )

    return Server(
        "agent-datastore",
        version=__version__,
        instructions=tools.INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
    )


def _transport(backend: Backend, credential: Credential, ctx: ServerRequestContext[Any]) -> Any:
    try:
        return backend.transport(credential(ctx))
    except Failure as exc:
        raise MCPError(types.INVALID_REQUEST, exc.message, tools.error_body(exc)) from None


async def _protocol(awaitable: Any) -> Any:
    """Resources have no tool errors: a failure is a protocol error carrying the contract's error object."""
    try:
        return await awaitable
    except Failure as exc:
        raise MCPError(types.INVALID_REQUEST, exc.message, tools.error_body(exc)) from None


async def run_stdio(backend: Backend, token: str | None) -> None:
    """Serve one MCP client on stdin/stdout, every tool acting with `token` (stdio has no headers)."""
    from mcp.server.stdio import stdio_server

    server = build_server(backend, lambda ctx: token)
    try:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())
    finally:
        await backend.aclose()
