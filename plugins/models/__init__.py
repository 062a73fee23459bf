"""Model lists clients can call: endpoint names, and on wildcard endpoints the providers' own models."""
