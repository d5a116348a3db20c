# ip (iproute2), dnsmasq and nft (nftables): the host tools the qemu driver's
# virtual networks use (bridge and tap devices, DHCP/DNS, NAT rules). Their
# tests (drivers/tests/qemu_network.rs) run the agent inside a network
# namespace they create, so the host's own network is never touched.
# dnsmasq-base is the binary alone, without Debian's system dnsmasq service.
missing=""
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || missing="$missing iproute2"
command -v dnsmasq >/dev/null 2>&1 || [ -x /usr/sbin/dnsmasq ] || missing="$missing dnsmasq-base"
command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ] || missing="$missing nftables"
if [ -n "$missing" ]; then
    # shellcheck disable=SC2086
    apt_install $missing
fi
