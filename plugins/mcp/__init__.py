"""The MCP gateway: agents' tools governed like their models (see README, "MCP")."""
