# portplan Windows Defender Firewall rules for host dash01 of deployment search-cluster.
# Generated from the flow plan: every rule names the flows it implements; do not edit.
# Run in an elevated PowerShell: .\dash01.ps1 (re-runnable: it first removes every rule of group 'portplan').
# Rules apply to the Domain, Private profile(s); stateful; ICMP by type (-IcmpType).
#Requires -RunAsAdministrator

$ErrorActionPreference = 'Stop'
Remove-NetFirewallRule -Group 'portplan' -ErrorAction SilentlyContinue

# --- inbound ---
# example-search-2.0/dashboard-web: Users open the dashboard in a browser.
New-NetFirewallRule -DisplayName 'portplan in TCP 5601: example-search-2.0/dashboard-web' `
    -Description 'example-search-2.0/dashboard-web: Users open the dashboard in a browser.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '5601' `
    -LocalAddress '198.51.100.20' `
    -RemoteAddress 'Any' | Out-Null
# example-search-2.0/dashboard-web: Users open the dashboard in a browser.
New-NetFirewallRule -DisplayName 'portplan in TCP 5601: example-search-2.0/dashboard-web' `
    -Description 'example-search-2.0/dashboard-web: Users open the dashboard in a browser.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '5601' `
    -LocalAddress '2001:db8:20::20' `
    -RemoteAddress 'Any' | Out-Null
# example-search-2.0/monitoring-ping: Monitoring pings every node and the dashboard.
New-NetFirewallRule -DisplayName 'portplan in ICMPv4 echo-request: example-search-2.0/monitoring-ping' `
    -Description 'example-search-2.0/monitoring-ping: Monitoring pings every node and the dashboard.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol ICMPv4 -IcmpType '8' `
    -LocalAddress '198.51.100.20' `
    -RemoteAddress '203.0.113.50' | Out-Null
# example-search-2.0/monitoring-ping: Monitoring pings every node and the dashboard.
New-NetFirewallRule -DisplayName 'portplan in ICMPv6 echo-request: example-search-2.0/monitoring-ping' `
    -Description 'example-search-2.0/monitoring-ping: Monitoring pings every node and the dashboard.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol ICMPv6 -IcmpType '128' `
    -LocalAddress '2001:db8:20::20' `
    -RemoteAddress '2001:db8:50::50' | Out-Null
# example-search-2.0/path-mtu: ICMP errors from any router on the path, for path MTU discovery.
New-NetFirewallRule -DisplayName 'portplan in ICMPv4 destination-unreachable: example-search-2.0/path-mtu' `
    -Description 'example-search-2.0/path-mtu: ICMP errors from any router on the path, for path MTU discovery.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol ICMPv4 -IcmpType '3' `
    -LocalAddress '198.51.100.20' `
    -RemoteAddress 'Any' | Out-Null
# example-search-2.0/path-mtu: ICMP errors from any router on the path, for path MTU discovery.
New-NetFirewallRule -DisplayName 'portplan in ICMPv6 destination-unreachable, packet-too-big: example-search-2.0/path-mtu' `
    -Description 'example-search-2.0/path-mtu: ICMP errors from any router on the path, for path MTU discovery.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol ICMPv6 -IcmpType '1', '2' `
    -LocalAddress '2001:db8:20::20' `
    -RemoteAddress 'Any' | Out-Null
# management/ssh: SSH administration.
New-NetFirewallRule -DisplayName 'portplan in TCP 22: management/ssh' `
    -Description 'management/ssh: SSH administration.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '22' `
    -LocalAddress '198.51.100.20' `
    -RemoteAddress '203.0.113.0/28' | Out-Null

# Enforce once every rule is in place: traffic no rule allows is dropped.
Set-NetFirewallProfile -Profile Domain, Private -Enabled True -DefaultInboundAction Block
# Outbound traffic is not filtered here; the default outbound action is left as it is.

# Allow rules outside this group still apply: count them so they can be reviewed.
$others = @(Get-NetFirewallRule -Enabled True -Action Allow -Direction Inbound |
    Where-Object { $_.Group -ne 'portplan' })
if ($others.Count -gt 0) {
    Write-Warning ('{0} enabled allow rule(s) outside group portplan also apply on this host' -f $others.Count)
}
