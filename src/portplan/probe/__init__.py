"""Live verification: async probes with honest outcomes, and protocol identification."""
