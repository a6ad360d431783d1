"""The `forge` command line: one entry point for every AzuraForge tool."""
