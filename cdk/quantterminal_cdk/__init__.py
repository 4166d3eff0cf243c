"""The QuantTerminal CDK app: a stateful stack (data that must outlive any deployment) and a
pipeline stack (compute that can be replaced at will), built from constructs per concern."""
