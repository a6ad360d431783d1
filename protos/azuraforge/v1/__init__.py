"""Version 1 of the AzuraForge gRPC contract, generated from the .proto files beside it."""
