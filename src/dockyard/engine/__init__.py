"""The engine: composes the runtime, images, volumes and networks into containers.

Durable state in SQLite, one shim per running container, restart and health policies.
Modules: model/store (records), containers (the service the API calls), ocispec (Docker
create options -> OCI config.json), volumes/mounts, archive/changes, exec/stats/top/health.
"""
