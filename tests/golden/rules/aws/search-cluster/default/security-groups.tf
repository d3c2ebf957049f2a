# portplan AWS security groups (Terraform) for deployment search-cluster.
# Generated from the flow plan: every rule's description names the flows it implements; do not edit.
# Needs the hashicorp/aws provider 4.56 or later (aws_vpc_security_group_ingress_rule/_egress_rule).
# Attach portplan-<host> to that host's network interfaces: a security group has no destination address.
# Security groups are stateful and allow only: traffic no rule allows is dropped.
# Egress is not filtered (no --egress): each group allows all outbound traffic.
# no security group for monitor: host 'monitor' is 'managed: false' in the deployment: a system portplan only talks to, whose firewall others run
# no security group for updates: host 'updates' is 'managed: false' in the deployment: a system portplan only talks to, whose firewall others run

variable "vpc_id" {
  description = "ID of the VPC that holds the hosts"
  type        = string
}

# --- search --------------------------------------------------------------------------------------
# in  example-search-2.0/rest: REST API for search and indexing clients.
# in  example-search-2.0/transport: Node-to-node transport (cluster membership, shard replication).
# in  example-search-2.0/node-ping: Nodes ping each other to detect a failed member.
# in  example-search-2.0/dashboard-search: The dashboard queries the cluster.
# in  example-search-2.0/monitoring-ping: Monitoring pings every node and the dashboard.
# in  management/ssh: SSH administration.
# not reachable (no address of that family here): example-search-2.0/rest (anywhere -> search: IPv6)
# not reachable (no address of that family here): example-search-2.0/dashboard-search (dash01 -> search: IPv6)
# not reachable (no address of that family here): example-search-2.0/monitoring-ping (monitor -> search: IPv6)
resource "aws_security_group" "search" {
  name        = "portplan-search"
  description = "portplan: planned traffic of host search in deployment search-cluster"
  vpc_id      = var.vpc_id

  tags = {
    Name = "portplan-search"
  }
}

resource "aws_vpc_security_group_ingress_rule" "search_icmp_8_192_0_2_11_32" {
  security_group_id = aws_security_group.search.id
  description       = "example-search-2.0/node-ping"
  ip_protocol       = "icmp"
  from_port         = 8
  to_port           = -1
  cidr_ipv4         = "192.0.2.11/32"
}

resource "aws_vpc_security_group_ingress_rule" "search_icmp_8_192_0_2_12_32" {
  security_group_id = aws_security_group.search.id
  description       = "example-search-2.0/node-ping"
  ip_protocol       = "icmp"
  from_port         = 8
  to_port           = -1
  cidr_ipv4         = "192.0.2.12/32"
}

resource "aws_vpc_security_group_ingress_rule" "search_icmp_8_192_0_2_13_32" {
  security_group_id = aws_security_group.search.id
  description       = "example-search-2.0/node-ping"
  ip_protocol       = "icmp"
  from_port         = 8
  to_port           = -1
  cidr_ipv4         = "192.0.2.13/32"
}

resource "aws_vpc_security_group_ingress_rule" "search_icmp_8_203_0_113_50_32" {
  security_group_id = aws_security_group.search.id
  description       = "example-search-2.0/monitoring-ping"
  ip_protocol       = "icmp"
  from_port         = 8
  to_port           = -1
  cidr_ipv4         = "203.0.113.50/32"
}

resource "aws_vpc_security_group_ingress_rule" "search_tcp_22_203_0_113_0_28" {
  security_group_id = aws_security_group.search.id
  description       = "management/ssh"
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
  cidr_ipv4         = "203.0.113.0/28"
}

resource "aws_vpc_security_group_ingress_rule" "search_tcp_9200_0_0_0_0_0" {
  security_group_id = aws_security_group.search.id
  description       = "example-search-2.0/rest"
  ip_protocol       = "tcp"
  from_port         = 9200
  to_port           = 9200
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "search_tcp_9200_198_51_100_20_32" {
  security_group_id = aws_security_group.search.id
  description       = "example-search-2.0/dashboard-search"
  ip_protocol       = "tcp"
  from_port         = 9200
  to_port           = 9200
  cidr_ipv4         = "198.51.100.20/32"
}

resource "aws_vpc_security_group_ingress_rule" "search_tcp_9300_192_0_2_11_32" {
  security_group_id = aws_security_group.search.id
  description       = "example-search-2.0/transport"
  ip_protocol       = "tcp"
  from_port         = 9300
  to_port           = 9300
  cidr_ipv4         = "192.0.2.11/32"
}

resource "aws_vpc_security_group_ingress_rule" "search_tcp_9300_192_0_2_12_32" {
  security_group_id = aws_security_group.search.id
  description       = "example-search-2.0/transport"
  ip_protocol       = "tcp"
  from_port         = 9300
  to_port           = 9300
  cidr_ipv4         = "192.0.2.12/32"
}

resource "aws_vpc_security_group_ingress_rule" "search_tcp_9300_192_0_2_13_32" {
  security_group_id = aws_security_group.search.id
  description       = "example-search-2.0/transport"
  ip_protocol       = "tcp"
  from_port         = 9300
  to_port           = 9300
  cidr_ipv4         = "192.0.2.13/32"
}

resource "aws_vpc_security_group_egress_rule" "search_all_ipv4" {
  security_group_id = aws_security_group.search.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "search_all_ipv6" {
  security_group_id = aws_security_group.search.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv6         = "::/0"
}

# --- dash01 --------------------------------------------------------------------------------------
# in  example-search-2.0/dashboard-web: Users open the dashboard in a browser.
# in  example-search-2.0/monitoring-ping: Monitoring pings every node and the dashboard.
# in  example-search-2.0/path-mtu: ICMP errors from any router on the path, for path MTU discovery.
# in  management/ssh: SSH administration.
resource "aws_security_group" "dash01" {
  name        = "portplan-dash01"
  description = "portplan: planned traffic of host dash01 in deployment search-cluster"
  vpc_id      = var.vpc_id

  tags = {
    Name = "portplan-dash01"
  }
}

resource "aws_vpc_security_group_ingress_rule" "dash01_icmp_3_0_0_0_0_0" {
  security_group_id = aws_security_group.dash01.id
  description       = "example-search-2.0/path-mtu"
  ip_protocol       = "icmp"
  from_port         = 3
  to_port           = -1
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "dash01_icmp_8_203_0_113_50_32" {
  security_group_id = aws_security_group.dash01.id
  description       = "example-search-2.0/monitoring-ping"
  ip_protocol       = "icmp"
  from_port         = 8
  to_port           = -1
  cidr_ipv4         = "203.0.113.50/32"
}

resource "aws_vpc_security_group_ingress_rule" "dash01_icmpv6_1____0" {
  security_group_id = aws_security_group.dash01.id
  description       = "example-search-2.0/path-mtu"
  ip_protocol       = "icmpv6"
  from_port         = 1
  to_port           = -1
  cidr_ipv6         = "::/0"
}

resource "aws_vpc_security_group_ingress_rule" "dash01_icmpv6_2____0" {
  security_group_id = aws_security_group.dash01.id
  description       = "example-search-2.0/path-mtu"
  ip_protocol       = "icmpv6"
  from_port         = 2
  to_port           = -1
  cidr_ipv6         = "::/0"
}

resource "aws_vpc_security_group_ingress_rule" "dash01_icmpv6_128_2001_db8_50__50_128" {
  security_group_id = aws_security_group.dash01.id
  description       = "example-search-2.0/monitoring-ping"
  ip_protocol       = "icmpv6"
  from_port         = 128
  to_port           = -1
  cidr_ipv6         = "2001:db8:50::50/128"
}

resource "aws_vpc_security_group_ingress_rule" "dash01_tcp_22_203_0_113_0_28" {
  security_group_id = aws_security_group.dash01.id
  description       = "management/ssh"
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
  cidr_ipv4         = "203.0.113.0/28"
}

resource "aws_vpc_security_group_ingress_rule" "dash01_tcp_5601_0_0_0_0_0" {
  security_group_id = aws_security_group.dash01.id
  description       = "example-search-2.0/dashboard-web"
  ip_protocol       = "tcp"
  from_port         = 5601
  to_port           = 5601
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "dash01_tcp_5601____0" {
  security_group_id = aws_security_group.dash01.id
  description       = "example-search-2.0/dashboard-web"
  ip_protocol       = "tcp"
  from_port         = 5601
  to_port           = 5601
  cidr_ipv6         = "::/0"
}

resource "aws_vpc_security_group_egress_rule" "dash01_all_ipv4" {
  security_group_id = aws_security_group.dash01.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "dash01_all_ipv6" {
  security_group_id = aws_security_group.dash01.id
  description       = "egress not filtered (rules without --egress)"
  ip_protocol       = "-1"
  cidr_ipv6         = "::/0"
}
