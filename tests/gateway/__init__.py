"""Tests of the gateway, against a real gateway on a loopback port (and the real stack)."""
