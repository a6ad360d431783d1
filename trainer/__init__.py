"""The trainer: gRPC TrainerService, which runs pipelines and streams their events back.

``server.create_server(settings)`` builds it; ``forge trainer`` runs it. Each experiment runs in
a child process (``job``), whose messages the parent turns into the Train stream (``runner``,
``events``, ``artifacts``); the servicer (``service``) guards its slots behind the cluster token
(``auth``), and the trainer keeps itself on the scheduler's list (``registration``).
"""
