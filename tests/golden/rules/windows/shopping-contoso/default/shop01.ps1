# portplan Windows Defender Firewall rules for host shop01 of deployment contoso-shopping.
# Generated from the flow plan: every rule names the flows it implements; do not edit.
# Run in an elevated PowerShell: .\shop01.ps1 (re-runnable: it first removes every rule of group 'portplan').
# Rules apply to the Domain, Private profile(s); TCP/UDP only, stateful.
#Requires -RunAsAdministrator

$ErrorActionPreference = 'Stop'
Remove-NetFirewallRule -Group 'portplan' -ErrorAction SilentlyContinue

# --- inbound ---
# shopping-6.1/website-https: For browsers on clients and Shopping receivers to communicate with the Shopping Website.
# shopping-6.1/receiver-https: Communication with the Shopping central Website.
# shopping-6.1/client-https: For browsers on clients to communicate with the Shopping central website (Shopping Portal).
New-NetFirewallRule -DisplayName 'portplan in TCP 8443: shopping-6.1/website-https, shopping-6.1/receiver-https, shopping-6.1/client-https' `
    -Description 'shopping-6.1/website-https: For browsers on clients and Shopping receivers to communicate with the Shopping Website.; shopping-6.1/receiver-https: Communication with the Shopping central Website.; shopping-6.1/client-https: For browsers on clients to communicate with the Shopping central website (Shopping Portal).' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '8443' `
    -LocalAddress '192.0.2.10' `
    -RemoteAddress '192.0.2.40', '198.51.100.0/24' | Out-Null
# management/rdp: Remote Desktop administration of every server, kept open whatever the plan says.
New-NetFirewallRule -DisplayName 'portplan in TCP 3389: management/rdp' `
    -Description 'management/rdp: Remote Desktop administration of every server, kept open whatever the plan says.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '3389' `
    -LocalAddress '192.0.2.10' `
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
