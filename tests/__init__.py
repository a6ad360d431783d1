"""Tests for AzuraForge; each folder mirrors the package it tests."""
