"""`myhealth mcp`: a read-only Model Context Protocol server for AI assistants (docs/mcp.md)."""
