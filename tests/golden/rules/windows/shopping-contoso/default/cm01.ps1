# portplan Windows Defender Firewall rules for host cm01 of deployment contoso-shopping.
# Generated from the flow plan: every rule names the flows it implements; do not edit.
# Run in an elevated PowerShell: .\cm01.ps1 (re-runnable: it first removes every rule of group 'portplan').
# Rules apply to the Domain, Private profile(s); TCP/UDP only, stateful.
# RPC: inbound TCP 135 is the RPCEPMap keyword and the dynamic range the RPC keyword (RPC Dynamic Ports), not a port range.
#Requires -RunAsAdministrator

$ErrorActionPreference = 'Stop'
Remove-NetFirewallRule -Group 'portplan' -ErrorAction SilentlyContinue

# --- inbound ---
# shopping-6.1/central-wmi: Remote access to the SMS Provider role on the Configuration Manager site server. TCP 135 and 445 are used to initiate communications and negotiate dynamic RPC and MSDTC por
# shopping-6.1/console-wmi: Required for remote access to the SMS Provider role on Configuration Manager site servers. TCP 135 and 445 are used to initiate communications and negotiate a dynamic RPC p
New-NetFirewallRule -DisplayName 'portplan in TCP RPCEPMap: shopping-6.1/central-wmi, shopping-6.1/console-wmi' `
    -Description 'shopping-6.1/central-wmi: Remote access to the SMS Provider role on the Configuration Manager site server. TCP 135 and 445 are used to initiate communications and negotiate dynamic RPC and MSDTC ports. The dynamic ranges depend on the Windows OS version.; shopping-6.1/console-wmi: Required for remote access to the SMS Provider role on Configuration Manager site servers. TCP 135 and 445 are used to initiate communications and negotiate a dynamic RPC port. The dynamic range depends on the Windows OS version.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort 'RPCEPMap' `
    -LocalAddress '192.0.2.40' `
    -RemoteAddress '192.0.2.10', '198.51.100.5' | Out-Null
# shopping-6.1/central-wmi: Remote access to the SMS Provider role on the Configuration Manager site server. TCP 135 and 445 are used to initiate communications and negotiate dynamic RPC and MSDTC por
# shopping-6.1/console-wmi: Required for remote access to the SMS Provider role on Configuration Manager site servers. TCP 135 and 445 are used to initiate communications and negotiate a dynamic RPC p
New-NetFirewallRule -DisplayName 'portplan in TCP 445: shopping-6.1/central-wmi, shopping-6.1/console-wmi' `
    -Description 'shopping-6.1/central-wmi: Remote access to the SMS Provider role on the Configuration Manager site server. TCP 135 and 445 are used to initiate communications and negotiate dynamic RPC and MSDTC ports. The dynamic ranges depend on the Windows OS version.; shopping-6.1/console-wmi: Required for remote access to the SMS Provider role on Configuration Manager site servers. TCP 135 and 445 are used to initiate communications and negotiate a dynamic RPC port. The dynamic range depends on the Windows OS version.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '445' `
    -LocalAddress '192.0.2.40' `
    -RemoteAddress '192.0.2.10', '198.51.100.5' | Out-Null
# shopping-6.1/central-wmi: Remote access to the SMS Provider role on the Configuration Manager site server. TCP 135 and 445 are used to initiate communications and negotiate dynamic RPC and MSDTC por
# shopping-6.1/console-wmi: Required for remote access to the SMS Provider role on Configuration Manager site servers. TCP 135 and 445 are used to initiate communications and negotiate a dynamic RPC p
New-NetFirewallRule -DisplayName 'portplan in TCP RPC: shopping-6.1/central-wmi, shopping-6.1/console-wmi' `
    -Description 'shopping-6.1/central-wmi: Remote access to the SMS Provider role on the Configuration Manager site server. TCP 135 and 445 are used to initiate communications and negotiate dynamic RPC and MSDTC ports. The dynamic ranges depend on the Windows OS version.; shopping-6.1/console-wmi: Required for remote access to the SMS Provider role on Configuration Manager site servers. TCP 135 and 445 are used to initiate communications and negotiate a dynamic RPC port. The dynamic range depends on the Windows OS version.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort 'RPC' `
    -LocalAddress '192.0.2.40' `
    -RemoteAddress '192.0.2.10', '198.51.100.5' | Out-Null
# management/rdp: Remote Desktop administration of every server, kept open whatever the plan says.
New-NetFirewallRule -DisplayName 'portplan in TCP 3389: management/rdp' `
    -Description 'management/rdp: Remote Desktop administration of every server, kept open whatever the plan says.' `
    -Group 'portplan' -Direction Inbound -Action Allow -Profile Domain, Private `
    -Protocol TCP -LocalPort '3389' `
    -LocalAddress '192.0.2.40' `
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
