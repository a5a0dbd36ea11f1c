//! Virtual-time tests of the LNS role on the node core (issue 13): a LAC
//! node core and an LNS node core, with subscribers in front of the LAC.
