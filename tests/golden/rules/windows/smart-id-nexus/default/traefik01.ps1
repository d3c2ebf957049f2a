# portplan Windows Defender Firewall rules for host traefik01 of deployment bank-smart-id.
# Generated from the flow plan: every rule names the flows it implements; do not edit.
# Run in an elevated PowerShell: .\traefik01.ps1 (re-runnable: it first removes every rule of group 'portplan').
# Rules apply to the Domain, Private profile(s); TCP/UDP only, stateful.
#Requires -RunAsAdministrator

$ErrorActionPreference = 'Stop'
Remove-NetFirewallRule -Group 'portplan' -ErrorAction SilentlyContinue

# --- inbound ---
# smart-id-21.04/im-operator/ingress: External TLS communication between a user client to Identity Manager Operator.
# smart-id-21.04/im-self-service/ingress: External TLS communication between a user client to Smart ID Self-Service.
# smart-id-21.04/hermod/ingress: TLS communication with Smart ID Messaging (Hermod).
New-NetFirewallRule -DisplayName 'portplan in TCP 443: smart-id-21.04/im-operator/ingress, smart-id-21.04/im-self-service/ingress, smart-id-21.04/hermod/ingress' `
    -Description 'smart-id-21.04/im-operator/ingress: External TLS communication between a user client to Identity Manager Operator.; smart-id-21.04/im-self-service/ingress: External TLS communication between a user client to Smart ID Self-Service.; smart-id-21.04/hermod/ingress: TLS communication with Smart ID Messaging (Hermod).' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '443' `
    -LocalAddress '198.51.100.10' `
    -RemoteAddress '192.0.2.10', '192.0.2.40', '203.0.113.128/25' | Out-Null
# smart-id-21.04/im-admin/ingress: External TLS communication between a user client to the Identity Manager Admin.
# smart-id-21.04/im-tenant/ingress: External TLS communication between a user client to the Identity Manager Tenant.
New-NetFirewallRule -DisplayName 'portplan in TCP 8443: smart-id-21.04/im-admin/ingress, smart-id-21.04/im-tenant/ingress' `
    -Description 'smart-id-21.04/im-admin/ingress: External TLS communication between a user client to the Identity Manager Admin.; smart-id-21.04/im-tenant/ingress: External TLS communication between a user client to the Identity Manager Tenant.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '8443' `
    -LocalAddress '198.51.100.10' `
    -RemoteAddress '203.0.113.128/25' | Out-Null
# management/ssh: SSH administration of every server, kept open whatever the plan says.
New-NetFirewallRule -DisplayName 'portplan in TCP 22: management/ssh' `
    -Description 'management/ssh: SSH administration of every server, kept open whatever the plan says.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '22' `
    -LocalAddress '198.51.100.10' `
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
