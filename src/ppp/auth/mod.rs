//! PPP authentication cores (RFC 1334 PAP, RFC 1994 CHAP, RFC 2759
//! MS-CHAPv2), server and client side. Being written.
