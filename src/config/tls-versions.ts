// The TLS protocol floors tlsMinVersion accepts (smtp/tls.ts applies the one chosen).
export const TLS_VERSIONS = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;
export type TlsVersion = (typeof TLS_VERSIONS)[number];
