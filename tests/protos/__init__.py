"""Tests for the generated gRPC contract in protos/."""
