"""Benchmark: how long the offline plan of a stack takes against just importing the SDK modules
the program uses (each in a fresh interpreter, median of several runs).

    python -m maintenance.benchmark [STACK] [--runs N]

The target (issue 2): plan(prod) < 2 x import time.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# pulumi-aws and pulumi-kubernetes load a submodule (e.g. the 20 MB of pulumi_aws.ec2) on first
# attribute access, so "importing the modules the program uses" means touching each of them once.
IMPORTS = """
import pulumi, pulumi_aws as aws, pulumi_eks as eks, pulumi_kubernetes as k8s, pulumi_random as random, pydantic, yaml
aws.ec2.Vpc; aws.iam.Role; aws.kms.Key; aws.eks.Addon; aws.cloudwatch.LogGroup; aws.get_caller_identity_output
aws.s3.Bucket; aws.ecr.Repository; aws.sns.Topic; aws.guardduty.Detector; aws.cloudtrail.Trail; aws.acm.Certificate
aws.route53.Record; random.RandomId
k8s.helm.v3.Release; k8s.storage.v1.StorageClass; k8s.meta.v1.ObjectMetaArgs; k8s.Provider; eks.Cluster
k8s.core.v1.Namespace  # StorageClass's input types refer to core/v1; Pulumi loads it to serialize them
k8s.networking.v1.NetworkPolicy; k8s.apps.v1.DeploymentPatch
"""


def _time(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("stack", nargs="?", default="prod")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        plan = [sys.executable, "-m", "offline_plan.plan", args.stack, "--quiet", "--out", f"{folder}/plan.json"]
        imports = [sys.executable, "-c", IMPORTS]
        _time(imports)  # warm the file cache once for both
        import_times = [_time(imports) for _ in range(args.runs)]
        plan_times = [_time(plan) for _ in range(args.runs)]
    import_median = statistics.median(import_times)
    plan_median = statistics.median(plan_times)
    ratio = plan_median / import_median
    print(f"import SDK modules: median {import_median:.2f}s over {args.runs} runs")
    print(f"offline plan {args.stack}: median {plan_median:.2f}s over {args.runs} runs")
    print(f"ratio: {ratio:.2f}x (target < 2x) -> {'OK' if ratio < 2 else 'TOO SLOW'}")
    return 0 if ratio < 2 else 1


if __name__ == "__main__":
    sys.exit(main())
