firewall {
    family inet {
        /*
         ** portplan bank-smart-id-k8s: dmz to internal, IPv4, 9 terms from the flow plan, then deny everything else. Apply as the input filter of this family on the interface facing the source zone. Stateless: replies need the reverse filter. Generated: do not edit.
         */
        replace: filter portplan-from-dmz {
            interface-specific;
            /*
             ** smart-id-21.04/im-operator/backend (traefik01 -> idm01; Default ports in Smart ID > row 1): External TLS communication between a user client to Identity Manager Operator.
             */
            term smart-id-21-04-im-operator-backend-2b09dd2f {
                from {
                    source-address {
                        198.51.100.10/32;
                    }
                    destination-address {
                        192.0.2.10/32;
                    }
                    protocol tcp;
                    destination-port 7071;
                }
                then accept;
            }
            /*
             ** smart-id-21.04/im-self-service/backend (traefik01 -> idm01; Default ports in Smart ID > row 2): External TLS communication between a user client to Smart ID Self-Service.
             */
            term smart-id-21-04-im-self-service-backend-2c8816ba {
                from {
                    source-address {
                        198.51.100.10/32;
                    }
                    destination-address {
                        192.0.2.10/32;
                    }
                    protocol tcp;
                    destination-port 7072;
                }
                then accept;
            }
            /*
             ** smart-id-21.04/im-admin/backend (traefik01 -> idm01; Default ports in Smart ID > row 3): External TLS communication between a user client to the Identity Manager Admin.
             */
            term smart-id-21-04-im-admin-backend-fb4b9621 {
                from {
                    source-address {
                        198.51.100.10/32;
                    }
                    destination-address {
                        192.0.2.10/32;
                    }
                    protocol tcp;
                    destination-port 7073;
                }
                then accept;
            }
            /*
             ** smart-id-21.04/im-tenant/backend (traefik01 -> idm01; Default ports in Smart ID > row 4): External TLS communication between a user client to the Identity Manager Tenant.
             */
            term smart-id-21-04-im-tenant-backend-3a0e210a {
                from {
                    source-address {
                        198.51.100.10/32;
                    }
                    destination-address {
                        192.0.2.10/32;
                    }
                    protocol tcp;
                    destination-port 7074;
                }
                then accept;
            }
            /*
             ** smart-id-21.04/hermod/backend (traefik01 -> msg01; Default ports in Smart ID > row 9): TLS communication with Smart ID Messaging (Hermod).
             */
            term smart-id-21-04-hermod-backend-1a89f7a9 {
                from {
                    source-address {
                        198.51.100.10/32;
                    }
                    destination-address {
                        192.0.2.30/32;
                    }
                    protocol tcp;
                    destination-port 20400;
                }
                then accept;
            }
            /*
             ** smart-id-21.04/da-policy-xpi (da-edge01 -> da01; Default ports in Smart ID > row 12): Internal and external communication to the web service (XPI) interface of Hybrid Access Gateway. This communication needs to be enabled within the Policy service (Manage Systems > Policy Service). The port can...
             */
            term smart-id-21-04-da-policy-xpi-83ae1ed1 {
                from {
                    source-address {
                        198.51.100.20/32;
                    }
                    destination-address {
                        192.0.2.40/32;
                    }
                    protocol tcp;
                    destination-port 4443;
                }
                then accept;
            }
            /*
             ** smart-id-21.04/da-distribution-image (da-edge01 -> da01; Default ports in Smart ID > row 13): Internal or external communication from the Access point and any user client to the Distribution service to access the Image API. This is required to receive images the user must compare during Personal...
             */
            term smart-id-21-04-da-distribution-image-41f671d6 {
                from {
                    source-address {
                        198.51.100.20/32;
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
             ** smart-id-21.04/da-lcp-admin (da-edge01 -> da01; Default ports in Smart ID > row 16): Internal communication between all services and the Administration service over proprietary LCP protocol.
             */
            term smart-id-21-04-da-lcp-admin-cb1acfe0 {
                from {
                    source-address {
                        198.51.100.20/32;
                    }
                    destination-address {
                        192.0.2.40/32;
                    }
                    protocol tcp;
                    destination-port 8300;
                }
                then accept;
            }
            /*
             ** smart-id-21.04/da-lcp-policy-access-point (da-edge01 -> da01; Default ports in Smart ID > row 17): Internal communication between the Access point and Policy service over proprietary LCP protocol.
             */
            term smart-id-21-04-da-lcp-policy-access-point-e55b7f3e {
                from {
                    source-address {
                        198.51.100.20/32;
                    }
                    destination-address {
                        192.0.2.40/32;
                    }
                    protocol tcp;
                    destination-port 8301;
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
         ** portplan bank-smart-id-k8s: dmz to internal, IPv6, no terms from the flow plan, then deny everything else. Apply as the input filter of this family on the interface facing the source zone. Stateless: replies need the reverse filter. Generated: do not edit.
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
