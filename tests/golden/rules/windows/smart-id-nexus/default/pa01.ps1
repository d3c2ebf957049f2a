# portplan Windows Defender Firewall rules for host pa01 of deployment bank-smart-id.
# Generated from the flow plan: every rule names the flows it implements; do not edit.
# Run in an elevated PowerShell: .\pa01.ps1 (re-runnable: it first removes every rule of group 'portplan').
# Rules apply to the Domain, Private profile(s); TCP/UDP only, stateful.
#Requires -RunAsAdministrator

$ErrorActionPreference = 'Stop'
Remove-NetFirewallRule -Group 'portplan' -ErrorAction SilentlyContinue

# --- inbound ---
# smart-id-21.04/pa-admin: TLS communication with Physical Access Admin.
New-NetFirewallRule -DisplayName 'portplan in TCP 443: smart-id-21.04/pa-admin' `
    -Description 'smart-id-21.04/pa-admin: TLS communication with Physical Access Admin.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '443' `
    -LocalAddress '192.0.2.20' `
    -RemoteAddress '203.0.113.128/25' | Out-Null
# smart-id-21.04/pa-rabbitmq: External communication between Physical Access and RabbitMQ.
New-NetFirewallRule -DisplayName 'portplan in TCP 5672,15672: smart-id-21.04/pa-rabbitmq' `
    -Description 'smart-id-21.04/pa-rabbitmq: External communication between Physical Access and RabbitMQ.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '5672', '15672' `
    -LocalAddress '192.0.2.20' `
    -RemoteAddress '192.0.2.70' | Out-Null
# smart-id-21.04/pa-scim: Internal communication between Physical Access and SCIM API.
New-NetFirewallRule -DisplayName 'portplan in TCP 9090: smart-id-21.04/pa-scim' `
    -Description 'smart-id-21.04/pa-scim: Internal communication between Physical Access and SCIM API.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '9090' `
    -LocalAddress '192.0.2.20' `
    -RemoteAddress '192.0.2.60' | Out-Null
# management/ssh: SSH administration of every server, kept open whatever the plan says.
New-NetFirewallRule -DisplayName 'portplan in TCP 22: management/ssh' `
    -Description 'management/ssh: SSH administration of every server, kept open whatever the plan says.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '22' `
    -LocalAddress '192.0.2.20' `
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
