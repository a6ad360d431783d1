"""The gateway: stateless aiohttp HTTP and WebSocket front for the scheduler and the web app.

`gateway.app.create_app` builds it; `forge gateway` runs it. It holds no database and no state
of its own: each request becomes scheduler RPCs made with the caller's token
(docs/architecture.md#components), so any number of gateways can run behind a load balancer.
docs/api.md describes the API.
"""
