"""The market data feed as an ECS Fargate task (one small container)."""
