#!/usr/bin/env bash
# Two "machines" on one host (issue 13, item 7): two network namespaces joined by a veth pair, one
# rank of `strata train` in each, Open MPI between them over TCP; then the same training with both
# ranks in one namespace (loopback), and a check that the trained weights are equal.
#
#   sudo Scripts/two_machines.sh                # STRATA=path/to/strata (default: .build/release, else .build/debug)
#   STEPS=20 BATCH=32 MODEL=lenet5 sudo -E Scripts/two_machines.sh
#
#   strata-a (10.77.0.1/24) ── veth ── strata-b (10.77.0.2/24)
#   mpirun runs in strata-a; it starts its daemon in strata-b through Scripts/netns-rsh.sh, an "rsh
#   agent" that runs the command in the namespace of the host address (no ssh needed):
#     ip netns exec strata-a mpirun --mca plm_rsh_agent Scripts/netns-rsh.sh --host 10.77.0.1,10.77.0.2 -np 2 …
#   Open MPI is kept on the veth addresses (btl tcp,self: no shared memory between the "machines";
#   btl_tcp_if_include and oob_tcp_if_include 10.77.0.0/24). Only addresses inside the namespaces
#   (10.77.0.0/24) or their loopback are used; the namespaces are removed on exit.
#
# With a model without batch norm (LeNet-5, the default) data parallelism over 2 ranks is the same
# arithmetic wherever the ranks run (the allreduce of two ranks adds two numbers), so the weights
# must be bitwise equal; the script also trains 1 rank × the whole batch and reports its (rounding)
# difference, checked within 1e-5.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

STRATA=${STRATA:-}
if [ -z "$STRATA" ]; then
  if [ -x .build/release/strata ]; then STRATA=$ROOT/.build/release/strata; else STRATA=$ROOT/.build/debug/strata; fi
fi
MODEL=${MODEL:-lenet5}
STEPS=${STEPS:-100}
BATCH=${BATCH:-32}
NS_A=strata-a NS_B=strata-b ADDR_A=10.77.0.1 ADDR_B=10.77.0.2
WORK=$(mktemp -d /tmp/strata-two-machines.XXXXXX)

fail() { echo "two_machines.sh: $*" >&2; exit 1; }
[ -x "$STRATA" ] || fail "no strata executable at $STRATA (swift build -c release, or set STRATA=…)"
command -v mpirun >/dev/null || fail "mpirun not found (apt-get install openmpi-bin libopenmpi-dev)"
command -v ip >/dev/null || fail "ip not found (apt-get install iproute2)"
command -v unshare >/dev/null || fail "unshare not found (util-linux)"
[ "$(id -u)" = 0 ] || fail "network namespaces need root: run it with sudo"
if ip netns list | grep -qE "^($NS_A|$NS_B)( |$)"; then
  fail "the namespaces $NS_A / $NS_B exist already (another run?); remove them with: ip netns del $NS_A; ip netns del $NS_B"
fi

cleanup() {
  ip netns del "$NS_A" 2>/dev/null || true   # deleting a namespace deletes its end of the veth pair, and so the pair
  ip netns del "$NS_B" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

if ! ip netns add "$NS_A" 2>"$WORK/netns.err"; then
  fail "cannot create network namespaces ($(cat "$WORK/netns.err")): this needs root with CAP_SYS_ADMIN, e.g. not inside an unprivileged container"
fi
ip netns add "$NS_B"
ip link add strata-veth-a type veth peer name strata-veth-b
ip link set strata-veth-a netns "$NS_A"
ip link set strata-veth-b netns "$NS_B"
ip -n "$NS_A" addr add "$ADDR_A/24" dev strata-veth-a
ip -n "$NS_B" addr add "$ADDR_B/24" dev strata-veth-b
for ns in "$NS_A" "$NS_B"; do ip -n "$ns" link set lo up; done
ip -n "$NS_A" link set strata-veth-a up
ip -n "$NS_B" link set strata-veth-b up
echo "namespaces: $NS_A $(ip -n "$NS_A" -4 -o addr show dev strata-veth-a | awk '{print $4}') <-veth-> $NS_B $(ip -n "$NS_B" -4 -o addr show dev strata-veth-b | awk '{print $4}')"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 STRATA_NUM_THREADS=1
TRAIN=(train --model "$MODEL" --dataset synthetic --max-steps "$STEPS" --batch-size "$BATCH" --seed 7 --log-every 0 --quiet)
MPI=(--bind-to none -x STRATA_NUM_THREADS --mca btl tcp,self)

run() {   # label, then the command; prints its wall time
  local label=$1; shift
  local start=$SECONDS
  if ! "$@" >"$WORK/$label.log" 2>&1; then
    cat "$WORK/$label.log" >&2
    fail "$label failed"
  fi
  echo "$label: $(tail -1 "$WORK/$label.log") [$((SECONDS - start)) s]"
}

# 1. One rank in each namespace, over the veth pair. mpirun (and rank 0) in strata-a, its own hostname.
run two-namespaces ip netns exec "$NS_A" unshare --uts /bin/sh -c 'hostname "$0"; exec "$@"' "$NS_A" \
  mpirun "${MPI[@]}" --mca plm_rsh_agent "$ROOT/Scripts/netns-rsh.sh" --host "$ADDR_A,$ADDR_B" -np 2 \
  --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24 \
  /bin/sh -c 'echo "rank $OMPI_COMM_WORLD_RANK on $(hostname), $(ip -4 -o addr show | grep -o "10\.77\.0\.[0-9]*" | head -1)" >&2; exec "$@"' sh \
  "$STRATA" "${TRAIN[@]}" --out "$WORK/two-namespaces"
grep -h "^rank " "$WORK/two-namespaces.log" | sort | sed 's/^/  /'

# 2. Both ranks in one namespace, over its loopback (still TCP: the same transport).
run one-namespace ip netns exec "$NS_A" \
  mpirun "${MPI[@]}" -np 2 --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo \
  "$STRATA" "${TRAIN[@]}" --out "$WORK/one-namespace"

# 3. One rank, the whole batch (no MPI).
run one-rank ip netns exec "$NS_A" "$STRATA" "${TRAIN[@]}" --out "$WORK/one-rank"

echo "weights after $STEPS steps ($MODEL, batch $BATCH):"
echo -n "  two namespaces vs one namespace (2 ranks each): "
python3 Scripts/compare_weights.py "$WORK/two-namespaces/last.safetensors" "$WORK/one-namespace/last.safetensors" --all
echo -n "  2 ranks vs 1 rank (rounding of the averaged half-batch gradients): "
python3 Scripts/compare_weights.py "$WORK/two-namespaces/last.safetensors" "$WORK/one-rank/last.safetensors" --tolerance 1e-5
echo "two_machines.sh: OK"
