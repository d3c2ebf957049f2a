firewall {
    family inet {
        /*
         ** portplan bank-smart-id-k8s: internal to dmz, IPv4, 1 term from the flow plan, then deny everything else. Apply as the input filter of this family on the interface facing the source zone. Stateless: replies need the reverse filter. Generated: do not edit.
         */
        replace: filter portplan-from-internal {
            interface-specific;
            /*
             ** smart-id-21.04/hermod/ingress (da01, idm01 -> traefik01; Default ports in Smart ID > row 9): TLS communication with Smart ID Messaging (Hermod).
             */
            term smart-id-21-04-hermod-ingress-8f2ac13f {
                from {
                    source-address {
                        192.0.2.10/32;
                        192.0.2.40/32;
                    }
                    destination-address {
                        198.51.100.10/32;
                    }
                    protocol tcp;
                    destination-port 443;
                }
                then accept;
            }
            /*
             ** everything else from internal over IPv4: not in the plan
             */
            term deny-from-internal-v4 {
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
         ** portplan bank-smart-id-k8s: internal to dmz, IPv6, no terms from the flow plan, then deny everything else. Apply as the input filter of this family on the interface facing the source zone. Stateless: replies need the reverse filter. Generated: do not edit.
         */
        replace: filter portplan-from-internal-v6 {
            interface-specific;
            /*
             ** IPv6 neighbour discovery (solicitations, advertisements): without it, IPv6 does not work on the interface
             */
            term nd-from-internal-v6 {
                from {
                    next-header icmp6;
                    icmp-type [ 135 136 ];
                }
                then accept;
            }
            /*
             ** everything else from internal over IPv6: not in the plan
             */
            term deny-from-internal-v6 {
                then discard;
            }
        }
    }
}
