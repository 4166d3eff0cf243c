"""Pre-trade risk: the rules, and the gate that runs them against stored risk state."""
