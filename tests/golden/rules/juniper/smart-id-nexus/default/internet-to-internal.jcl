firewall {
    family inet {
        /*
         ** portplan bank-smart-id: internet to internal, IPv4, 2 terms from the flow plan, then deny everything else. Apply as an input filter on the interface facing the source zone. Stateless: replies need the reverse filter. Generated: do not edit.
         */
        replace: filter portplan-internet-to-internal {
            interface-specific;
            /*
             ** smart-id-21.04/pa-admin (internet -> pa01; Default ports in Smart ID > row 5): TLS communication with Physical Access Admin.
             */
            term smart-id-21-04-pa-admin-72b4f626 {
                from {
                    source-address {
                        203.0.113.128/25;
                    }
                    destination-address {
                        192.0.2.20/32;
                    }
                    protocol tcp;
                    destination-port 443;
                }
                then accept;
            }
            /*
             ** smart-id-21.04/da-distribution-image (internet -> da01; Default ports in Smart ID > row 13): Internal or external communication from the Access point and any user client to the Distribution service to access the Image API. This is required to receive images the user must compare during Personal...
             */
            term smart-id-21-04-da-distribution-image-2911bb30 {
                from {
                    source-address {
                        203.0.113.128/25;
                    }
                    destination-address {
                        192.0.2.40/32;
                    }
                    protocol tcp;
                    destination-port 9443;
                }
                then accept;
            }
            /*
             ** everything else from internet to internal over IPv4: not in the plan
             */
            term deny-internet-to-internal-v4 {
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
         ** portplan bank-smart-id: internet to internal, IPv6, no terms from the flow plan, then deny everything else. Apply as an input filter on the interface facing the source zone. Stateless: replies need the reverse filter. Generated: do not edit.
         */
        replace: filter portplan-internet-to-internal-v6 {
            interface-specific;
            /*
             ** IPv6 neighbour discovery (solicitations, advertisements): without it, IPv6 does not work on the interface
             */
            term nd-internet-to-internal-v6 {
                from {
                    next-header icmp6;
                    icmp-type [ 135 136 ];
                }
                then accept;
            }
            /*
             ** everything else from internet to internal over IPv6: not in the plan
             */
            term deny-internet-to-internal-v6 {
                then discard;
            }
        }
    }
}
