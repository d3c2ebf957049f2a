firewall {
    family inet {
        /*
         ** portplan bank-smart-id-k8s: admin to dmz, internal, IPv4, 3 terms from the flow plan, then deny everything else. Apply as the input filter of this family on the interface facing the source zone. Stateless: replies need the reverse filter. Generated: do not edit.
         */
        replace: filter portplan-from-admin {
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
             ** smart-id-21.04/da-admin-service (admin-net -> da01; Default ports in Smart ID > row 10): External communication between an administrator client to Authentication service for configuration work on Hybrid Access Gateway. The port can be set up as web resource and therefore routed through the...
             */
            term smart-id-21-04-da-admin-service-a0011933 {
                from {
                    source-address {
                        203.0.113.0/28;
                    }
                    destination-address {
                        192.0.2.40/32;
                    }
                    protocol tcp;
                    destination-port 8443;
                }
                then accept;
            }
            /*
             ** management/ssh (admin-net -> da01, idm01, msg01 and 5 more; deployment management access): SSH administration of every server, kept open whatever the plan says.
             */
            term management-ssh-8764bfe6 {
                from {
                    source-address {
                        203.0.113.0/28;
                    }
                    destination-address {
                        192.0.2.10/32;
                        192.0.2.20/32;
                        192.0.2.30/32;
                        192.0.2.40/32;
                        192.0.2.50/32;
                        192.0.2.60/32;
                        192.0.2.70/32;
                        192.0.2.80/32;
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
         ** portplan bank-smart-id-k8s: admin to dmz, internal, IPv6, no terms from the flow plan, then deny everything else. Apply as the input filter of this family on the interface facing the source zone. Stateless: replies need the reverse filter. Generated: do not edit.
         */
        replace: filter portplan-from-admin-v6 {
            interface-specific;
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
