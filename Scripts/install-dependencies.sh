#!/usr/bin/env bash
# Installs the system libraries Strata links against (Debian/Ubuntu, as root or with sudo).
#   libturbojpeg0-dev, libpng-dev: image decoding (StrataImage)
#   zlib1g-dev: gzip-compressed datasets (StrataData)
#   libdnnl-dev: oneDNN 2.6, the fast CPU backend (StrataDNNL)
#   libopenmpi-dev, openmpi-bin: Open MPI 4.1 and mpirun, for process groups (StrataDistributed) and its multi-rank tests
#   pkg-config: lets SwiftPM find them
set -euo pipefail
packages=(pkg-config libturbojpeg0-dev libpng-dev zlib1g-dev libdnnl-dev libopenmpi-dev openmpi-bin)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "installed: ${missing[*]}"
