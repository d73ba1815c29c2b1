#!/usr/bin/env bash
# Provision a Raspberry Pi OS (Bookworm) box as a Footfall edge agent.
#
#   sudo ./provision-pi.sh [--wheel PATH|--source DIR] [--wifi-phy phy1] [--no-start]
#
# What it does (idempotent; safe to run again):
#   1. installs the OS packages (python3-venv, bluez, iw, libcap2-bin),
#   2. creates the system user `footfall` (no login, no home) in the `bluetooth` group,
#   3. installs footfall[edge] into /opt/footfall/venv,
#   4. installs /etc/footfall/agent.toml (from agent.example.toml) and agent.env (0600),
#   5. optionally creates a monitor-mode interface wlan1mon on a second Wi-Fi adapter,
#   6. installs and enables the systemd unit footfall-agent.service (runs as `footfall`
#      with CAP_NET_RAW and CAP_NET_ADMIN only; logs to journald).
# Read docs/deploy-pi.md first. Nothing here talks to the broker.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PREFIX=/opt/footfall
ETC=/etc/footfall
WHEEL=""
SOURCE="$REPO"
WIFI_PHY=""
START=1

die() { echo "provision-pi: $*" >&2; exit 2; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --wheel) WHEEL="${2:?--wheel needs a path}"; shift 2 ;;
        --source) SOURCE="${2:?--source needs a directory}"; shift 2 ;;
        --wifi-phy) WIFI_PHY="${2:?--wifi-phy needs a phy name, e.g. phy1}"; shift 2 ;;
        --no-start) START=0; shift ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) die "unknown option '$1' (see --help)" ;;
    esac
done

[[ $EUID -eq 0 ]] || die "run as root (sudo), got uid $EUID"

echo "== OS packages"
apt-get update -qq
apt-get install -y -qq python3-venv python3-dev bluez iw libcap2-bin sqlite3 >/dev/null

echo "== user footfall (system, no login) in group bluetooth"
if ! id footfall >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /var/lib/footfall --shell /usr/sbin/nologin footfall
fi
usermod -aG bluetooth footfall

echo "== python environment in $PREFIX/venv"
install -d -m 0755 "$PREFIX"
python3 -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/pip" install -q --upgrade pip
if [[ -n "$WHEEL" ]]; then
    "$PREFIX/venv/bin/pip" install -q "${WHEEL}[edge]"
else
    "$PREFIX/venv/bin/pip" install -q "${SOURCE}[edge]"
fi
install -d -m 0755 "$PREFIX/docs"
cp -f "$REPO"/docs/agent.md "$REPO"/docs/deploy-pi.md "$PREFIX/docs/" 2>/dev/null || true

echo "== configuration in $ETC"
install -d -m 0750 -o root -g footfall "$ETC"
if [[ ! -f "$ETC/agent.toml" ]]; then
    install -m 0640 -o root -g footfall "$HERE/agent.example.toml" "$ETC/agent.toml"
    echo "   wrote $ETC/agent.toml: edit store_id, agent_id, [mqtt] and the sources"
fi
if [[ ! -f "$ETC/agent.env" ]]; then
    umask 077
    secret="$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
    printf 'FOOTFALL_AGENT_SITE_SECRET=%s\n# FOOTFALL_AGENT_MQTT__PASSWORD=\n' "$secret" > "$ETC/agent.env"
    chown root:footfall "$ETC/agent.env"
    chmod 0640 "$ETC/agent.env"
    echo "   wrote $ETC/agent.env with a new site secret: every agent of a store needs the SAME"
    echo "   secret (copy it from the first agent), then add the MQTT password"
fi

if [[ -n "$WIFI_PHY" ]]; then
    echo "== monitor interface wlan1mon on $WIFI_PHY"
    if ! iw dev wlan1mon info >/dev/null 2>&1; then
        iw phy "$WIFI_PHY" interface add wlan1mon type monitor \
            || die "cannot add a monitor interface on $WIFI_PHY (does the chipset support monitor mode? see docs/deploy-pi.md)"
    fi
    ip link set wlan1mon up
    # NetworkManager must leave the sniffing interface alone.
    if command -v nmcli >/dev/null; then nmcli device set wlan1mon managed no || true; fi
    # Recreate it at boot, before the agent starts.
    cat > /etc/systemd/system/footfall-monitor.service <<UNIT
[Unit]
Description=Footfall: monitor-mode interface wlan1mon on $WIFI_PHY
Before=footfall-agent.service
After=sys-subsystem-net-devices-wlan1.device

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'iw dev wlan1mon info >/dev/null 2>&1 || iw phy $WIFI_PHY interface add wlan1mon type monitor; ip link set wlan1mon up'

[Install]
WantedBy=multi-user.target
UNIT
    systemctl enable footfall-monitor.service
fi

echo "== systemd unit"
install -m 0644 "$HERE/footfall-agent.service" /etc/systemd/system/footfall-agent.service
systemctl daemon-reload
systemctl enable footfall-agent.service
if [[ $START -eq 1 ]]; then
    if sudo -u footfall env $(grep -v '^#' "$ETC/agent.env" | xargs) \
        "$PREFIX/venv/bin/footfall" agent check-config --config "$ETC/agent.toml"; then
        systemctl restart footfall-agent.service
        echo "   started: journalctl -u footfall-agent -f"
    else
        echo "   not started: fix $ETC/agent.toml, then: systemctl start footfall-agent" >&2
    fi
fi
echo "done."
