# portplan Windows Defender Firewall rules for host appclarity01 of deployment contoso-shopping.
# Generated from the flow plan: every rule names the flows it implements; do not edit.
# Run in an elevated PowerShell: .\appclarity01.ps1 (re-runnable: it first removes every rule of group 'portplan').
# Rules apply to the Domain, Private profile(s); TCP/UDP only, stateful.
#Requires -RunAsAdministrator

$ErrorActionPreference = 'Stop'
Remove-NetFirewallRule -Group 'portplan' -ErrorAction SilentlyContinue

# --- inbound ---
# shopping-6.1/central-appclarity: Communication with a remote AppClarity server. This is only required only if Shopping uses AppClarity integration.
New-NetFirewallRule -DisplayName 'portplan in TCP 8335: shopping-6.1/central-appclarity' `
    -Description 'shopping-6.1/central-appclarity: Communication with a remote AppClarity server. This is only required only if Shopping uses AppClarity integration.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '8335' `
    -LocalAddress '192.0.2.60' `
    -RemoteAddress '192.0.2.10' | Out-Null
# management/rdp: Remote Desktop administration of every server, kept open whatever the plan says.
New-NetFirewallRule -DisplayName 'portplan in TCP 3389: management/rdp' `
    -Description 'management/rdp: Remote Desktop administration of every server, kept open whatever the plan says.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '3389' `
    -LocalAddress '192.0.2.60' `
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
