"""The Oura API v2 compatible sandbox: a synthetic person (`generator`), switches and clock
(`state`), and the HTTP server (`server`: `create_app`, `command`, `running`).
See docs/sandbox.md."""
