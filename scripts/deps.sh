#!/bin/sh
# Installs the Debian 12 packages hookd builds with and its tests use.
set -eu
PKGS="build-essential cmake pkg-config clang
libuv1-dev node-llhttp libssl-dev libyaml-dev libjansson-dev libcurl4-openssl-dev
libsqlite3-dev libpq-dev libcmocka-dev
python3 python3-aiosmtpd python3-prometheus-client python3-jwcrypto postgresql openssl curl wrk valgrind haproxy
chromium chromium-driver python3-selenium"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
  # The cluster tests start their own haproxy: the service the package enables
  # (and started, where systemd runs) is stopped and disabled again.
  case " $missing " in
  *" haproxy "*)
    if [ -d /run/systemd/system ]; then
      $SUDO systemctl disable --now haproxy >/dev/null 2>&1 || true
    fi ;;
  esac
fi
