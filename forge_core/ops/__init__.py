"""Differentiable ops, one small ``Function`` class each, grouped by kind."""
