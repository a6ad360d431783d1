"""Tests for the `forge` command line."""
