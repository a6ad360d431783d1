"""The gateway: stateless aiohttp HTTP and WebSocket front for the scheduler and the web app.

It arrives with the services work.
"""
