"""Domain types: events, schema and API results, shared by the SDK and the server.

Only frozen value types live here. They import nothing of ours but ``errors``.
"""
