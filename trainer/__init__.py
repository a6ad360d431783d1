"""The trainer: gRPC TrainerService, which runs pipelines and streams their events back.

It arrives with the services work.
"""
