#!/bin/sh
# Open MPI's "remote shell" for Scripts/two_machines.sh: mpirun starts its daemon on another host
# with `<agent> <host> <command…>` (ssh's calling convention). Here the "host" is a network
# namespace on this machine: the command runs inside it (`ip netns exec`), in a UTS namespace of its
# own with the namespace's name as hostname, so that the two "machines" have different host names as
# real ones would. Only the two veth addresses of two_machines.sh are known hosts.
set -eu
host=$1
shift
case "$host" in
  10.77.0.1) ns=strata-a ;;
  10.77.0.2) ns=strata-b ;;
  *) echo "netns-rsh.sh: unknown host '$host' (only 10.77.0.1 = strata-a and 10.77.0.2 = strata-b)" >&2; exit 1 ;;
esac
# ssh joins the arguments with spaces and hands them to a shell: the same here.
exec ip netns exec "$ns" unshare --uts /bin/sh -c "hostname $ns; $*"
