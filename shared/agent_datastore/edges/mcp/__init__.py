"""The MCP edge: `agent-datastore mcp`, a Model Context Protocol server over the data store.

`tools.py` (the tools, from the operation table) and `backends.py` (where the
data lives and who is asking) need no MCP SDK; only `server.py` and `http.py`
import `mcp`, and only the `mcp` command imports them, so the core, the
Lambda layer and `agent-datastore --help` never need the `mcp` extra.
"""
