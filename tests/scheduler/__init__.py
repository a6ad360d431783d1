"""Tests for the scheduler's persistence and security layer."""
