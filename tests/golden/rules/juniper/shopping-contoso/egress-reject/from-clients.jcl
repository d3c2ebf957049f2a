firewall {
    family inet {
        /*
         ** portplan contoso-shopping: clients to servers, IPv4, 10 terms from the flow plan, then reject everything else. Apply as the input filter of this family on the interface facing the source zone. Stateless: replies need the reverse filter. Generated: do not edit.
         */
        replace: filter portplan-from-clients {
            interface-specific;
            /*
             ** shopping-6.1/website-https (clients -> shop01; Shopping 6.1 - Communications Ports > Ports used by the Shopping Website > row 1): For browsers on clients and Shopping receivers to communicate with the Shopping Website.
             */
            term shopping-6-1-website-https-2eb95cdc {
                from {
                    source-address {
                        198.51.100.0/24;
                    }
                    destination-address {
                        192.0.2.10/32;
                    }
                    protocol tcp;
                    destination-port 8443;
                }
                then accept;
            }
            /*
             ** shopping-6.1/console-sql (admin-pc -> sql01; Shopping 6.1 - Communications Ports > Ports used by the Shopping Admin Console > row 1): Communication with a remote Shopping database.
             */
            term shopping-6-1-console-sql-bb4f2092 {
                from {
                    source-address {
                        198.51.100.5/32;
                    }
                    destination-address {
                        192.0.2.20/32;
                    }
                    protocol tcp;
                    destination-port 1433;
                }
                then accept;
            }
            /*
             ** shopping-6.1/console-cm-sql (admin-pc -> cmsql01; Shopping 6.1 - Communications Ports > Ports used by the Shopping Admin Console > row 2): Communication with the remote Configuration Manager site database if the Shopping RBAC feature is not used. RBAC uses WMI (DCOM) instead of SQL.
             */
            term shopping-6-1-console-cm-sql-f477405e {
                from {
                    source-address {
                        198.51.100.5/32;
                    }
                    destination-address {
                        192.0.2.41/32;
                    }
                    protocol tcp;
                    destination-port 1433;
                }
                then accept;
            }
            /*
             ** shopping-6.1/console-ldap (admin-pc -> dc01, dc02; Shopping 6.1 - Communications Ports > Ports used by the Shopping Admin Console > row 3): Communication with Active Directory to verify user, computer and AD groups and resolution of each user's manager and email address.
             */
            term shopping-6-1-console-ldap-7055aec8 {
                from {
                    source-address {
                        198.51.100.5/32;
                    }
                    destination-address {
                        192.0.2.31/32;
                        192.0.2.32/32;
                    }
                    protocol tcp;
                    destination-port 389;
                }
                then accept;
            }
            /*
             ** shopping-6.1/console-wmi (admin-pc -> cm01; Shopping 6.1 - Communications Ports > Ports used by the Shopping Admin Console > row 4): Required for remote access to the SMS Provider role on Configuration Manager site servers. TCP 135 and 445 are used to initiate communications and negotiate a...
             */
            term shopping-6-1-console-wmi-0d6838b2 {
                from {
                    source-address {
                        198.51.100.5/32;
                    }
                    destination-address {
                        192.0.2.40/32;
                    }
                    protocol tcp;
                    destination-port [ 135 445 49152-65535 ];
                }
                then accept;
            }
            /*
             ** shopping-6.1/console-ldaps (admin-pc -> dc01, dc02; Shopping 6.1 - Communications Ports > Ports used by the Shopping Admin Console > row 5): Communication with Active Directory
             */
            term shopping-6-1-console-ldaps-bba9b0a1 {
                from {
                    source-address {
                        198.51.100.5/32;
                    }
                    destination-address {
                        192.0.2.31/32;
                        192.0.2.32/32;
                    }
                    protocol tcp;
                    destination-port [ 636 3269 ];
                }
                then accept;
            }
            /*
             ** shopping-6.1/client-https (clients -> shop01; Shopping 6.1 - Communications Ports > Ports used by Shopping clients > row 1): For browsers on clients to communicate with the Shopping central website (Shopping Portal).
             */
            term shopping-6-1-client-https-6f27a828 {
                from {
                    source-address {
                        198.51.100.0/24;
                    }
                    destination-address {
                        192.0.2.10/32;
                    }
                    protocol tcp;
                    destination-port 8443;
                }
                then accept;
            }
            /*
             ** shopping-6.1/client-ldap (clients -> dc01, dc02; Shopping 6.1 - Communications Ports > Ports used by Shopping clients > row 3): Communication with Active Directory to verify user, computer and AD groups and resolution of each user's manager and email address.
             */
            term shopping-6-1-client-ldap-3b8ce87f {
                from {
                    source-address {
                        198.51.100.0/24;
                    }
                    destination-address {
                        192.0.2.31/32;
                        192.0.2.32/32;
                    }
                    protocol tcp;
                    destination-port 389;
                }
                then accept;
            }
            /*
             ** shopping-6.1/client-ldaps (clients -> dc01, dc02; Shopping 6.1 - Communications Ports > Ports used by Shopping clients > row 4): Communication with Active Directory.
             */
            term shopping-6-1-client-ldaps-61f35d7a {
                from {
                    source-address {
                        198.51.100.0/24;
                    }
                    destination-address {
                        192.0.2.31/32;
                        192.0.2.32/32;
                    }
                    protocol tcp;
                    destination-port [ 636 3269 ];
                }
                then accept;
            }
            /*
             ** management/rdp (admin-pc -> appclarity01, cm01, cmsql01 and 5 more; deployment management access): Remote Desktop administration of every server, kept open whatever the plan says.
             */
            term management-rdp-c1d90a6c {
                from {
                    source-address {
                        198.51.100.5/32;
                    }
                    destination-address {
                        192.0.2.10/32;
                        192.0.2.20/32;
                        192.0.2.31/32;
                        192.0.2.32/32;
                        192.0.2.40/32;
                        192.0.2.41/32;
                        192.0.2.50/32;
                        192.0.2.60/32;
                    }
                    protocol tcp;
                    destination-port 3389;
                }
                then accept;
            }
            /*
             ** everything else from clients over IPv4: not in the plan
             */
            term reject-from-clients-v4 {
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
         ** portplan contoso-shopping: clients to servers, IPv6, no terms from the flow plan, then reject everything else. Apply as the input filter of this family on the interface facing the source zone. Stateless: replies need the reverse filter. Generated: do not edit.
         */
        replace: filter portplan-from-clients-v6 {
            interface-specific;
            /*
             ** IPv6 neighbour discovery (solicitations, advertisements): without it, IPv6 does not work on the interface
             */
            term nd-from-clients-v6 {
                from {
                    next-header icmp6;
                    icmp-type [ 135 136 ];
                }
                then accept;
            }
            /*
             ** everything else from clients over IPv6: not in the plan
             */
            term reject-from-clients-v6 {
                then {
                    reject;
                }
            }
        }
    }
}
