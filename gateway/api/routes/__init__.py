"""One router per resource; :func:`gateway.api.app.create_app` mounts them under ``/api/v1``."""
