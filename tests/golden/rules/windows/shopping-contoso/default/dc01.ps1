# portplan Windows Defender Firewall rules for host dc01 of deployment contoso-shopping.
# Generated from the flow plan: every rule names the flows it implements; do not edit.
# Run in an elevated PowerShell: .\dc01.ps1 (re-runnable: it first removes every rule of group 'portplan').
# Rules apply to the Domain, Private profile(s); TCP/UDP only, stateful.
#Requires -RunAsAdministrator

$ErrorActionPreference = 'Stop'
Remove-NetFirewallRule -Group 'portplan' -ErrorAction SilentlyContinue

# --- inbound ---
# shopping-6.1/website-ldap: Communication with Active Directory to verify user, computer and AD groups and resolution of each user's manager and email address.
# shopping-6.1/central-ldap: Communication with Active Directory to verify user, computer and AD groups and resolution of each user's manager and email address.
# shopping-6.1/console-ldap: Communication with Active Directory to verify user, computer and AD groups and resolution of each user's manager and email address.
# shopping-6.1/client-ldap: Communication with Active Directory to verify user, computer and AD groups and resolution of each user's manager and email address.
New-NetFirewallRule -DisplayName 'portplan in TCP 389: shopping-6.1/website-ldap, shopping-6.1/central-ldap, shopping-6.1/console-ldap, shopping-6.1/client-ldap' `
    -Description 'shopping-6.1/website-ldap: Communication with Active Directory to verify user, computer and AD groups and resolution of each user''s manager and email address.; shopping-6.1/central-ldap: Communication with Active Directory to verify user, computer and AD groups and resolution of each user''s manager and email address.; shopping-6.1/console-ldap: Communication with Active Directory to verify user, computer and AD groups and resolution of each user''s manager and email address.; shopping-6.1/client-ldap: Communication with Active Directory to verify user, computer and AD groups and resolution of each user''s manager and email address.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '389' `
    -LocalAddress '192.0.2.31' `
    -RemoteAddress '192.0.2.10', '198.51.100.0/24' | Out-Null
# shopping-6.1/website-ldaps: Communication with Active Directory.
# shopping-6.1/central-ldaps: Communication with Active Directory
# shopping-6.1/console-ldaps: Communication with Active Directory
# shopping-6.1/client-ldaps: Communication with Active Directory.
New-NetFirewallRule -DisplayName 'portplan in TCP 636,3269: shopping-6.1/website-ldaps, shopping-6.1/central-ldaps, shopping-6.1/console-ldaps, shopping-6.1/client-ldaps' `
    -Description 'shopping-6.1/website-ldaps: Communication with Active Directory.; shopping-6.1/central-ldaps: Communication with Active Directory; shopping-6.1/console-ldaps: Communication with Active Directory; shopping-6.1/client-ldaps: Communication with Active Directory.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '636', '3269' `
    -LocalAddress '192.0.2.31' `
    -RemoteAddress '192.0.2.10', '198.51.100.0/24' | Out-Null
# management/rdp: Remote Desktop administration of every server, kept open whatever the plan says.
New-NetFirewallRule -DisplayName 'portplan in TCP 3389: management/rdp' `
    -Description 'management/rdp: Remote Desktop administration of every server, kept open whatever the plan says.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '3389' `
    -LocalAddress '192.0.2.31' `
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
