firewall {
    family inet {
        /*
         ** portplan search-cluster: dmz to internal, IPv4, 1 term from the flow plan, then deny everything else. Apply as the input filter of this family on the interface facing the source zone. Stateless: replies need the reverse filter. Generated: do not edit.
         */
        replace: filter portplan-from-dmz {
            interface-specific;
            /*
             ** example-search-2.0/dashboard-search (dash01 -> search; Example Search 2.0 - Network ports > row 5): The dashboard queries the cluster.
             */
            term example-search-2-0-dashboard-search-9d3eb2e0 {
                from {
                    source-address {
                        198.51.100.20/32;
                    }
                    destination-address {
                        192.0.2.11/32;
                        192.0.2.12/31;
                    }
                    protocol tcp;
                    destination-port 9200;
                }
                then accept;
            }
            /*
             ** everything else from dmz over IPv4: not in the plan
             */
            term deny-from-dmz-v4 {
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
         ** portplan search-cluster: dmz to internal, IPv6, no terms from the flow plan, then deny everything else. Apply as the input filter of this family on the interface facing the source zone. Stateless: replies need the reverse filter. Generated: do not edit.
         */
        replace: filter portplan-from-dmz-v6 {
            interface-specific;
            /*
             ** IPv6 neighbour discovery (solicitations, advertisements): without it, IPv6 does not work on the interface
             */
            term nd-from-dmz-v6 {
                from {
                    next-header icmp6;
                    icmp-type [ 135 136 ];
                }
                then accept;
            }
            /*
             ** everything else from dmz over IPv6: not in the plan
             */
            term deny-from-dmz-v6 {
                then discard;
            }
        }
    }
}
