"""The collector: an ASGI app over the services. Build it with :func:`create_app`."""
