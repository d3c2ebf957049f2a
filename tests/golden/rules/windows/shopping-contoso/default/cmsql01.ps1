# portplan Windows Defender Firewall rules for host cmsql01 of deployment contoso-shopping.
# Generated from the flow plan: every rule names the flows it implements; do not edit.
# Run in an elevated PowerShell: .\cmsql01.ps1 (re-runnable: it first removes every rule of group 'portplan').
# Rules apply to the Domain, Private profile(s); TCP/UDP only, stateful.
#Requires -RunAsAdministrator

$ErrorActionPreference = 'Stop'
Remove-NetFirewallRule -Group 'portplan' -ErrorAction SilentlyContinue

# --- inbound ---
# shopping-6.1/central-cm-sql: Communication with the remote Configuration Manager Site database if the Shopping RBAC feature is not used. RBAC uses WMI (DCOM) instead of SQL.
# shopping-6.1/console-cm-sql: Communication with the remote Configuration Manager site database if the Shopping RBAC feature is not used. RBAC uses WMI (DCOM) instead of SQL.
# shopping-6.1/receiver-cm-sql: Communication with the Configuration Manager site database, if remote.
New-NetFirewallRule -DisplayName 'portplan in TCP 1433: shopping-6.1/central-cm-sql, shopping-6.1/console-cm-sql, shopping-6.1/receiver-cm-sql' `
    -Description 'shopping-6.1/central-cm-sql: Communication with the remote Configuration Manager Site database if the Shopping RBAC feature is not used. RBAC uses WMI (DCOM) instead of SQL.; shopping-6.1/console-cm-sql: Communication with the remote Configuration Manager site database if the Shopping RBAC feature is not used. RBAC uses WMI (DCOM) instead of SQL.; shopping-6.1/receiver-cm-sql: Communication with the Configuration Manager site database, if remote.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '1433' `
    -LocalAddress '192.0.2.41' `
    -RemoteAddress '192.0.2.10', '192.0.2.40', '198.51.100.5' | Out-Null
# management/rdp: Remote Desktop administration of every server, kept open whatever the plan says.
New-NetFirewallRule -DisplayName 'portplan in TCP 3389: management/rdp' `
    -Description 'management/rdp: Remote Desktop administration of every server, kept open whatever the plan says.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '3389' `
    -LocalAddress '192.0.2.41' `
    -RemoteAddress '198.51.100.5' | Out-Null

# Enforce once every rule is in place: traffic no rule allows is dropped.
Set-NetFirewallProfile -Profile Domain, Private -Enabled True -DefaultInboundAction Block
# Outbound traffic is not filtered here; the default outbound action is left as it is.

# Allow rules outside this group still apply: count them so they can be reviewed.
$others = @(Get-NetFirewallRule -Enabled True -Action Allow -Direction Inbound |
    Where-Object { $_.Group -ne 'portplan' })
if ($others.Count -gt 0) {
    Write-Warning ('{0} enabled allow rule(s) outside group portplan also apply on this host' -f $others.Count)
}
