# portplan Windows Defender Firewall rules for host pgsql01 of deployment bank-smart-id-k8s.
# Generated from the flow plan: every rule names the flows it implements; do not edit.
# Run in an elevated PowerShell: .\pgsql01.ps1 (re-runnable: it first removes every rule of group 'portplan').
# Rules apply to the Domain, Private profile(s); TCP/UDP only, stateful.
#Requires -RunAsAdministrator

$ErrorActionPreference = 'Stop'
Remove-NetFirewallRule -Group 'portplan' -ErrorAction SilentlyContinue

# --- inbound ---
# smart-id-21.04/da-external-database: Internal or external communication between Administration service, Policy service and Authentication service to the internal Postgres database. These ports are n
New-NetFirewallRule -DisplayName 'portplan in TCP 5433: smart-id-21.04/da-external-database' `
    -Description 'smart-id-21.04/da-external-database: Internal or external communication between Administration service, Policy service and Authentication service to the internal Postgres database. These ports are not required if an external database is used (for example, in HA scenario). In this case, the port of the external database must be opened.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '5433' `
    -LocalAddress '192.0.2.50' `
    -RemoteAddress '192.0.2.40' | Out-Null
# management/ssh: SSH administration of every server, kept open whatever the plan says.
New-NetFirewallRule -DisplayName 'portplan in TCP 22: management/ssh' `
    -Description 'management/ssh: SSH administration of every server, kept open whatever the plan says.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '22' `
    -LocalAddress '192.0.2.50' `
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
