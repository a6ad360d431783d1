"""The gateway's routes, one module per concept; each module's `routes` table is added by the app.

Handlers stay thin: read the request, make the scheduler call with the caller's credentials,
answer with the message as JSON. Errors are raised (`gateway.errors.ApiError`, or the gRPC error
itself) and become JSON answers in one middleware (`gateway.app`).
"""

API = "/api/v1"
