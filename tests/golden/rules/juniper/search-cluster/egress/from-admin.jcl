firewall {
    family inet {
        /*
         ** portplan search-cluster: admin to dmz, internal, IPv4, 4 terms from the flow plan, then deny everything else. Apply as the input filter of this family on the interface facing the source zone. Stateless: replies need the reverse filter. Generated: do not edit.
         */
        replace: filter portplan-from-admin {
            interface-specific;
            /*
             ** example-search-2.0/monitoring-ping (monitor -> dash01; Example Search 2.0 - Network ports > row 6): Monitoring pings every node and the dashboard.
             */
            term example-search-2-0-monitoring-ping-0f65fce0 {
                from {
                    source-address {
                        203.0.113.50/32;
                    }
                    destination-address {
                        198.51.100.20/32;
                    }
                    protocol icmp;
                    icmp-type 8;
                }
                then accept;
            }
            /*
             ** management/ssh (admin-net -> dash01; deployment management access): SSH administration.
             */
            term management-ssh-018f0d09 {
                from {
                    source-address {
                        203.0.113.0/28;
                    }
                    destination-address {
                        198.51.100.20/32;
                    }
                    protocol tcp;
                    destination-port 22;
                }
                then accept;
            }
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
             ** everything else from admin over IPv4: not in the plan
             */
            term deny-from-admin-v4 {
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
         ** portplan search-cluster: admin to dmz, internal, IPv6, 1 term from the flow plan, then deny everything else. Apply as the input filter of this family on the interface facing the source zone. Stateless: replies need the reverse filter. Generated: do not edit.
         */
        replace: filter portplan-from-admin-v6 {
            interface-specific;
            /*
             ** example-search-2.0/monitoring-ping (monitor -> dash01; Example Search 2.0 - Network ports > row 6): Monitoring pings every node and the dashboard.
             */
            term example-search-2-0-monitoring-ping-fe6af329 {
                from {
                    source-address {
                        2001:db8:50::50/128;
                    }
                    destination-address {
                        2001:db8:20::20/128;
                    }
                    next-header icmp6;
                    icmp-type 128;
                }
                then accept;
            }
            /*
             ** IPv6 neighbour discovery (solicitations, advertisements): without it, IPv6 does not work on the interface
             */
            term nd-from-admin-v6 {
                from {
                    next-header icmp6;
                    icmp-type [ 135 136 ];
                }
                then accept;
            }
            /*
             ** everything else from admin over IPv6: not in the plan
             */
            term deny-from-admin-v6 {
                then discard;
            }
        }
    }
}
