firewall {
    family inet {
        /*
         ** portplan search-cluster: admin to internal, IPv4, 2 terms from the flow plan, then deny everything else. Apply as an input filter on the interface facing the source zone. Stateless: replies need the reverse filter. Generated: do not edit.
         */
        replace: filter portplan-admin-to-internal {
            interface-specific;
            /*
             ** example-search-2.0/monitoring-ping (monitor -> search; Example Search 2.0 - Network ports > row 6): Monitoring pings every node and the dashboard.
             */
            term example-search-2-0-monitoring-ping-d26c9454 {
                from {
                    source-address {
                        203.0.113.50/32;
                    }
                    destination-address {
                        192.0.2.11/32;
                        192.0.2.12/31;
                    }
                    protocol icmp;
                    icmp-type 8;
                }
                then accept;
            }
            /*
             ** management/ssh (admin-net -> search; deployment management access): SSH administration.
             */
            term management-ssh-3d23a290 {
                from {
                    source-address {
                        203.0.113.0/28;
                    }
                    destination-address {
                        192.0.2.11/32;
                        192.0.2.12/31;
                    }
                    protocol tcp;
                    destination-port 22;
                }
                then accept;
            }
            /*
             ** everything else from admin to internal over IPv4: not in the plan
             */
            term deny-admin-to-internal-v4 {
                then {
                    discard;
                }
            }
        }
    }
}
firewall {
    family inet6 {
        /*
         ** portplan search-cluster: admin to internal, IPv6, no terms from the flow plan, then deny everything else. Apply as an input filter on the interface facing the source zone. Stateless: replies need the reverse filter. Generated: do not edit.
         */
        replace: filter portplan-admin-to-internal-v6 {
            interface-specific;
            /*
             ** IPv6 neighbour discovery (solicitations, advertisements): without it, IPv6 does not work on the interface
             */
            term nd-admin-to-internal-v6 {
                from {
                    next-header icmp6;
                    icmp-type [ 135 136 ];
                }
                then accept;
            }
            /*
             ** everything else from admin to internal over IPv6: not in the plan
             */
            term deny-admin-to-internal-v6 {
                then discard;
            }
        }
    }
}
