"""The scheduler: gRPC `SchedulerService` and `AuthService`, owner of the experiment database.

Run it with `forge scheduler` (or `forge up`); build it in code with
`scheduler.server.create_server(settings)`. The modules, one concept each:

| module | what it is |
|---|---|
| `settings`, `secrets` | `FORGE_*` settings; the JWT secret and cluster token made up once |
| `db`, `migrations`, `store`, `records` | the database, its schema, every read and write |
| `auth`, `throttle` | passwords, access tokens, login throttling, the cluster token |
| `caller`, `interceptors`, `errors` | who calls, checked before every RPC; errors as statuses |
| `registrations`, `pipelines` | what trainers register with; the pipelines they announced |
| `submissions`, `schemas` | submissions checked against the announced JSON Schemas (no engine) |
| `bus`, `recorder`, `watch` | NATS subjects; store-then-publish; gap-free watching |
| `placement` | claiming pending experiments, following each Train stream, cancel |
| `service`, `auth_service`, `server` | the thin servicers and the server that wires them |
"""
