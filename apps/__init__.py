"""The bundled pipelines (stock predictor, weather forecaster, digit classifier).

They register through the `forge.pipelines` entry-point group like any plugin. They arrive with
the learner work.
"""
