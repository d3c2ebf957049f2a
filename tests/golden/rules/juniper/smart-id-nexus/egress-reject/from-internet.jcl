firewall {
    family inet {
        /*
         ** portplan bank-smart-id: internet to dmz, internal, IPv4, 7 terms from the flow plan, then reject everything else. Apply as the input filter of this family on the interface facing the source zone. Stateless: replies need the reverse filter. Generated: do not edit.
         */
        replace: filter portplan-from-internet {
            interface-specific;
            /*
             ** smart-id-21.04/im-operator/ingress (internet -> traefik01; Default ports in Smart ID > row 1): External TLS communication between a user client to Identity Manager Operator.
             */
            term smart-id-21-04-im-operator-ingress-cd4bc332 {
                from {
                    source-address {
                        203.0.113.128/25;
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
             ** smart-id-21.04/im-self-service/ingress (internet -> traefik01; Default ports in Smart ID > row 2): External TLS communication between a user client to Smart ID Self-Service.
             */
            term smart-id-21-04-im-self-service-ingress-0657327f {
                from {
                    source-address {
                        203.0.113.128/25;
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
             ** smart-id-21.04/im-admin/ingress (internet -> traefik01; Default ports in Smart ID > row 3): External TLS communication between a user client to the Identity Manager Admin.
             */
            term smart-id-21-04-im-admin-ingress-2f5e3d37 {
                from {
                    source-address {
                        203.0.113.128/25;
                    }
                    destination-address {
                        198.51.100.10/32;
                    }
                    protocol tcp;
                    destination-port 8443;
                }
                then accept;
            }
            /*
             ** smart-id-21.04/im-tenant/ingress (internet -> traefik01; Default ports in Smart ID > row 4): External TLS communication between a user client to the Identity Manager Tenant.
             */
            term smart-id-21-04-im-tenant-ingress-1cb89610 {
                from {
                    source-address {
                        203.0.113.128/25;
                    }
                    destination-address {
                        198.51.100.10/32;
                    }
                    protocol tcp;
                    destination-port 8443;
                }
                then accept;
            }
            /*
             ** smart-id-21.04/da-access-point (internet -> da-edge01; Default ports in Smart ID > row 11): External communication between the user client/Nexus Access Client and the Access point over SSL. Since the Access point serves as a reverse proxy, all communication to resources is tunneled over the SSL...
             */
            term smart-id-21-04-da-access-point-25b34fd5 {
                from {
                    source-address {
                        203.0.113.128/25;
                    }
                    destination-address {
                        198.51.100.20/32;
                    }
                    protocol tcp;
                    destination-port 443;
                }
                then accept;
            }
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
             ** everything else from internet over IPv4: not in the plan
             */
            term reject-from-internet-v4 {
                then {
                    reject;
                }
            }
        }
    }
}
firewall {
    family inet6 {
        /*
         ** portplan bank-smart-id: internet to dmz, internal, IPv6, no terms from the flow plan, then reject everything else. Apply as the input filter of this family on the interface facing the source zone. Stateless: replies need the reverse filter. Generated: do not edit.
         */
        replace: filter portplan-from-internet-v6 {
            interface-specific;
            /*
             ** IPv6 neighbour discovery (solicitations, advertisements): without it, IPv6 does not work on the interface
             */
            term nd-from-internet-v6 {
                from {
                    next-header icmp6;
                    icmp-type [ 135 136 ];
                }
                then accept;
            }
            /*
             ** everything else from internet over IPv6: not in the plan
             */
            term reject-from-internet-v6 {
                then {
                    reject;
                }
            }
        }
    }
}
