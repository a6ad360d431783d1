"""The learner: training loop with callbacks, data loading, metrics, pipelines and plugins.

Built on forge_core; knows nothing of gRPC, NATS or SQL. It arrives with the learner work.
"""
