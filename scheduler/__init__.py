"""The scheduler: gRPC SchedulerService and AuthService, owner of the experiment database.

It arrives with the services work.
"""
