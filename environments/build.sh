#!/usr/bin/env bash
# Build one environment and put it through the hub's checks, as the environments workflow does on every
# pull request and before every push: ./environments/build.sh NAME   (needs docker; writes build/env-NAME/)
#   1. the contract, from the files (maintenance/environments.py);
#   2. the build, loaded as candidate/NAME:<tag>;
#   3. the smoke test, run as the hub runs a user server: UID 1000, every capability dropped, no new
#      privileges, no service-account token, no network: jupyterhub-singleuser --version and the import
#      of every client library;
#   4. Trivy's scan of the image and its SPDX SBOM, and the gate (environments/scan-policy.yaml):
#      exit 1 on a blocking finding, so nothing is pushed.
set -euo pipefail
cd "$(dirname "$0")/.."
name="${1:?usage: environments/build.sh NAME}"
tag="${2:-local}"
image="candidate/$name:$tag"
out="build/env-$name"
# Trivy 0.74.0, its official image by digest (the scanner is part of what is reviewed; moved on purpose).
TRIVY_IMAGE="${TRIVY_IMAGE:-aquasec/trivy@sha256:62b1e65e8869bc4b4c6aa4fa2b21595256c7c2f6018a9d9ad61caf87187c1969}"
source maintenance/venv.sh dev
mkdir -p "$out"

"$VENV/bin/python" -m maintenance.environments check "$name"

# One image manifest, no attestation index: Docker 29's containerd image store (the default of a fresh install, as on
# GitHub's runners) keeps buildx's default provenance attestation and `docker push` then sends an OCI index, whose
# digest would be pinned while Amazon Inspector reports findings by the image manifest's digest (imageHash), so
# the stacks' alert rule would never match. The workflow attests the pushed digest itself (actions/attest-*).
docker buildx build --load --provenance=false --sbom=false --tag "$image" "environments/$name"

hub_run() {
  docker run --rm --user 1000:100 --cap-drop ALL --security-opt no-new-privileges --network none "$image" "$@"
}
hub_run jupyterhub-singleuser --version
hub_run python -c "import boto3, s3fs, dask_gateway, jupyterhub.singleuser"
hub_run sh -c 'test "$(id -u)" = 1000 && test ! -e /var/run/secrets/kubernetes.io/serviceaccount/token'

# The archive Trivy scans, compressed: a CUDA environment is ~5 GB compressed and about three times that unpacked,
# and the runner holds its layers twice already (containerd's content store and the unpacked snapshots). Trivy
# opens a gzip archive as it is (its docker-archive opener detects gzip).
docker save "$image" | gzip -1 > "$out/image.tar.gz"
trivy() { docker run --rm --volume "$PWD/$out:/work" "$TRIVY_IMAGE" "$@"; }
trivy image --input /work/image.tar.gz --scanners vuln --format json --output /work/trivy.json
trivy image --input /work/image.tar.gz --format spdx-json --output /work/sbom.spdx.json
rm "$out/image.tar.gz"
scanner="trivy $(docker run --rm "$TRIVY_IMAGE" --version | sed -n 's/^Version: //p')"
"$VENV/bin/python" -m maintenance.promote gate --report "$out/trivy.json" --scanner "$scanner" --out "$out/gate.json"
