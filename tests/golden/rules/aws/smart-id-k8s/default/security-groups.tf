# portplan AWS security groups (Terraform) for deployment bank-smart-id-k8s.
# Generated from the flow plan: every rule's description names the flows it implements; do not edit.
# Needs the hashicorp/aws provider 4.56 or later (aws_vpc_security_group_ingress_rule/_egress_rule).
# Attach portplan-<host> to that host's network interfaces: a security group has no destination address.
# Security groups are stateful and allow only: traffic no rule allows is dropped.
# Egress is not filtered (no --egress): each group allows all outbound traffic.

variable "vpc_id" {
  description = "ID of the VPC that holds the hosts"
  type        = string
}

# --- traefik01 -----------------------------------------------------------------------------------
# in  smart-id-21.04/im-operator/ingress: External TLS communication between a user client to Identity Manager Operator.
# in  smart-id-21.04/im-self-service/ingress: External TLS communication between a user client to Smart ID Self-Service.
# in  smart-id-21.04/im-admin/ingress: External TLS communication between a user client to the Identity Manager Admin.
# in  smart-id-21.04/im-tenant/ingress: External TLS communication between a user client to the Identity Manager Tenant.
# in  smart-id-21.04/hermod/ingress: TLS communication with Smart ID Messaging (Hermod).
# in  management/ssh: SSH administration of every server, kept open whatever the plan says.
resource "aws_security_group" "traefik01" {
  name        = "portplan-traefik01"
  description = "portplan: planned traffic of host traefik01 in deployment bank-smart-id-k8s"
  vpc_id      = var.vpc_id

  tags = {
    Name = "portplan-traefik01"
  }
}

resource "aws_vpc_security_group_ingress_rule" "traefik01_tcp_22_203_0_113_0_28" {
  security_group_id = aws_security_group.traefik01.id
  description       = "management/ssh"
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
  cidr_ipv4         = "203.0.113.0/28"
}

resource "aws_vpc_security_group_ingress_rule" "traefik01_tcp_443_192_0_2_10_32" {
  security_group_id = aws_security_group.traefik01.id
  description       = "smart-id-21.04/hermod/ingress"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "192.0.2.10/32"
}

resource "aws_vpc_security_group_ingress_rule" "traefik01_tcp_443_192_0_2_40_32" {
  security_group_id = aws_security_group.traefik01.id
  description       = "smart-id-21.04/hermod/ingress"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "192.0.2.40/32"
}

resource "aws_vpc_security_group_ingress_rule" "traefik01_tcp_443_203_0_113_128_25" {
  security_group_id = aws_security_group.traefik01.id
  description       = "smart-id-21.04/im-operator/ingress, smart-id-21.04/im-self-service/ingress"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "203.0.113.128/25"
}

resource "aws_vpc_security_group_ingress_rule" "traefik01_tcp_8443_203_0_113_128_25" {
  security_group_id = aws_security_group.traefik01.id
  description       = "smart-id-21.04/im-admin/ingress, smart-id-21.04/im-tenant/ingress"
  ip_protocol       = "tcp"
  from_port         = 8443
  to_port           = 8443
  cidr_ipv4         = "203.0.113.128/25"
}

resource "aws_vpc_security_group_egress_rule" "traefik01_all_ipv4" {
  security_group_id = aws_security_group.traefik01.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "traefik01_all_ipv6" {
  security_group_id = aws_security_group.traefik01.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv6         = "::/0"
}

# --- idm01 ---------------------------------------------------------------------------------------
# in  smart-id-21.04/im-operator/backend: External TLS communication between a user client to Identity Manager Operator.
# in  smart-id-21.04/im-self-service/backend: External TLS communication between a user client to Smart ID Self-Service.
# in  smart-id-21.04/im-admin/backend: External TLS communication between a user client to the Identity Manager Admin.
# in  smart-id-21.04/im-tenant/backend: External TLS communication between a user client to the Identity Manager Tenant.
# in  management/ssh: SSH administration of every server, kept open whatever the plan says.
# not reachable (no address of that family here): smart-id-21.04/im-operator/backend (traefik01 -> idm01: IPv6)
# not reachable (no address of that family here): smart-id-21.04/im-self-service/backend (traefik01 -> idm01: IPv6)
# not reachable (no address of that family here): smart-id-21.04/im-admin/backend (traefik01 -> idm01: IPv6)
# not reachable (no address of that family here): smart-id-21.04/im-tenant/backend (traefik01 -> idm01: IPv6)
resource "aws_security_group" "idm01" {
  name        = "portplan-idm01"
  description = "portplan: planned traffic of host idm01 in deployment bank-smart-id-k8s"
  vpc_id      = var.vpc_id

  tags = {
    Name = "portplan-idm01"
  }
}

resource "aws_vpc_security_group_ingress_rule" "idm01_tcp_22_203_0_113_0_28" {
  security_group_id = aws_security_group.idm01.id
  description       = "management/ssh"
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
  cidr_ipv4         = "203.0.113.0/28"
}

resource "aws_vpc_security_group_ingress_rule" "idm01_tcp_7071-7074_198_51_100_10_32" {
  security_group_id = aws_security_group.idm01.id
  description       = "smart-id-21.04/im-operator/backend, smart-id-21.04/im-self-service/backend, smart-id-21.04/im-admin/backend, smart-id-21.04/im-tenant/backend"
  ip_protocol       = "tcp"
  from_port         = 7071
  to_port           = 7074
  cidr_ipv4         = "198.51.100.10/32"
}

resource "aws_vpc_security_group_egress_rule" "idm01_all_ipv4" {
  security_group_id = aws_security_group.idm01.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "idm01_all_ipv6" {
  security_group_id = aws_security_group.idm01.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv6         = "::/0"
}

# --- pa01 ----------------------------------------------------------------------------------------
# in  smart-id-21.04/pa-admin: TLS communication with Physical Access Admin.
# in  smart-id-21.04/pa-rabbitmq: External communication between Physical Access and RabbitMQ.
# in  smart-id-21.04/pa-scim: Internal communication between Physical Access and SCIM API.
# in  management/ssh: SSH administration of every server, kept open whatever the plan says.
resource "aws_security_group" "pa01" {
  name        = "portplan-pa01"
  description = "portplan: planned traffic of host pa01 in deployment bank-smart-id-k8s"
  vpc_id      = var.vpc_id

  tags = {
    Name = "portplan-pa01"
  }
}

resource "aws_vpc_security_group_ingress_rule" "pa01_tcp_22_203_0_113_0_28" {
  security_group_id = aws_security_group.pa01.id
  description       = "management/ssh"
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
  cidr_ipv4         = "203.0.113.0/28"
}

resource "aws_vpc_security_group_ingress_rule" "pa01_tcp_443_203_0_113_128_25" {
  security_group_id = aws_security_group.pa01.id
  description       = "smart-id-21.04/pa-admin"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "203.0.113.128/25"
}

resource "aws_vpc_security_group_ingress_rule" "pa01_tcp_5672_192_0_2_70_32" {
  security_group_id = aws_security_group.pa01.id
  description       = "smart-id-21.04/pa-rabbitmq"
  ip_protocol       = "tcp"
  from_port         = 5672
  to_port           = 5672
  cidr_ipv4         = "192.0.2.70/32"
}

resource "aws_vpc_security_group_ingress_rule" "pa01_tcp_9090_192_0_2_60_32" {
  security_group_id = aws_security_group.pa01.id
  description       = "smart-id-21.04/pa-scim"
  ip_protocol       = "tcp"
  from_port         = 9090
  to_port           = 9090
  cidr_ipv4         = "192.0.2.60/32"
}

resource "aws_vpc_security_group_ingress_rule" "pa01_tcp_15672_192_0_2_70_32" {
  security_group_id = aws_security_group.pa01.id
  description       = "smart-id-21.04/pa-rabbitmq"
  ip_protocol       = "tcp"
  from_port         = 15672
  to_port           = 15672
  cidr_ipv4         = "192.0.2.70/32"
}

resource "aws_vpc_security_group_egress_rule" "pa01_all_ipv4" {
  security_group_id = aws_security_group.pa01.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "pa01_all_ipv6" {
  security_group_id = aws_security_group.pa01.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv6         = "::/0"
}

# --- msg01 ---------------------------------------------------------------------------------------
# in  smart-id-21.04/hermod/backend: TLS communication with Smart ID Messaging (Hermod).
# in  management/ssh: SSH administration of every server, kept open whatever the plan says.
# not reachable (no address of that family here): smart-id-21.04/hermod/backend (traefik01 -> msg01: IPv6)
resource "aws_security_group" "msg01" {
  name        = "portplan-msg01"
  description = "portplan: planned traffic of host msg01 in deployment bank-smart-id-k8s"
  vpc_id      = var.vpc_id

  tags = {
    Name = "portplan-msg01"
  }
}

resource "aws_vpc_security_group_ingress_rule" "msg01_tcp_22_203_0_113_0_28" {
  security_group_id = aws_security_group.msg01.id
  description       = "management/ssh"
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
  cidr_ipv4         = "203.0.113.0/28"
}

resource "aws_vpc_security_group_ingress_rule" "msg01_tcp_20400_198_51_100_10_32" {
  security_group_id = aws_security_group.msg01.id
  description       = "smart-id-21.04/hermod/backend"
  ip_protocol       = "tcp"
  from_port         = 20400
  to_port           = 20400
  cidr_ipv4         = "198.51.100.10/32"
}

resource "aws_vpc_security_group_egress_rule" "msg01_all_ipv4" {
  security_group_id = aws_security_group.msg01.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "msg01_all_ipv6" {
  security_group_id = aws_security_group.msg01.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv6         = "::/0"
}

# --- da-edge01 -----------------------------------------------------------------------------------
# in  smart-id-21.04/da-access-point: External communication between the user client/Nexus Access Client and the Access point over SSL. Since the Access point serves as a reverse proxy, all communicat
# in  management/ssh: SSH administration of every server, kept open whatever the plan says.
resource "aws_security_group" "da-edge01" {
  name        = "portplan-da-edge01"
  description = "portplan: planned traffic of host da-edge01 in deployment bank-smart-id-k8s"
  vpc_id      = var.vpc_id

  tags = {
    Name = "portplan-da-edge01"
  }
}

resource "aws_vpc_security_group_ingress_rule" "da-edge01_tcp_22_203_0_113_0_28" {
  security_group_id = aws_security_group.da-edge01.id
  description       = "management/ssh"
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
  cidr_ipv4         = "203.0.113.0/28"
}

resource "aws_vpc_security_group_ingress_rule" "da-edge01_tcp_443_203_0_113_128_25" {
  security_group_id = aws_security_group.da-edge01.id
  description       = "smart-id-21.04/da-access-point"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "203.0.113.128/25"
}

resource "aws_vpc_security_group_egress_rule" "da-edge01_all_ipv4" {
  security_group_id = aws_security_group.da-edge01.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "da-edge01_all_ipv6" {
  security_group_id = aws_security_group.da-edge01.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv6         = "::/0"
}

# --- da01 ----------------------------------------------------------------------------------------
# in  smart-id-21.04/da-admin-service: External communication between an administrator client to Authentication service for configuration work on Hybrid Access Gateway. The port can be set up as web r
# in  smart-id-21.04/da-policy-xpi: Internal and external communication to the web service (XPI) interface of Hybrid Access Gateway. This communication needs to be enabled within the Policy service (M
# in  smart-id-21.04/da-distribution-image: Internal or external communication from the Access point and any user client to the Distribution service to access the Image API. This is required to receiv
# in  smart-id-21.04/da-radius: Internal and external communication between the Policy service and any RADIUS client to the Authentication service to verify an authentication attempt over RADIUS proto
# in  smart-id-21.04/da-lcp-admin: Internal communication between all services and the Administration service over proprietary LCP protocol.
# in  smart-id-21.04/da-lcp-policy-access-point: Internal communication between the Access point and Policy service over proprietary LCP protocol.
# in  management/ssh: SSH administration of every server, kept open whatever the plan says.
resource "aws_security_group" "da01" {
  name        = "portplan-da01"
  description = "portplan: planned traffic of host da01 in deployment bank-smart-id-k8s"
  vpc_id      = var.vpc_id

  tags = {
    Name = "portplan-da01"
  }
}

resource "aws_vpc_security_group_ingress_rule" "da01_tcp_22_203_0_113_0_28" {
  security_group_id = aws_security_group.da01.id
  description       = "management/ssh"
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
  cidr_ipv4         = "203.0.113.0/28"
}

resource "aws_vpc_security_group_ingress_rule" "da01_tcp_4443_198_51_100_20_32" {
  security_group_id = aws_security_group.da01.id
  description       = "smart-id-21.04/da-policy-xpi"
  ip_protocol       = "tcp"
  from_port         = 4443
  to_port           = 4443
  cidr_ipv4         = "198.51.100.20/32"
}

resource "aws_vpc_security_group_ingress_rule" "da01_tcp_8300-8301_198_51_100_20_32" {
  security_group_id = aws_security_group.da01.id
  description       = "smart-id-21.04/da-lcp-admin, smart-id-21.04/da-lcp-policy-access-point"
  ip_protocol       = "tcp"
  from_port         = 8300
  to_port           = 8301
  cidr_ipv4         = "198.51.100.20/32"
}

resource "aws_vpc_security_group_ingress_rule" "da01_tcp_8443_203_0_113_0_28" {
  security_group_id = aws_security_group.da01.id
  description       = "smart-id-21.04/da-admin-service"
  ip_protocol       = "tcp"
  from_port         = 8443
  to_port           = 8443
  cidr_ipv4         = "203.0.113.0/28"
}

resource "aws_vpc_security_group_ingress_rule" "da01_tcp_9443_198_51_100_20_32" {
  security_group_id = aws_security_group.da01.id
  description       = "smart-id-21.04/da-distribution-image"
  ip_protocol       = "tcp"
  from_port         = 9443
  to_port           = 9443
  cidr_ipv4         = "198.51.100.20/32"
}

resource "aws_vpc_security_group_ingress_rule" "da01_tcp_9443_203_0_113_128_25" {
  security_group_id = aws_security_group.da01.id
  description       = "smart-id-21.04/da-distribution-image"
  ip_protocol       = "tcp"
  from_port         = 9443
  to_port           = 9443
  cidr_ipv4         = "203.0.113.128/25"
}

resource "aws_vpc_security_group_ingress_rule" "da01_udp_18118-18126_192_0_2_96_29" {
  security_group_id = aws_security_group.da01.id
  description       = "smart-id-21.04/da-radius"
  ip_protocol       = "udp"
  from_port         = 18118
  to_port           = 18126
  cidr_ipv4         = "192.0.2.96/29"
}

resource "aws_vpc_security_group_egress_rule" "da01_all_ipv4" {
  security_group_id = aws_security_group.da01.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "da01_all_ipv6" {
  security_group_id = aws_security_group.da01.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv6         = "::/0"
}

# --- pgsql01 -------------------------------------------------------------------------------------
# in  smart-id-21.04/da-external-database: Internal or external communication between Administration service, Policy service and Authentication service to the internal Postgres database. These ports a
# in  management/ssh: SSH administration of every server, kept open whatever the plan says.
resource "aws_security_group" "pgsql01" {
  name        = "portplan-pgsql01"
  description = "portplan: planned traffic of host pgsql01 in deployment bank-smart-id-k8s"
  vpc_id      = var.vpc_id

  tags = {
    Name = "portplan-pgsql01"
  }
}

resource "aws_vpc_security_group_ingress_rule" "pgsql01_tcp_22_203_0_113_0_28" {
  security_group_id = aws_security_group.pgsql01.id
  description       = "management/ssh"
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
  cidr_ipv4         = "203.0.113.0/28"
}

resource "aws_vpc_security_group_ingress_rule" "pgsql01_tcp_5433_192_0_2_40_32" {
  security_group_id = aws_security_group.pgsql01.id
  description       = "smart-id-21.04/da-external-database"
  ip_protocol       = "tcp"
  from_port         = 5433
  to_port           = 5433
  cidr_ipv4         = "192.0.2.40/32"
}

resource "aws_vpc_security_group_egress_rule" "pgsql01_all_ipv4" {
  security_group_id = aws_security_group.pgsql01.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "pgsql01_all_ipv6" {
  security_group_id = aws_security_group.pgsql01.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv6         = "::/0"
}

# --- scim01 --------------------------------------------------------------------------------------
# in  management/ssh: SSH administration of every server, kept open whatever the plan says.
resource "aws_security_group" "scim01" {
  name        = "portplan-scim01"
  description = "portplan: planned traffic of host scim01 in deployment bank-smart-id-k8s"
  vpc_id      = var.vpc_id

  tags = {
    Name = "portplan-scim01"
  }
}

resource "aws_vpc_security_group_ingress_rule" "scim01_tcp_22_203_0_113_0_28" {
  security_group_id = aws_security_group.scim01.id
  description       = "management/ssh"
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
  cidr_ipv4         = "203.0.113.0/28"
}

resource "aws_vpc_security_group_egress_rule" "scim01_all_ipv4" {
  security_group_id = aws_security_group.scim01.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "scim01_all_ipv6" {
  security_group_id = aws_security_group.scim01.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv6         = "::/0"
}

# --- rabbit01 ------------------------------------------------------------------------------------
# in  management/ssh: SSH administration of every server, kept open whatever the plan says.
resource "aws_security_group" "rabbit01" {
  name        = "portplan-rabbit01"
  description = "portplan: planned traffic of host rabbit01 in deployment bank-smart-id-k8s"
  vpc_id      = var.vpc_id

  tags = {
    Name = "portplan-rabbit01"
  }
}

resource "aws_vpc_security_group_ingress_rule" "rabbit01_tcp_22_203_0_113_0_28" {
  security_group_id = aws_security_group.rabbit01.id
  description       = "management/ssh"
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
  cidr_ipv4         = "203.0.113.0/28"
}

resource "aws_vpc_security_group_egress_rule" "rabbit01_all_ipv4" {
  security_group_id = aws_security_group.rabbit01.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "rabbit01_all_ipv6" {
  security_group_id = aws_security_group.rabbit01.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv6         = "::/0"
}

# --- sipass01 ------------------------------------------------------------------------------------
# in  smart-id-21.04/pa-sipass: External communication with Physical Access connector server.
# in  management/ssh: SSH administration of every server, kept open whatever the plan says.
resource "aws_security_group" "sipass01" {
  name        = "portplan-sipass01"
  description = "portplan: planned traffic of host sipass01 in deployment bank-smart-id-k8s"
  vpc_id      = var.vpc_id

  tags = {
    Name = "portplan-sipass01"
  }
}

resource "aws_vpc_security_group_ingress_rule" "sipass01_tcp_22_203_0_113_0_28" {
  security_group_id = aws_security_group.sipass01.id
  description       = "management/ssh"
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
  cidr_ipv4         = "203.0.113.0/28"
}

resource "aws_vpc_security_group_ingress_rule" "sipass01_tcp_8745_192_0_2_20_32" {
  security_group_id = aws_security_group.sipass01.id
  description       = "smart-id-21.04/pa-sipass"
  ip_protocol       = "tcp"
  from_port         = 8745
  to_port           = 8745
  cidr_ipv4         = "192.0.2.20/32"
}

resource "aws_vpc_security_group_egress_rule" "sipass01_all_ipv4" {
  security_group_id = aws_security_group.sipass01.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "sipass01_all_ipv6" {
  security_group_id = aws_security_group.sipass01.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv6         = "::/0"
}
