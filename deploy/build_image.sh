#!/usr/bin/env bash
# Build the server image with podman where no base image can be pulled, run it and check it from
# outside: /health and one completion answered by the server inside the container. Prints one
# JSON line: image size, build time, start time (run -> /health answers), the completion.
#
#   deploy/build_image.sh MODEL_DIR          # a kedro-gpt model folder (mounted at /models/model)
#
# The base (BASE_IMAGE, default localhost/kedro-gpt-base:bookworm) is made once from a
# debootstrap root of Debian bookworm (python3, venv, CA certificates) and imported; torch comes
# from the local wheels in WHEELS (default /opt/wheels) or PyPI. Needs root, podman, debootstrap.
# Inside another container (a CI sandbox) podman's default runtime may be unable to start one
# (crun: hybrid cgroups, rlimits above the sandbox's); the script then uses runc with cgroupfs
# and nofile/nproc limits of 4096, and says so.
set -euo pipefail
ENGINE=${ENGINE:-podman}
BASE=${BASE_IMAGE:-localhost/kedro-gpt-base:bookworm}
IMAGE=${IMAGE:-localhost/kedro-gpt:local}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
WHEELS=${WHEELS:-/opt/wheels}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}   # this machine's trust, for pip
PORT=${PORT:-18731}
MODEL_DIR=$(realpath "${1:?usage: deploy/build_image.sh MODEL_DIR}")
test -f "$MODEL_DIR/config.json" || { echo "$MODEL_DIR is not a kedro-gpt model folder" >&2; exit 2; }
cd "$(dirname "$0")/.."

if ! $ENGINE image exists "$BASE"; then
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  echo "making the base image $BASE from a debootstrap root ($MIRROR)" >&2
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$root" "$MIRROR" >&2
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | $ENGINE import --change 'CMD ["/bin/bash"]' - "$BASE" >&2
fi

engine=("$ENGINE")
if ! "${engine[@]}" run --rm --network host "$BASE" true >/dev/null 2>&1; then
  conf=$(mktemp)
  printf '[containers]\ndefault_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]\n' >"$conf"
  export CONTAINERS_CONF=$conf
  engine=("$ENGINE" --cgroup-manager=cgroupfs --runtime runc)
  echo "the default OCI runtime cannot start a container here: using runc, cgroupfs" >&2
  "${engine[@]}" run --rm --network host "$BASE" true
fi

wheels=()
if [ -d "$WHEELS" ]; then wheels=(-v "$WHEELS:/wheels:ro" --build-arg PIP_FIND_LINKS=/wheels); fi
if [ -f "$CA_BUNDLE" ]; then wheels+=(-v "$CA_BUNDLE:/certs/ca.crt:ro" --build-arg PIP_CERT=/certs/ca.crt); fi
t0=$(date +%s.%N)
"${engine[@]}" build --format docker --network host --build-arg BASE_IMAGE="$BASE" --build-arg TORCH_INDEX= \
  "${wheels[@]}" -t "$IMAGE" . >&2
t1=$(date +%s.%N)

name=kedro-gpt-check-$$
"${engine[@]}" rm -f "$name" >/dev/null 2>&1 || true
trap '"${engine[@]}" rm -f "$name" >/dev/null 2>&1 || true; rm -rf "${root:-}"' EXIT
t2=$(date +%s.%N)
"${engine[@]}" run -d --name "$name" --network host -e KEDRO_GPT_PORT="$PORT" \
  -v "$MODEL_DIR:/models/model:ro" "$IMAGE" >/dev/null
until curl -sf "http://127.0.0.1:$PORT/health" >/dev/null; do
  if [ "$("${engine[@]}" inspect -f '{{.State.Running}}' "$name")" != true ]; then
    "${engine[@]}" logs "$name" >&2; echo "the container stopped" >&2; exit 1
  fi
  sleep 0.2
done
t3=$(date +%s.%N)
health=$(curl -sf "http://127.0.0.1:$PORT/health")
completion=$(curl -sf "http://127.0.0.1:$PORT/v1/completions" -H 'content-type: application/json' \
  -d '{"model": "kedro-gpt", "prompt": "ROMEO:", "max_tokens": 8, "temperature": 0}')
size=$("${engine[@]}" image inspect -f '{{.Size}}' "$IMAGE")
python3 - "$size" "$t0" "$t1" "$t2" "$t3" "$health" "$completion" <<'PY'
import json, sys
size, t0, t1, t2, t3 = (float(x) for x in sys.argv[1:6])
print(json.dumps({
    "image_mb": round(size / 1e6),
    "build_s": round(t1 - t0, 1),
    "start_s": round(t3 - t2, 2),
    "health": json.loads(sys.argv[6]),
    "completion": json.loads(sys.argv[7])["choices"][0],
}))
PY
