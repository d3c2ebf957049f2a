firewall {
    family inet {
        /*
         ** portplan bank-smart-id-k8s: admin to dmz, IPv4, 1 term from the flow plan, then deny everything else. Apply as an input filter on the interface facing the source zone. Stateless: replies need the reverse filter. Generated: do not edit.
         */
        replace: filter portplan-admin-to-dmz {
            interface-specific;
            /*
             ** management/ssh (admin-net -> da-edge01, traefik01; deployment management access): SSH administration of every server, kept open whatever the plan says.
             */
            term management-ssh-390640de {
                from {
                    source-address {
                        203.0.113.0/28;
                    }
                    destination-address {
                        198.51.100.10/32;
                        198.51.100.20/32;
                    }
                    protocol tcp;
                    destination-port 22;
                }
                then accept;
            }
            /*
             ** everything else from admin to dmz over IPv4: not in the plan
             */
            term deny-admin-to-dmz-v4 {
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
         ** portplan bank-smart-id-k8s: admin to dmz, IPv6, no terms from the flow plan, then deny everything else. Apply as an input filter on the interface facing the source zone. Stateless: replies need the reverse filter. Generated: do not edit.
         */
        replace: filter portplan-admin-to-dmz-v6 {
            interface-specific;
            /*
             ** IPv6 neighbour discovery (solicitations, advertisements): without it, IPv6 does not work on the interface
             */
            term nd-admin-to-dmz-v6 {
                from {
                    next-header icmp6;
                    icmp-type [ 135 136 ];
                }
                then accept;
            }
            /*
             ** everything else from admin to dmz over IPv6: not in the plan
             */
            term deny-admin-to-dmz-v6 {
                then discard;
            }
        }
    }
}
