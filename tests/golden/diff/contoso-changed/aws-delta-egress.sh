#!/bin/sh
# portplan: AWS security-group changes of deployment contoso-shopping: 20 rules to authorize, 22 to revoke.
# Groups are found by name (portplan-<host>) in the VPC given as VPC_ID; new rules are
# authorized before old ones are revoked, so a flow that moves is never cut.
set -eu
: "${VPC_ID:?set VPC_ID to the VPC that holds the hosts}"
sg() {
  aws ec2 describe-security-groups --filters "Name=vpc-id,Values=$VPC_ID" "Name=group-name,Values=$1" --query 'SecurityGroups[0].GroupId' --output text
}
# A new group starts with AWS's own allow-all egress rule: 0.0.0.0/0, and ::/0 in some
# VPCs; all_out_v6 GROUP_ID says whether the ::/0 one is there (1) or not (0).
all_out_v6() {
  aws ec2 describe-security-groups --group-ids "$1" --query "length(SecurityGroups[0].IpPermissionsEgress[?IpProtocol=='-1'].Ipv6Ranges[] | [?CidrIpv6=='::/0'])" --output text
}
aws ec2 create-security-group --group-name portplan-sql02 --description 'portplan: planned traffic of host sql02 in deployment contoso-shopping' --vpc-id "$VPC_ID" --tag-specifications 'ResourceType=security-group,Tags=[{Key=Name,Value=portplan-sql02}]' >/dev/null
aws ec2 revoke-security-group-egress --group-id "$(sg portplan-sql02)" --ip-permissions 'IpProtocol=-1,IpRanges=[{CidrIp=0.0.0.0/0}]' >/dev/null
[ "$(all_out_v6 "$(sg portplan-sql02)")" = 0 ] || aws ec2 revoke-security-group-egress --group-id "$(sg portplan-sql02)" --ip-permissions 'IpProtocol=-1,Ipv6Ranges=[{CidrIpv6=::/0}]' >/dev/null
aws ec2 authorize-security-group-ingress --group-id "$(sg portplan-shop01)" --ip-permissions 'IpProtocol=tcp,FromPort=9443,ToPort=9443,IpRanges=[{CidrIp=192.0.2.40/32,Description="shopping-6.1/website-https, shopping-6.1/receiver-https"}]'
aws ec2 authorize-security-group-ingress --group-id "$(sg portplan-shop01)" --ip-permissions 'IpProtocol=tcp,FromPort=9443,ToPort=9443,IpRanges=[{CidrIp=198.51.100.0/24,Description="shopping-6.1/website-https, shopping-6.1/client-https"}]'
aws ec2 authorize-security-group-egress --group-id "$(sg portplan-shop01)" --ip-permissions 'IpProtocol=tcp,FromPort=389,ToPort=389,IpRanges=[{CidrIp=192.0.2.33/32,Description="shopping-6.1/website-ldap, shopping-6.1/central-ldap"}]'
aws ec2 authorize-security-group-egress --group-id "$(sg portplan-shop01)" --ip-permissions 'IpProtocol=tcp,FromPort=636,ToPort=636,IpRanges=[{CidrIp=192.0.2.33/32,Description="shopping-6.1/website-ldaps, shopping-6.1/central-ldaps"}]'
aws ec2 authorize-security-group-egress --group-id "$(sg portplan-shop01)" --ip-permissions 'IpProtocol=tcp,FromPort=1024,ToPort=65535,IpRanges=[{CidrIp=192.0.2.40/32,Description="shopping-6.1/central-wmi"}]'
aws ec2 authorize-security-group-egress --group-id "$(sg portplan-shop01)" --ip-permissions 'IpProtocol=tcp,FromPort=1433,ToPort=1433,IpRanges=[{CidrIp=192.0.2.21/32,Description="shopping-6.1/website-sql, shopping-6.1/central-sql"}]'
aws ec2 authorize-security-group-egress --group-id "$(sg portplan-shop01)" --ip-permissions 'IpProtocol=tcp,FromPort=3269,ToPort=3269,IpRanges=[{CidrIp=192.0.2.33/32,Description="shopping-6.1/website-ldaps, shopping-6.1/central-ldaps"}]'
aws ec2 authorize-security-group-ingress --group-id "$(sg portplan-cm01)" --ip-permissions 'IpProtocol=tcp,FromPort=1024,ToPort=65535,IpRanges=[{CidrIp=192.0.2.10/32,Description="shopping-6.1/central-wmi"}]'
aws ec2 authorize-security-group-ingress --group-id "$(sg portplan-cm01)" --ip-permissions 'IpProtocol=tcp,FromPort=1024,ToPort=65535,IpRanges=[{CidrIp=198.51.100.5/32,Description="shopping-6.1/console-wmi, management/rdp"}]'
aws ec2 authorize-security-group-egress --group-id "$(sg portplan-cm01)" --ip-permissions 'IpProtocol=tcp,FromPort=9443,ToPort=9443,IpRanges=[{CidrIp=192.0.2.10/32,Description="shopping-6.1/website-https, shopping-6.1/receiver-https"}]'
aws ec2 authorize-security-group-egress --group-id "$(sg portplan-admin-pc)" --ip-permissions 'IpProtocol=tcp,FromPort=389,ToPort=389,IpRanges=[{CidrIp=192.0.2.33/32,Description="shopping-6.1/console-ldap"}]'
aws ec2 authorize-security-group-egress --group-id "$(sg portplan-admin-pc)" --ip-permissions 'IpProtocol=tcp,FromPort=636,ToPort=636,IpRanges=[{CidrIp=192.0.2.33/32,Description="shopping-6.1/console-ldaps"}]'
aws ec2 authorize-security-group-egress --group-id "$(sg portplan-admin-pc)" --ip-permissions 'IpProtocol=tcp,FromPort=1024,ToPort=65535,IpRanges=[{CidrIp=192.0.2.40/32,Description="shopping-6.1/console-wmi, management/rdp"}]'
aws ec2 authorize-security-group-egress --group-id "$(sg portplan-admin-pc)" --ip-permissions 'IpProtocol=tcp,FromPort=1433,ToPort=1433,IpRanges=[{CidrIp=192.0.2.21/32,Description="shopping-6.1/console-sql"}]'
aws ec2 authorize-security-group-egress --group-id "$(sg portplan-admin-pc)" --ip-permissions 'IpProtocol=tcp,FromPort=3269,ToPort=3269,IpRanges=[{CidrIp=192.0.2.33/32,Description="shopping-6.1/console-ldaps"}]'
aws ec2 authorize-security-group-egress --group-id "$(sg portplan-admin-pc)" --ip-permissions 'IpProtocol=tcp,FromPort=3389,ToPort=3389,IpRanges=[{CidrIp=192.0.2.21/32,Description="management/rdp"}]'
aws ec2 authorize-security-group-egress --group-id "$(sg portplan-admin-pc)" --ip-permissions 'IpProtocol=tcp,FromPort=3389,ToPort=3389,IpRanges=[{CidrIp=192.0.2.33/32,Description="management/rdp"}]'
aws ec2 authorize-security-group-ingress --group-id "$(sg portplan-sql02)" --ip-permissions 'IpProtocol=tcp,FromPort=1433,ToPort=1433,IpRanges=[{CidrIp=192.0.2.10/32,Description="shopping-6.1/website-sql, shopping-6.1/central-sql"}]'
aws ec2 authorize-security-group-ingress --group-id "$(sg portplan-sql02)" --ip-permissions 'IpProtocol=tcp,FromPort=1433,ToPort=1433,IpRanges=[{CidrIp=198.51.100.5/32,Description="shopping-6.1/console-sql"}]'
aws ec2 authorize-security-group-ingress --group-id "$(sg portplan-sql02)" --ip-permissions 'IpProtocol=tcp,FromPort=3389,ToPort=3389,IpRanges=[{CidrIp=198.51.100.5/32,Description="management/rdp"}]'
aws ec2 revoke-security-group-ingress --group-id "$(sg portplan-shop01)" --ip-permissions 'IpProtocol=tcp,FromPort=8443,ToPort=8443,IpRanges=[{CidrIp=192.0.2.40/32}]'
aws ec2 revoke-security-group-ingress --group-id "$(sg portplan-shop01)" --ip-permissions 'IpProtocol=tcp,FromPort=8443,ToPort=8443,IpRanges=[{CidrIp=198.51.100.0/24}]'
aws ec2 revoke-security-group-egress --group-id "$(sg portplan-shop01)" --ip-permissions 'IpProtocol=tcp,FromPort=389,ToPort=389,IpRanges=[{CidrIp=192.0.2.32/32}]'
aws ec2 revoke-security-group-egress --group-id "$(sg portplan-shop01)" --ip-permissions 'IpProtocol=tcp,FromPort=636,ToPort=636,IpRanges=[{CidrIp=192.0.2.32/32}]'
aws ec2 revoke-security-group-egress --group-id "$(sg portplan-shop01)" --ip-permissions 'IpProtocol=tcp,FromPort=1433,ToPort=1433,IpRanges=[{CidrIp=192.0.2.20/32}]'
aws ec2 revoke-security-group-egress --group-id "$(sg portplan-shop01)" --ip-permissions 'IpProtocol=tcp,FromPort=3269,ToPort=3269,IpRanges=[{CidrIp=192.0.2.32/32}]'
aws ec2 revoke-security-group-egress --group-id "$(sg portplan-shop01)" --ip-permissions 'IpProtocol=tcp,FromPort=8335,ToPort=8335,IpRanges=[{CidrIp=192.0.2.60/32}]'
aws ec2 revoke-security-group-egress --group-id "$(sg portplan-shop01)" --ip-permissions 'IpProtocol=tcp,FromPort=49152,ToPort=65535,IpRanges=[{CidrIp=192.0.2.40/32}]'
aws ec2 revoke-security-group-ingress --group-id "$(sg portplan-sql01)" --ip-permissions 'IpProtocol=tcp,FromPort=1433,ToPort=1433,IpRanges=[{CidrIp=192.0.2.10/32}]'
aws ec2 revoke-security-group-ingress --group-id "$(sg portplan-sql01)" --ip-permissions 'IpProtocol=tcp,FromPort=1433,ToPort=1433,IpRanges=[{CidrIp=198.51.100.5/32}]'
aws ec2 revoke-security-group-ingress --group-id "$(sg portplan-cm01)" --ip-permissions 'IpProtocol=tcp,FromPort=3389,ToPort=3389,IpRanges=[{CidrIp=198.51.100.5/32}]'
aws ec2 revoke-security-group-ingress --group-id "$(sg portplan-cm01)" --ip-permissions 'IpProtocol=tcp,FromPort=49152,ToPort=65535,IpRanges=[{CidrIp=192.0.2.10/32}]'
aws ec2 revoke-security-group-ingress --group-id "$(sg portplan-cm01)" --ip-permissions 'IpProtocol=tcp,FromPort=49152,ToPort=65535,IpRanges=[{CidrIp=198.51.100.5/32}]'
aws ec2 revoke-security-group-egress --group-id "$(sg portplan-cm01)" --ip-permissions 'IpProtocol=tcp,FromPort=8443,ToPort=8443,IpRanges=[{CidrIp=192.0.2.10/32}]'
aws ec2 revoke-security-group-ingress --group-id "$(sg portplan-appclarity01)" --ip-permissions 'IpProtocol=tcp,FromPort=8335,ToPort=8335,IpRanges=[{CidrIp=192.0.2.10/32}]'
aws ec2 revoke-security-group-egress --group-id "$(sg portplan-admin-pc)" --ip-permissions 'IpProtocol=tcp,FromPort=389,ToPort=389,IpRanges=[{CidrIp=192.0.2.32/32}]'
aws ec2 revoke-security-group-egress --group-id "$(sg portplan-admin-pc)" --ip-permissions 'IpProtocol=tcp,FromPort=636,ToPort=636,IpRanges=[{CidrIp=192.0.2.32/32}]'
aws ec2 revoke-security-group-egress --group-id "$(sg portplan-admin-pc)" --ip-permissions 'IpProtocol=tcp,FromPort=1433,ToPort=1433,IpRanges=[{CidrIp=192.0.2.20/32}]'
aws ec2 revoke-security-group-egress --group-id "$(sg portplan-admin-pc)" --ip-permissions 'IpProtocol=tcp,FromPort=3269,ToPort=3269,IpRanges=[{CidrIp=192.0.2.32/32}]'
aws ec2 revoke-security-group-egress --group-id "$(sg portplan-admin-pc)" --ip-permissions 'IpProtocol=tcp,FromPort=3389,ToPort=3389,IpRanges=[{CidrIp=192.0.2.32/32}]'
aws ec2 revoke-security-group-egress --group-id "$(sg portplan-admin-pc)" --ip-permissions 'IpProtocol=tcp,FromPort=3389,ToPort=3389,IpRanges=[{CidrIp=192.0.2.40/32}]'
aws ec2 revoke-security-group-egress --group-id "$(sg portplan-admin-pc)" --ip-permissions 'IpProtocol=tcp,FromPort=49152,ToPort=65535,IpRanges=[{CidrIp=192.0.2.40/32}]'
