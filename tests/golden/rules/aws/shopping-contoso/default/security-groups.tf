# portplan AWS security groups (Terraform) for deployment contoso-shopping.
# Generated from the flow plan: every rule's description names the flows it implements; do not edit.
# Needs the hashicorp/aws provider 4.56 or later (aws_vpc_security_group_ingress_rule/_egress_rule).
# Attach portplan-<host> to that host's network interfaces: a security group has no destination address.
# Security groups are stateful and allow only: traffic no rule allows is dropped.
# Egress is not filtered (no --egress): each group allows all outbound traffic.
# shopping-6.1/client-agent on clients (tcp 8000) is loopback traffic, which never leaves the instance: not a security group matter, no rule

variable "vpc_id" {
  description = "ID of the VPC that holds the hosts"
  type        = string
}

# --- shop01 --------------------------------------------------------------------------------------
# in  shopping-6.1/website-https: For browsers on clients and Shopping receivers to communicate with the Shopping Website.
# in  shopping-6.1/receiver-https: Communication with the Shopping central Website.
# in  shopping-6.1/client-https: For browsers on clients to communicate with the Shopping central website (Shopping Portal).
# in  management/rdp: Remote Desktop administration of every server, kept open whatever the plan says.
resource "aws_security_group" "shop01" {
  name        = "portplan-shop01"
  description = "portplan: planned traffic of host shop01 in deployment contoso-shopping"
  vpc_id      = var.vpc_id

  tags = {
    Name = "portplan-shop01"
  }
}

resource "aws_vpc_security_group_ingress_rule" "shop01_tcp_3389_198_51_100_5_32" {
  security_group_id = aws_security_group.shop01.id
  description       = "management/rdp"
  ip_protocol       = "tcp"
  from_port         = 3389
  to_port           = 3389
  cidr_ipv4         = "198.51.100.5/32"
}

resource "aws_vpc_security_group_ingress_rule" "shop01_tcp_8443_192_0_2_40_32" {
  security_group_id = aws_security_group.shop01.id
  description       = "shopping-6.1/website-https, shopping-6.1/receiver-https"
  ip_protocol       = "tcp"
  from_port         = 8443
  to_port           = 8443
  cidr_ipv4         = "192.0.2.40/32"
}

resource "aws_vpc_security_group_ingress_rule" "shop01_tcp_8443_198_51_100_0_24" {
  security_group_id = aws_security_group.shop01.id
  description       = "shopping-6.1/website-https, shopping-6.1/client-https"
  ip_protocol       = "tcp"
  from_port         = 8443
  to_port           = 8443
  cidr_ipv4         = "198.51.100.0/24"
}

resource "aws_vpc_security_group_egress_rule" "shop01_all_ipv4" {
  security_group_id = aws_security_group.shop01.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "shop01_all_ipv6" {
  security_group_id = aws_security_group.shop01.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv6         = "::/0"
}

# --- sql01 ---------------------------------------------------------------------------------------
# in  shopping-6.1/website-sql: Communication with a remote Shopping database.
# in  shopping-6.1/central-sql: Communication with a remote Shopping database.
# in  shopping-6.1/console-sql: Communication with a remote Shopping database.
# in  management/rdp: Remote Desktop administration of every server, kept open whatever the plan says.
resource "aws_security_group" "sql01" {
  name        = "portplan-sql01"
  description = "portplan: planned traffic of host sql01 in deployment contoso-shopping"
  vpc_id      = var.vpc_id

  tags = {
    Name = "portplan-sql01"
  }
}

resource "aws_vpc_security_group_ingress_rule" "sql01_tcp_1433_192_0_2_10_32" {
  security_group_id = aws_security_group.sql01.id
  description       = "shopping-6.1/website-sql, shopping-6.1/central-sql"
  ip_protocol       = "tcp"
  from_port         = 1433
  to_port           = 1433
  cidr_ipv4         = "192.0.2.10/32"
}

resource "aws_vpc_security_group_ingress_rule" "sql01_tcp_1433_198_51_100_5_32" {
  security_group_id = aws_security_group.sql01.id
  description       = "shopping-6.1/console-sql"
  ip_protocol       = "tcp"
  from_port         = 1433
  to_port           = 1433
  cidr_ipv4         = "198.51.100.5/32"
}

resource "aws_vpc_security_group_ingress_rule" "sql01_tcp_3389_198_51_100_5_32" {
  security_group_id = aws_security_group.sql01.id
  description       = "management/rdp"
  ip_protocol       = "tcp"
  from_port         = 3389
  to_port           = 3389
  cidr_ipv4         = "198.51.100.5/32"
}

resource "aws_vpc_security_group_egress_rule" "sql01_all_ipv4" {
  security_group_id = aws_security_group.sql01.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "sql01_all_ipv6" {
  security_group_id = aws_security_group.sql01.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv6         = "::/0"
}

# --- dc01 ----------------------------------------------------------------------------------------
# in  shopping-6.1/website-ldap: Communication with Active Directory to verify user, computer and AD groups and resolution of each user's manager and email address.
# in  shopping-6.1/website-ldaps: Communication with Active Directory.
# in  shopping-6.1/central-ldap: Communication with Active Directory to verify user, computer and AD groups and resolution of each user's manager and email address.
# in  shopping-6.1/central-ldaps: Communication with Active Directory
# in  shopping-6.1/console-ldap: Communication with Active Directory to verify user, computer and AD groups and resolution of each user's manager and email address.
# in  shopping-6.1/console-ldaps: Communication with Active Directory
# in  shopping-6.1/client-ldap: Communication with Active Directory to verify user, computer and AD groups and resolution of each user's manager and email address.
# in  shopping-6.1/client-ldaps: Communication with Active Directory.
# in  management/rdp: Remote Desktop administration of every server, kept open whatever the plan says.
resource "aws_security_group" "dc01" {
  name        = "portplan-dc01"
  description = "portplan: planned traffic of host dc01 in deployment contoso-shopping"
  vpc_id      = var.vpc_id

  tags = {
    Name = "portplan-dc01"
  }
}

resource "aws_vpc_security_group_ingress_rule" "dc01_tcp_389_192_0_2_10_32" {
  security_group_id = aws_security_group.dc01.id
  description       = "shopping-6.1/website-ldap, shopping-6.1/central-ldap"
  ip_protocol       = "tcp"
  from_port         = 389
  to_port           = 389
  cidr_ipv4         = "192.0.2.10/32"
}

resource "aws_vpc_security_group_ingress_rule" "dc01_tcp_389_198_51_100_0_24" {
  security_group_id = aws_security_group.dc01.id
  description       = "shopping-6.1/client-ldap"
  ip_protocol       = "tcp"
  from_port         = 389
  to_port           = 389
  cidr_ipv4         = "198.51.100.0/24"
}

resource "aws_vpc_security_group_ingress_rule" "dc01_tcp_389_198_51_100_5_32" {
  security_group_id = aws_security_group.dc01.id
  description       = "shopping-6.1/console-ldap"
  ip_protocol       = "tcp"
  from_port         = 389
  to_port           = 389
  cidr_ipv4         = "198.51.100.5/32"
}

resource "aws_vpc_security_group_ingress_rule" "dc01_tcp_636_192_0_2_10_32" {
  security_group_id = aws_security_group.dc01.id
  description       = "shopping-6.1/website-ldaps, shopping-6.1/central-ldaps"
  ip_protocol       = "tcp"
  from_port         = 636
  to_port           = 636
  cidr_ipv4         = "192.0.2.10/32"
}

resource "aws_vpc_security_group_ingress_rule" "dc01_tcp_636_198_51_100_0_24" {
  security_group_id = aws_security_group.dc01.id
  description       = "shopping-6.1/client-ldaps"
  ip_protocol       = "tcp"
  from_port         = 636
  to_port           = 636
  cidr_ipv4         = "198.51.100.0/24"
}

resource "aws_vpc_security_group_ingress_rule" "dc01_tcp_636_198_51_100_5_32" {
  security_group_id = aws_security_group.dc01.id
  description       = "shopping-6.1/console-ldaps"
  ip_protocol       = "tcp"
  from_port         = 636
  to_port           = 636
  cidr_ipv4         = "198.51.100.5/32"
}

resource "aws_vpc_security_group_ingress_rule" "dc01_tcp_3269_192_0_2_10_32" {
  security_group_id = aws_security_group.dc01.id
  description       = "shopping-6.1/website-ldaps, shopping-6.1/central-ldaps"
  ip_protocol       = "tcp"
  from_port         = 3269
  to_port           = 3269
  cidr_ipv4         = "192.0.2.10/32"
}

resource "aws_vpc_security_group_ingress_rule" "dc01_tcp_3269_198_51_100_0_24" {
  security_group_id = aws_security_group.dc01.id
  description       = "shopping-6.1/client-ldaps"
  ip_protocol       = "tcp"
  from_port         = 3269
  to_port           = 3269
  cidr_ipv4         = "198.51.100.0/24"
}

resource "aws_vpc_security_group_ingress_rule" "dc01_tcp_3269_198_51_100_5_32" {
  security_group_id = aws_security_group.dc01.id
  description       = "shopping-6.1/console-ldaps"
  ip_protocol       = "tcp"
  from_port         = 3269
  to_port           = 3269
  cidr_ipv4         = "198.51.100.5/32"
}

resource "aws_vpc_security_group_ingress_rule" "dc01_tcp_3389_198_51_100_5_32" {
  security_group_id = aws_security_group.dc01.id
  description       = "management/rdp"
  ip_protocol       = "tcp"
  from_port         = 3389
  to_port           = 3389
  cidr_ipv4         = "198.51.100.5/32"
}

resource "aws_vpc_security_group_egress_rule" "dc01_all_ipv4" {
  security_group_id = aws_security_group.dc01.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "dc01_all_ipv6" {
  security_group_id = aws_security_group.dc01.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv6         = "::/0"
}

# --- dc02 ----------------------------------------------------------------------------------------
# in  shopping-6.1/website-ldap: Communication with Active Directory to verify user, computer and AD groups and resolution of each user's manager and email address.
# in  shopping-6.1/website-ldaps: Communication with Active Directory.
# in  shopping-6.1/central-ldap: Communication with Active Directory to verify user, computer and AD groups and resolution of each user's manager and email address.
# in  shopping-6.1/central-ldaps: Communication with Active Directory
# in  shopping-6.1/console-ldap: Communication with Active Directory to verify user, computer and AD groups and resolution of each user's manager and email address.
# in  shopping-6.1/console-ldaps: Communication with Active Directory
# in  shopping-6.1/client-ldap: Communication with Active Directory to verify user, computer and AD groups and resolution of each user's manager and email address.
# in  shopping-6.1/client-ldaps: Communication with Active Directory.
# in  management/rdp: Remote Desktop administration of every server, kept open whatever the plan says.
resource "aws_security_group" "dc02" {
  name        = "portplan-dc02"
  description = "portplan: planned traffic of host dc02 in deployment contoso-shopping"
  vpc_id      = var.vpc_id

  tags = {
    Name = "portplan-dc02"
  }
}

resource "aws_vpc_security_group_ingress_rule" "dc02_tcp_389_192_0_2_10_32" {
  security_group_id = aws_security_group.dc02.id
  description       = "shopping-6.1/website-ldap, shopping-6.1/central-ldap"
  ip_protocol       = "tcp"
  from_port         = 389
  to_port           = 389
  cidr_ipv4         = "192.0.2.10/32"
}

resource "aws_vpc_security_group_ingress_rule" "dc02_tcp_389_198_51_100_0_24" {
  security_group_id = aws_security_group.dc02.id
  description       = "shopping-6.1/client-ldap"
  ip_protocol       = "tcp"
  from_port         = 389
  to_port           = 389
  cidr_ipv4         = "198.51.100.0/24"
}

resource "aws_vpc_security_group_ingress_rule" "dc02_tcp_389_198_51_100_5_32" {
  security_group_id = aws_security_group.dc02.id
  description       = "shopping-6.1/console-ldap"
  ip_protocol       = "tcp"
  from_port         = 389
  to_port           = 389
  cidr_ipv4         = "198.51.100.5/32"
}

resource "aws_vpc_security_group_ingress_rule" "dc02_tcp_636_192_0_2_10_32" {
  security_group_id = aws_security_group.dc02.id
  description       = "shopping-6.1/website-ldaps, shopping-6.1/central-ldaps"
  ip_protocol       = "tcp"
  from_port         = 636
  to_port           = 636
  cidr_ipv4         = "192.0.2.10/32"
}

resource "aws_vpc_security_group_ingress_rule" "dc02_tcp_636_198_51_100_0_24" {
  security_group_id = aws_security_group.dc02.id
  description       = "shopping-6.1/client-ldaps"
  ip_protocol       = "tcp"
  from_port         = 636
  to_port           = 636
  cidr_ipv4         = "198.51.100.0/24"
}

resource "aws_vpc_security_group_ingress_rule" "dc02_tcp_636_198_51_100_5_32" {
  security_group_id = aws_security_group.dc02.id
  description       = "shopping-6.1/console-ldaps"
  ip_protocol       = "tcp"
  from_port         = 636
  to_port           = 636
  cidr_ipv4         = "198.51.100.5/32"
}

resource "aws_vpc_security_group_ingress_rule" "dc02_tcp_3269_192_0_2_10_32" {
  security_group_id = aws_security_group.dc02.id
  description       = "shopping-6.1/website-ldaps, shopping-6.1/central-ldaps"
  ip_protocol       = "tcp"
  from_port         = 3269
  to_port           = 3269
  cidr_ipv4         = "192.0.2.10/32"
}

resource "aws_vpc_security_group_ingress_rule" "dc02_tcp_3269_198_51_100_0_24" {
  security_group_id = aws_security_group.dc02.id
  description       = "shopping-6.1/client-ldaps"
  ip_protocol       = "tcp"
  from_port         = 3269
  to_port           = 3269
  cidr_ipv4         = "198.51.100.0/24"
}

resource "aws_vpc_security_group_ingress_rule" "dc02_tcp_3269_198_51_100_5_32" {
  security_group_id = aws_security_group.dc02.id
  description       = "shopping-6.1/console-ldaps"
  ip_protocol       = "tcp"
  from_port         = 3269
  to_port           = 3269
  cidr_ipv4         = "198.51.100.5/32"
}

resource "aws_vpc_security_group_ingress_rule" "dc02_tcp_3389_198_51_100_5_32" {
  security_group_id = aws_security_group.dc02.id
  description       = "management/rdp"
  ip_protocol       = "tcp"
  from_port         = 3389
  to_port           = 3389
  cidr_ipv4         = "198.51.100.5/32"
}

resource "aws_vpc_security_group_egress_rule" "dc02_all_ipv4" {
  security_group_id = aws_security_group.dc02.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "dc02_all_ipv6" {
  security_group_id = aws_security_group.dc02.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv6         = "::/0"
}

# --- cm01 ----------------------------------------------------------------------------------------
# in  shopping-6.1/central-wmi: Remote access to the SMS Provider role on the Configuration Manager site server. TCP 135 and 445 are used to initiate communications and negotiate dynamic RPC and MSDTC
# in  shopping-6.1/console-wmi: Required for remote access to the SMS Provider role on Configuration Manager site servers. TCP 135 and 445 are used to initiate communications and negotiate a dynamic R
# in  management/rdp: Remote Desktop administration of every server, kept open whatever the plan says.
resource "aws_security_group" "cm01" {
  name        = "portplan-cm01"
  description = "portplan: planned traffic of host cm01 in deployment contoso-shopping"
  vpc_id      = var.vpc_id

  tags = {
    Name = "portplan-cm01"
  }
}

resource "aws_vpc_security_group_ingress_rule" "cm01_tcp_135_192_0_2_10_32" {
  security_group_id = aws_security_group.cm01.id
  description       = "shopping-6.1/central-wmi"
  ip_protocol       = "tcp"
  from_port         = 135
  to_port           = 135
  cidr_ipv4         = "192.0.2.10/32"
}

resource "aws_vpc_security_group_ingress_rule" "cm01_tcp_135_198_51_100_5_32" {
  security_group_id = aws_security_group.cm01.id
  description       = "shopping-6.1/console-wmi"
  ip_protocol       = "tcp"
  from_port         = 135
  to_port           = 135
  cidr_ipv4         = "198.51.100.5/32"
}

resource "aws_vpc_security_group_ingress_rule" "cm01_tcp_445_192_0_2_10_32" {
  security_group_id = aws_security_group.cm01.id
  description       = "shopping-6.1/central-wmi"
  ip_protocol       = "tcp"
  from_port         = 445
  to_port           = 445
  cidr_ipv4         = "192.0.2.10/32"
}

resource "aws_vpc_security_group_ingress_rule" "cm01_tcp_445_198_51_100_5_32" {
  security_group_id = aws_security_group.cm01.id
  description       = "shopping-6.1/console-wmi"
  ip_protocol       = "tcp"
  from_port         = 445
  to_port           = 445
  cidr_ipv4         = "198.51.100.5/32"
}

resource "aws_vpc_security_group_ingress_rule" "cm01_tcp_3389_198_51_100_5_32" {
  security_group_id = aws_security_group.cm01.id
  description       = "management/rdp"
  ip_protocol       = "tcp"
  from_port         = 3389
  to_port           = 3389
  cidr_ipv4         = "198.51.100.5/32"
}

resource "aws_vpc_security_group_ingress_rule" "cm01_tcp_49152-65535_192_0_2_10_32" {
  security_group_id = aws_security_group.cm01.id
  description       = "shopping-6.1/central-wmi"
  ip_protocol       = "tcp"
  from_port         = 49152
  to_port           = 65535
  cidr_ipv4         = "192.0.2.10/32"
}

resource "aws_vpc_security_group_ingress_rule" "cm01_tcp_49152-65535_198_51_100_5_32" {
  security_group_id = aws_security_group.cm01.id
  description       = "shopping-6.1/console-wmi"
  ip_protocol       = "tcp"
  from_port         = 49152
  to_port           = 65535
  cidr_ipv4         = "198.51.100.5/32"
}

resource "aws_vpc_security_group_egress_rule" "cm01_all_ipv4" {
  security_group_id = aws_security_group.cm01.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "cm01_all_ipv6" {
  security_group_id = aws_security_group.cm01.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv6         = "::/0"
}

# --- cmsql01 -------------------------------------------------------------------------------------
# in  shopping-6.1/central-cm-sql: Communication with the remote Configuration Manager Site database if the Shopping RBAC feature is not used. RBAC uses WMI (DCOM) instead of SQL.
# in  shopping-6.1/console-cm-sql: Communication with the remote Configuration Manager site database if the Shopping RBAC feature is not used. RBAC uses WMI (DCOM) instead of SQL.
# in  shopping-6.1/receiver-cm-sql: Communication with the Configuration Manager site database, if remote.
# in  management/rdp: Remote Desktop administration of every server, kept open whatever the plan says.
resource "aws_security_group" "cmsql01" {
  name        = "portplan-cmsql01"
  description = "portplan: planned traffic of host cmsql01 in deployment contoso-shopping"
  vpc_id      = var.vpc_id

  tags = {
    Name = "portplan-cmsql01"
  }
}

resource "aws_vpc_security_group_ingress_rule" "cmsql01_tcp_1433_192_0_2_10_32" {
  security_group_id = aws_security_group.cmsql01.id
  description       = "shopping-6.1/central-cm-sql"
  ip_protocol       = "tcp"
  from_port         = 1433
  to_port           = 1433
  cidr_ipv4         = "192.0.2.10/32"
}

resource "aws_vpc_security_group_ingress_rule" "cmsql01_tcp_1433_192_0_2_40_32" {
  security_group_id = aws_security_group.cmsql01.id
  description       = "shopping-6.1/receiver-cm-sql"
  ip_protocol       = "tcp"
  from_port         = 1433
  to_port           = 1433
  cidr_ipv4         = "192.0.2.40/32"
}

resource "aws_vpc_security_group_ingress_rule" "cmsql01_tcp_1433_198_51_100_5_32" {
  security_group_id = aws_security_group.cmsql01.id
  description       = "shopping-6.1/console-cm-sql"
  ip_protocol       = "tcp"
  from_port         = 1433
  to_port           = 1433
  cidr_ipv4         = "198.51.100.5/32"
}

resource "aws_vpc_security_group_ingress_rule" "cmsql01_tcp_3389_198_51_100_5_32" {
  security_group_id = aws_security_group.cmsql01.id
  description       = "management/rdp"
  ip_protocol       = "tcp"
  from_port         = 3389
  to_port           = 3389
  cidr_ipv4         = "198.51.100.5/32"
}

resource "aws_vpc_security_group_egress_rule" "cmsql01_all_ipv4" {
  security_group_id = aws_security_group.cmsql01.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "cmsql01_all_ipv6" {
  security_group_id = aws_security_group.cmsql01.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv6         = "::/0"
}

# --- mail01 --------------------------------------------------------------------------------------
# in  shopping-6.1/central-smtp: Communication with a remote SMTP gateway to send emails.
# in  management/rdp: Remote Desktop administration of every server, kept open whatever the plan says.
resource "aws_security_group" "mail01" {
  name        = "portplan-mail01"
  description = "portplan: planned traffic of host mail01 in deployment contoso-shopping"
  vpc_id      = var.vpc_id

  tags = {
    Name = "portplan-mail01"
  }
}

resource "aws_vpc_security_group_ingress_rule" "mail01_tcp_25_192_0_2_10_32" {
  security_group_id = aws_security_group.mail01.id
  description       = "shopping-6.1/central-smtp"
  ip_protocol       = "tcp"
  from_port         = 25
  to_port           = 25
  cidr_ipv4         = "192.0.2.10/32"
}

resource "aws_vpc_security_group_ingress_rule" "mail01_tcp_3389_198_51_100_5_32" {
  security_group_id = aws_security_group.mail01.id
  description       = "management/rdp"
  ip_protocol       = "tcp"
  from_port         = 3389
  to_port           = 3389
  cidr_ipv4         = "198.51.100.5/32"
}

resource "aws_vpc_security_group_egress_rule" "mail01_all_ipv4" {
  security_group_id = aws_security_group.mail01.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "mail01_all_ipv6" {
  security_group_id = aws_security_group.mail01.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv6         = "::/0"
}

# --- appclarity01 --------------------------------------------------------------------------------
# in  shopping-6.1/central-appclarity: Communication with a remote AppClarity server. This is only required only if Shopping uses AppClarity integration.
# in  management/rdp: Remote Desktop administration of every server, kept open whatever the plan says.
resource "aws_security_group" "appclarity01" {
  name        = "portplan-appclarity01"
  description = "portplan: planned traffic of host appclarity01 in deployment contoso-shopping"
  vpc_id      = var.vpc_id

  tags = {
    Name = "portplan-appclarity01"
  }
}

resource "aws_vpc_security_group_ingress_rule" "appclarity01_tcp_3389_198_51_100_5_32" {
  security_group_id = aws_security_group.appclarity01.id
  description       = "management/rdp"
  ip_protocol       = "tcp"
  from_port         = 3389
  to_port           = 3389
  cidr_ipv4         = "198.51.100.5/32"
}

resource "aws_vpc_security_group_ingress_rule" "appclarity01_tcp_8335_192_0_2_10_32" {
  security_group_id = aws_security_group.appclarity01.id
  description       = "shopping-6.1/central-appclarity"
  ip_protocol       = "tcp"
  from_port         = 8335
  to_port           = 8335
  cidr_ipv4         = "192.0.2.10/32"
}

resource "aws_vpc_security_group_egress_rule" "appclarity01_all_ipv4" {
  security_group_id = aws_security_group.appclarity01.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "appclarity01_all_ipv6" {
  security_group_id = aws_security_group.appclarity01.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv6         = "::/0"
}
