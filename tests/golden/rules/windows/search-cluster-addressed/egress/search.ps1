# portplan Windows Defender Firewall rules for host search of deployment search-cluster.
# Generated from the flow plan: every rule names the flows it implements; do not edit.
# Run in an elevated PowerShell: .\search.ps1 (re-runnable: it first removes every rule of group 'portplan').
# Rules apply to the Domain, Private profile(s); stateful; ICMP by type (-IcmpType).
# not reachable (no address of that family here): example-search-2.0/rest (anywhere -> search: IPv6)
# not reachable (no address of that family here): example-search-2.0/dashboard-search (dash01 -> search: IPv6)
# not reachable (no address of that family here): example-search-2.0/monitoring-ping (monitor -> search: IPv6)
#Requires -RunAsAdministrator

$ErrorActionPreference = 'Stop'
Remove-NetFirewallRule -Group 'portplan' -ErrorAction SilentlyContinue

# --- inbound ---
# example-search-2.0/rest: REST API for search and indexing clients.
# example-search-2.0/dashboard-search: The dashboard queries the cluster.
New-NetFirewallRule -DisplayName 'portplan in TCP 9200: example-search-2.0/rest, example-search-2.0/dashboard-search' `
    -Description 'example-search-2.0/rest: REST API for search and indexing clients.; example-search-2.0/dashboard-search: The dashboard queries the cluster.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '9200' `
    -LocalAddress '192.0.2.11', '192.0.2.12/31' `
    -RemoteAddress 'Any' | Out-Null
# example-search-2.0/transport: Node-to-node transport (cluster membership, shard replication).
New-NetFirewallRule -DisplayName 'portplan in TCP 9300: example-search-2.0/transport' `
    -Description 'example-search-2.0/transport: Node-to-node transport (cluster membership, shard replication).' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '9300' `
    -LocalAddress '192.0.2.11', '192.0.2.12/31' `
    -RemoteAddress '192.0.2.11', '192.0.2.12/31' | Out-Null
# example-search-2.0/node-ping: Nodes ping each other to detect a failed member.
# example-search-2.0/monitoring-ping: Monitoring pings every node and the dashboard.
New-NetFirewallRule -DisplayName 'portplan in ICMPv4 echo-request: example-search-2.0/node-ping, example-search-2.0/monitoring-ping' `
    -Description 'example-search-2.0/node-ping: Nodes ping each other to detect a failed member.; example-search-2.0/monitoring-ping: Monitoring pings every node and the dashboard.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol ICMPv4 -IcmpType '8' `
    -LocalAddress '192.0.2.11', '192.0.2.12/31' `
    -RemoteAddress '192.0.2.11', '192.0.2.12/31', '203.0.113.50' | Out-Null
# management/ssh: SSH administration.
New-NetFirewallRule -DisplayName 'portplan in TCP 22: management/ssh' `
    -Description 'management/ssh: SSH administration.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '22' `
    -LocalAddress '192.0.2.11', '192.0.2.12/31' `
    -RemoteAddress '203.0.113.0/28' | Out-Null

# --- outbound ---
# example-search-2.0/transport: Node-to-node transport (cluster membership, shard replication).
New-NetFirewallRule -DisplayName 'portplan out TCP 9300: example-search-2.0/transport' `
    -Description 'example-search-2.0/transport: Node-to-node transport (cluster membership, shard replication).' `
    -Group 'portplan' -Direction Outbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -RemotePort '9300' `
    -LocalAddress '192.0.2.11', '192.0.2.12/31' `
    -RemoteAddress '192.0.2.11', '192.0.2.12/31' | Out-Null
# example-search-2.0/node-ping: Nodes ping each other to detect a failed member.
New-NetFirewallRule -DisplayName 'portplan out ICMPv4 echo-request: example-search-2.0/node-ping' `
    -Description 'example-search-2.0/node-ping: Nodes ping each other to detect a failed member.' `
    -Group 'portplan' -Direction Outbound -Action Allow -Profile Domain, Private `
    -Protocol ICMPv4 -IcmpType '8' `
    -LocalAddress '192.0.2.11', '192.0.2.12/31' `
    -RemoteAddress '192.0.2.11', '192.0.2.12/31' | Out-Null
# example-search-2.0/updates: Updates and plug-ins from the vendor's update service.
New-NetFirewallRule -DisplayName 'portplan out TCP 443: example-search-2.0/updates' `
    -Description 'example-search-2.0/updates: Updates and plug-ins from the vendor''s update service.' `
    -Group 'portplan' -Direction Outbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -RemotePort '443' `
    -LocalAddress '192.0.2.11', '192.0.2.12/31' `
    -RemoteAddress '203.0.113.80' | Out-Null

# Enforce once every rule is in place: traffic no rule allows is dropped.
Set-NetFirewallProfile -Profile Domain, Private -Enabled True -DefaultInboundAction Block -DefaultOutboundAction Block

# Allow rules outside this group still apply: count them so they can be reviewed.
$others = @(Get-NetFirewallRule -Enabled True -Action Allow |
    Where-Object { $_.Group -ne 'portplan' })
if ($others.Count -gt 0) {
    Write-Warning ('{0} enabled allow rule(s) outside group portplan also apply on this host' -f $others.Count)
}
