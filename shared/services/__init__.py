"""Use cases: read state, let the domain decide, write the decision. Ports are injected."""
