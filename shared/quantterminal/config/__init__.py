"""The user's configuration: one TOML file declaring strategy instances, orders, risk, broker and
data, validated (``model``), with strategies named by spec (``strategies``) and loaded for every
environment (``load``)."""
