"""Example strategies shipped with QuantTerminal, written against the public API only; name one
as a module spec (``--strategy quantterminal.examples.trend_with_exits:TrendWithExits``)."""
