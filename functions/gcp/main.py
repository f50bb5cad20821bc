"""Google Cloud targets, one per operation: `functions-framework --target=get`.

All of them come from the one GCP adapter in `agent_datastore.edges.gcp`; `route`
serves every operation by path (`POST /v1/<operation>`) for local use.
"""

from agent_datastore.edges.gcp import gcp_handler

get = gcp_handler("get")
set = gcp_handler("set")  # the target is named after the operation
delete = gcp_handler("delete")
list_keys = gcp_handler("list_keys")
list_namespaces = gcp_handler("list_namespaces")
clear = gcp_handler("clear")
get_many = gcp_handler("get_many")
set_many = gcp_handler("set_many")
increment = gcp_handler("increment")
stats = gcp_handler("stats")
route = gcp_handler(None)
