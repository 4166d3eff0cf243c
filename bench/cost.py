"""Idle cost: what the deployed stacks cost a month with nobody looking, itemised from the
synthesized CloudFormation templates at public list prices (us-east-1), for the shipped defaults
and for the first version's choices (NAT gateway, a warm database, 7-day streams, Container
Insights, on-demand Fargate).

"Idle" is a month of the pipeline doing its job with no user: the feed streams a dozen symbols
through the extended session (04:00-20:00 New York, 21 trading days), the functions decide and
record, and nobody reads the API. What scales with use (requests, data out, bigger databases) is
not here. The prices are in one dated table below, each with where it comes from; Spot prices
move, so the Fargate Spot discount is an assumption (stated).

Prints a table, then one JSON line of the figures. Target: idle cost <= $80 a month.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "cdk"), str(ROOT / "shared")]

HOURS = 730.0  # a month
ACTIVE_HOURS = 16 * 21.0  # the extended session on a month's trading days: when the database is in use
TARGET = 80.0

# us-east-1 list prices, read 2026-12-07 from the services' pricing pages (aws.amazon.com/<service>/pricing)
PRICES = {
    "nat_gateway_hour": 0.045,  # VPC pricing, "NAT Gateway"
    "t4g_nano_hour": 0.0042,  # EC2 On-Demand, Linux, t4g.nano
    "public_ipv4_hour": 0.005,  # VPC pricing, "Public IPv4 Address" (a NAT's address, gateway or instance)
    "gp3_gb_month": 0.08,  # EBS pricing, gp3
    "aurora_acu_hour": 0.12,  # Aurora pricing, Serverless v2, Aurora Standard
    "aurora_gb_month": 0.10,  # Aurora Standard storage
    "kinesis_shard_hour": 0.015,  # Kinesis Data Streams, provisioned shard hour
    "kinesis_extended_shard_hour": 0.02,  # extended retention (past 24 h, up to 7 days)
    "valkey_gb_hour": 0.084,  # ElastiCache Serverless for Valkey, data stored (100 MB minimum)
    "fargate_vcpu_hour": 0.04048,  # Fargate, Linux/x86
    "fargate_gb_hour": 0.004445,
    "fargate_spot_discount": 0.70,  # assumption: Fargate Spot runs at ~30% of on-demand (it varies)
    "secret_month": 0.40,  # Secrets Manager, per secret
    "kms_key_month": 1.00,  # KMS, customer managed key
    "alarm_metric_month": 0.10,  # CloudWatch, standard-resolution alarm metric
    "dashboard_month": 3.00,  # CloudWatch dashboard (beyond the free three)
    "custom_metric_month": 0.30,  # CloudWatch custom metric (first 10,000)
    "log_gb": 0.50,  # CloudWatch Logs ingestion
    "container_insights_month": 10.0,  # assumption: one small task's Container Insights metrics and logs
}
DATABASE_GB = 5.0  # a year of a dozen symbols' minute bars and the trade log
LOG_GB = 2.0  # a month of the functions' and the feed's JSON logs


@dataclass(frozen=True)
class Item:
    """One line of the bill."""

    what: str
    monthly: float
    why: str


def synthesize(context: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two stacks' templates, synthesized with ``context`` (no bundling: prices do not depend on it)."""
    import app as quantterminal_app
    import aws_cdk as cdk

    with tempfile.TemporaryDirectory() as out:
        application = cdk.App(outdir=out, context={"aws:cdk:bundling-stacks": [], **context})
        quantterminal_app.build(application)
        assembly = application.synth()
        data = assembly.get_stack_by_name("QuantTerminalData").template
        pipeline = assembly.get_stack_by_name("QuantTerminalPipeline").template
    return data, pipeline


def resources(template: Mapping[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r.get("Properties", {}) for r in template["Resources"].values() if r["Type"] == kind]


def network(data: Mapping[str, Any]) -> Iterable[Item]:
    p = PRICES
    nats = resources(data, "AWS::EC2::NatGateway") + resources(data, "AWS::EC2::Instance")
    for _ in resources(data, "AWS::EC2::NatGateway"):
        yield Item("NAT gateway", p["nat_gateway_hour"] * HOURS, "always on (plus $0.045/GB processed)")
    for instance in resources(data, "AWS::EC2::Instance"):
        kind = instance.get("InstanceType")
        disk = sum(m["Ebs"].get("VolumeSize", 8) for m in instance.get("BlockDeviceMappings", []) if "Ebs" in m) or 8
        price = p["t4g_nano_hour"] if kind == "t4g.nano" else float("nan")
        yield Item(f"NAT instance ({kind})", price * HOURS + disk * p["gp3_gb_month"], f"always on, {disk} GB gp3")
    if nats:
        yield Item("Public IPv4 address", len(nats) * p["public_ipv4_hour"] * HOURS, "the NAT's, always held")


def database(data: Mapping[str, Any]) -> Iterable[Item]:
    p = PRICES
    for cluster in resources(data, "AWS::RDS::DBCluster"):
        scaling = cluster.get("ServerlessV2ScalingConfiguration", {})
        floor = float(scaling.get("MinCapacity", 0.5))
        if floor == 0 and scaling.get("SecondsUntilAutoPause"):
            hours, acu, why = ACTIVE_HOURS, 0.5, f"0.5 ACU while in use ({ACTIVE_HOURS:.0f} h), paused otherwise"
        else:
            hours, acu, why = HOURS, floor, f"{floor} ACU floor, always on"
        compute = hours * acu * p["aurora_acu_hour"]
        yield Item("Aurora Serverless v2", compute + DATABASE_GB * p["aurora_gb_month"], f"{why}; {DATABASE_GB} GB")


def streams(data: Mapping[str, Any]) -> Iterable[Item]:
    p = PRICES
    for stream in resources(data, "AWS::Kinesis::Stream"):
        shards = int(stream.get("ShardCount", 1))
        retention = int(stream.get("RetentionPeriodHours", 24))
        cost = shards * HOURS * (p["kinesis_shard_hour"] + (p["kinesis_extended_shard_hour"] if retention > 24 else 0))
        yield Item("Kinesis stream", cost, f"{shards} shard, {retention} h retention")


def cache_and_secrets(data: Mapping[str, Any], pipeline: Mapping[str, Any]) -> Iterable[Item]:
    p = PRICES
    for _ in resources(data, "AWS::ElastiCache::ServerlessCache"):
        yield Item("ElastiCache Serverless (Valkey)", 0.1 * HOURS * p["valkey_gb_hour"], "100 MB minimum billed")
    secrets = len(resources(data, "AWS::SecretsManager::Secret")) + len(
        resources(pipeline, "AWS::SecretsManager::Secret")
    )
    keys = len(resources(data, "AWS::KMS::Key")) + len(resources(pipeline, "AWS::KMS::Key"))
    yield Item("Secrets Manager and KMS", secrets * p["secret_month"] + keys * p["kms_key_month"],
               f"{secrets} secrets, {keys} keys")  # fmt: skip


def feed(pipeline: Mapping[str, Any]) -> Iterable[Item]:
    p = PRICES
    (task,) = resources(pipeline, "AWS::ECS::TaskDefinition")
    vcpu, gb = int(task["Cpu"]) / 1024, int(task["Memory"]) / 1024
    on_demand = HOURS * (vcpu * p["fargate_vcpu_hour"] + gb * p["fargate_gb_hour"])
    (service,) = resources(pipeline, "AWS::ECS::Service")
    spot = any(s.get("CapacityProvider") == "FARGATE_SPOT" for s in service.get("CapacityProviderStrategy", []))
    cost = on_demand * (1 - p["fargate_spot_discount"]) if spot else on_demand
    yield Item("Fargate feed task", cost, f"{vcpu:g} vCPU, {gb:g} GB, {'Spot' if spot else 'on demand'}")
    (cluster,) = resources(pipeline, "AWS::ECS::Cluster")
    settings = {s["Name"]: s["Value"] for s in cluster.get("ClusterSettings", [])}
    if settings.get("containerInsights") in ("enabled", "enhanced"):
        yield Item("Container Insights", p["container_insights_month"], "assumed for one small task")


def monitoring(pipeline: Mapping[str, Any]) -> Iterable[Item]:
    from quantterminal import constants as c

    p = PRICES
    alarm_metrics = sum(
        len([m for m in alarm.get("Metrics", []) if "MetricStat" in m]) or 1
        for alarm in resources(pipeline, "AWS::CloudWatch::Alarm")
    )
    dashboards = len(resources(pipeline, "AWS::CloudWatch::Dashboard"))
    custom = len({v for k, v in vars(c).items() if k.startswith("METRIC_") and isinstance(v, str)})
    cost = (
        alarm_metrics * p["alarm_metric_month"]
        + dashboards * p["dashboard_month"]
        + custom * p["custom_metric_month"]
        + LOG_GB * p["log_gb"]
    )
    why = f"{alarm_metrics} alarm metrics, {dashboards} dashboard, {custom} custom metrics, {LOG_GB:g} GB logs"
    yield Item("CloudWatch", cost, why)


def bill(context: Mapping[str, Any]) -> list[Item]:
    data, pipeline = synthesize(context)
    return [
        *network(data),
        *database(data),
        *streams(data),
        *cache_and_secrets(data, pipeline),
        *feed(pipeline),
        *monitoring(pipeline),
        Item("Lambda, API Gateway, EventBridge, S3, CloudFront", 1.0, "idle: a few hundred thousand invocations"),
    ]


CASES = {
    "shipped defaults": {},
    "first version's choices": {
        "nat": "gateway",
        "databaseMinAcu": "0.5",
        "streamRetentionHours": "168",
        "containerInsights": "true",
        "feedSpot": "false",
    },
}


def main() -> None:
    totals = {}
    for label, context in CASES.items():
        items = bill({"alertEmail": "ops@example.com", **context})
        totals[label] = sum(i.monthly for i in items)
        print(f"\n{label} ({', '.join(f'{k}={v}' for k, v in context.items()) or 'no -c overrides'})")
        print(f"{'item':<50}{'$/month':>9}  basis")
        for i in items:
            print(f"{i.what:<50}{i.monthly:>9.2f}  {i.why}")
        print(f"{'total':<50}{totals[label]:>9.2f}")
    default = totals["shipped defaults"]
    print(f"\nidle cost with the shipped defaults: ${default:.2f} a month (target <= ${TARGET:.0f})")
    print(
        json.dumps(
            {
                "bench": "cost",
                "idle_monthly_usd": round(default, 2),
                "first_version_choices_monthly_usd": round(totals["first version's choices"], 2),
                "target_usd": TARGET,
                "prices_read": "2026-12-07",
            }
        )
    )


if __name__ == "__main__":
    main()
