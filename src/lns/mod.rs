//! LNS role driver: accepts tunnels from LACs and LAC clients, terminates PPP,
//! assigns addresses and routes subscriber IP through TUN.
