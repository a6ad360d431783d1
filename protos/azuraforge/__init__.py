"""The gRPC contract between AzuraForge services, generated from protos/azuraforge/."""
