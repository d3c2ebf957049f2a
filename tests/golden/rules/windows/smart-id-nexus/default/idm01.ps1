# portplan Windows Defender Firewall rules for host idm01 of deployment bank-smart-id.
# Generated from the flow plan: every rule names the flows it implements; do not edit.
# Run in an elevated PowerShell: .\idm01.ps1 (re-runnable: it first removes every rule of group 'portplan').
# Rules apply to the Domain, Private profile(s); TCP/UDP only, stateful.
# not reachable (no address of that family here): smart-id-21.04/im-operator/backend (traefik01 -> idm01: IPv6)
# not reachable (no address of that family here): smart-id-21.04/im-self-service/backend (traefik01 -> idm01: IPv6)
# not reachable (no address of that family here): smart-id-21.04/im-admin/backend (traefik01 -> idm01: IPv6)
# not reachable (no address of that family here): smart-id-21.04/im-tenant/backend (traefik01 -> idm01: IPv6)
#Requires -RunAsAdministrator

$ErrorActionPreference = 'Stop'
Remove-NetFirewallRule -Group 'portplan' -ErrorAction SilentlyContinue

# --- inbound ---
# smart-id-21.04/im-operator/backend: External TLS communication between a user client to Identity Manager Operator.
New-NetFirewallRule -DisplayName 'portplan in TCP 7071: smart-id-21.04/im-operator/backend' `
    -Description 'smart-id-21.04/im-operator/backend: External TLS communication between a user client to Identity Manager Operator.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '7071' `
    -LocalAddress '192.0.2.10' `
    -RemoteAddress '198.51.100.10' | Out-Null
# smart-id-21.04/im-self-service/backend: External TLS communication between a user client to Smart ID Self-Service.
New-NetFirewallRule -DisplayName 'portplan in TCP 7072: smart-id-21.04/im-self-service/backend' `
    -Description 'smart-id-21.04/im-self-service/backend: External TLS communication between a user client to Smart ID Self-Service.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '7072' `
    -LocalAddress '192.0.2.10' `
    -RemoteAddress '198.51.100.10' | Out-Null
# smart-id-21.04/im-admin/backend: External TLS communication between a user client to the Identity Manager Admin.
New-NetFirewallRule -DisplayName 'portplan in TCP 7073: smart-id-21.04/im-admin/backend' `
    -Description 'smart-id-21.04/im-admin/backend: External TLS communication between a user client to the Identity Manager Admin.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '7073' `
    -LocalAddress '192.0.2.10' `
    -RemoteAddress '198.51.100.10' | Out-Null
# smart-id-21.04/im-tenant/backend: External TLS communication between a user client to the Identity Manager Tenant.
New-NetFirewallRule -DisplayName 'portplan in TCP 7074: smart-id-21.04/im-tenant/backend' `
    -Description 'smart-id-21.04/im-tenant/backend: External TLS communication between a user client to the Identity Manager Tenant.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '7074' `
    -LocalAddress '192.0.2.10' `
    -RemoteAddress '198.51.100.10' | Out-Null
# management/ssh: SSH administration of every server, kept open whatever the plan says.
New-NetFirewallRule -DisplayName 'portplan in TCP 22: management/ssh' `
    -Description 'management/ssh: SSH administration of every server, kept open whatever the plan says.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '22' `
    -LocalAddress '192.0.2.10' `
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
