"""The scheduler's database: typed models (`models`) and engines and sessions for SQLite and
Postgres (`engine`). Migrations live in `scheduler.migrations`, the rules in `scheduler.store`."""
