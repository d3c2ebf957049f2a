# portplan Windows Defender Firewall rules for host da01 of deployment bank-smart-id.
# Generated from the flow plan: every rule names the flows it implements; do not edit.
# Run in an elevated PowerShell: .\da01.ps1 (re-runnable: it first removes every rule of group 'portplan').
# Rules apply to the Domain, Private profile(s); TCP/UDP only, stateful.
#Requires -RunAsAdministrator

$ErrorActionPreference = 'Stop'
Remove-NetFirewallRule -Group 'portplan' -ErrorAction SilentlyContinue

# --- inbound ---
# smart-id-21.04/da-admin-service: External communication between an administrator client to Authentication service for configuration work on Hybrid Access Gateway. The port can be set up as web resou
New-NetFirewallRule -DisplayName 'portplan in TCP 8443: smart-id-21.04/da-admin-service' `
    -Description 'smart-id-21.04/da-admin-service: External communication between an administrator client to Authentication service for configuration work on Hybrid Access Gateway. The port can be set up as web resource and therefore routed through the Access Point over port 443.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '8443' `
    -LocalAddress '192.0.2.40' `
    -RemoteAddress '203.0.113.0/28' | Out-Null
# smart-id-21.04/da-policy-xpi: Internal and external communication to the web service (XPI) interface of Hybrid Access Gateway. This communication needs to be enabled within the Policy service (Manag
New-NetFirewallRule -DisplayName 'portplan in TCP 4443: smart-id-21.04/da-policy-xpi' `
    -Description 'smart-id-21.04/da-policy-xpi: Internal and external communication to the web service (XPI) interface of Hybrid Access Gateway. This communication needs to be enabled within the Policy service (Manage Systems > Policy Service). The port can be set up as web resource and therefore routed through the Access point over port 443. The Access point talks to the Policy service over port 4443 when using, for example, /me API (loading desktop list of available resources).' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '4443' `
    -LocalAddress '192.0.2.40' `
    -RemoteAddress '198.51.100.20' | Out-Null
# smart-id-21.04/da-distribution-image: Internal or external communication from the Access point and any user client to the Distribution service to access the Image API. This is required to receive im
New-NetFirewallRule -DisplayName 'portplan in TCP 9443: smart-id-21.04/da-distribution-image' `
    -Description 'smart-id-21.04/da-distribution-image: Internal or external communication from the Access point and any user client to the Distribution service to access the Image API. This is required to receive images the user must compare during Personal Mobile and Personal Desktop authentication. This communication needs to be enabled within the Distribution service (Manage Systems > Distribution Service). The port can be set up as web resource and therefore routed through the Access point over port 443.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '9443' `
    -LocalAddress '192.0.2.40' `
    -RemoteAddress '198.51.100.20', '203.0.113.128/25' | Out-Null
# smart-id-21.04/da-radius: Internal and external communication between the Policy service and any RADIUS client to the Authentication service to verify an authentication attempt over RADIUS protocol.
New-NetFirewallRule -DisplayName 'portplan in UDP 18118-18126: smart-id-21.04/da-radius' `
    -Description 'smart-id-21.04/da-radius: Internal and external communication between the Policy service and any RADIUS client to the Authentication service to verify an authentication attempt over RADIUS protocol. Third party RADIUS clients can ask the Authentication service for authentication if the corresponding authentication method is based on RADIUS, such as Password, OATH, Synchronized etc.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol UDP -LocalPort '18118-18126' `
    -LocalAddress '192.0.2.40' `
    -RemoteAddress '192.0.2.96/29' | Out-Null
# smart-id-21.04/da-lcp-admin: Internal communication between all services and the Administration service over proprietary LCP protocol.
New-NetFirewallRule -DisplayName 'portplan in TCP 8300: smart-id-21.04/da-lcp-admin' `
    -Description 'smart-id-21.04/da-lcp-admin: Internal communication between all services and the Administration service over proprietary LCP protocol.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '8300' `
    -LocalAddress '192.0.2.40' `
    -RemoteAddress '198.51.100.20' | Out-Null
# smart-id-21.04/da-lcp-policy-access-point: Internal communication between the Access point and Policy service over proprietary LCP protocol.
New-NetFirewallRule -DisplayName 'portplan in TCP 8301: smart-id-21.04/da-lcp-policy-access-point' `
    -Description 'smart-id-21.04/da-lcp-policy-access-point: Internal communication between the Access point and Policy service over proprietary LCP protocol.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '8301' `
    -LocalAddress '192.0.2.40' `
    -RemoteAddress '198.51.100.20' | Out-Null
# management/ssh: SSH administration of every server, kept open whatever the plan says.
New-NetFirewallRule -DisplayName 'portplan in TCP 22: management/ssh' `
    -Description 'management/ssh: SSH administration of every server, kept open whatever the plan says.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '22' `
    -LocalAddress '192.0.2.40' `
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
