# portplan Windows Defender Firewall rules for host admin-pc of deployment contoso-shopping.
# Generated from the flow plan: every rule names the flows it implements; do not edit.
# Run in an elevated PowerShell: .\admin-pc.ps1 (re-runnable: it first removes every rule of group 'portplan').
# Rules apply to the Domain, Private profile(s); TCP/UDP only, stateful.
#Requires -RunAsAdministrator

$ErrorActionPreference = 'Stop'
Remove-NetFirewallRule -Group 'portplan' -ErrorAction SilentlyContinue

# --- inbound ---
# nothing planned

# Enforce once every rule is in place: traffic no rule allows is dropped.
Set-NetFirewallProfile -Profile Domain, Private -Enabled True -DefaultInboundAction Block
# Outbound traffic is not filtered here; the default outbound action is left as it is.

# Allow rules outside this group still apply: count them so they can be reviewed.
$others = @(Get-NetFirewallRule -Enabled True -Action Allow -Direction Inbound |
    Where-Object { $_.Group -ne 'portplan' })
if ($others.Count -gt 0) {
    Write-Warning ('{0} enabled allow rule(s) outside group portplan also apply on this host' -f $others.Count)
}
