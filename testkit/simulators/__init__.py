"""Simulators of systems Gelombang does not own (the civil registry, an SMS gateway) and a local
SMTP sink. Client code talks to them over the same protocols it uses in production."""
